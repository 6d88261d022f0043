import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { inject } from 'vitest';

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'histories');

/**
 * Replays a finished workflow's history against the current workflow code and, when
 * PATCHFLOW_RECORD_HISTORIES=1, saves it as tests/histories/<name>.json for the replay test to
 * check every later change against.
 */
export async function saveHistory(handle: WorkflowHandle, name: string): Promise<void> {
  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, handle.workflowId);
  if (process.env.PATCHFLOW_RECORD_HISTORIES === '1') {
    fs.mkdirSync(HISTORIES_DIR, { recursive: true });
    fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), historyToJSON(history));
  }
}

/**
 * The recorded histories: `name` is the file's, `workflowId` the recorded workflow's own (its
 * child workflow ids derive from it, so a replay must use it).
 */
export function savedHistories(): { name: string; workflowId: string; history: ReturnType<typeof historyFromJSON> }[] {
  if (!fs.existsSync(HISTORIES_DIR)) return [];
  return fs
    .readdirSync(HISTORIES_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const name = path.basename(file, '.json');
      const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
      const workflowId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId || name;
      return { name, workflowId, history };
    });
}

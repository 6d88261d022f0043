import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { WorkflowHandle } from '@temporalio/client';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { inject } from 'vitest';

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'histories');
/** Histories larger than this (as JSON) are saved gzipped. */
const LARGE = 1_000_000;

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
    const json = historyToJSON(history);
    // the long ones (a patch that continued as new) are kept compressed
    if (json.length > LARGE) fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json.gz`), zlib.gzipSync(json));
    else fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), json);
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
    .filter((file) => file.endsWith('.json') || file.endsWith('.json.gz'))
    .sort()
    .map((file) => {
      const name = file.replace(/\.json(\.gz)?$/, '');
      const raw = fs.readFileSync(path.join(HISTORIES_DIR, file));
      const history = historyFromJSON(JSON.parse((file.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString('utf8')));
      const workflowId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId || name;
      return { name, workflowId, history };
    });
}

import { Worker } from '@temporalio/worker';
import { expect, inject, it } from 'vitest';
import { savedHistories } from '../helpers/histories';

/** Every recorded history must replay against today's workflow code (determinism check). */
it('replays every saved workflow history without nondeterminism', async () => {
  const histories = savedHistories();
  expect(histories.length).toBeGreaterThan(0);
  const results = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
    const { name } = histories.find((h) => h.workflowId === result.workflowId)!;
    results.push({ name, error: result.error ? String(result.error) : undefined });
  }
  expect(results).toEqual(histories.map((h) => ({ name: h.name, error: undefined })));
});

import { Worker } from '@temporalio/worker';
import { expect, inject, it } from 'vitest';
import { savedHistories } from '../helpers/histories';

/** Every recorded history must replay against today's workflow code (determinism check). */
it('replays every saved workflow history without nondeterminism', async () => {
  const histories = savedHistories();
  expect(histories.length).toBeGreaterThan(0);
  const results = [];
  // one at a time: the runs of one patch that continued as new share their workflow id
  for (const { name, workflowId, history } of histories) {
    const replayed = Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, workflowId);
    results.push({
      name,
      error: await replayed.then(
        () => undefined,
        (err: unknown) => String(err),
      ),
    });
  }
  expect(results).toEqual(histories.map((h) => ({ name: h.name, error: undefined })));
});

/**
 * Operator rollback (docs/process.md, step 6, and the `rollback` action): every host this patch
 * changed, newest wave first, back to the versions it had. Maintenance windows do not delay a
 * rollback.
 */
import { continueAsNew, workflowInfo } from '@temporalio/workflow';
import { deployment, rollbackHost } from './host-pipeline';
import { HOSTS_PER_RUN, PAGE } from './host-wave';

export interface RollbackInput {
  patchId: string;
  maxConcurrent: number;
  /** Hosts this workflow already tried (continue-as-new): a host whose rollback failed is not tried again. */
  tried?: string[];
  counts?: Record<string, number>;
}

export async function rollbackHosts(input: RollbackInput): Promise<{ counts: Record<string, number> }> {
  const tried = new Set(input.tried);
  const counts = input.counts ?? {};
  let startedHere = 0;
  for (;;) {
    const batch = (await deployment.changedHosts({ patchId: input.patchId, limit: tried.size + PAGE })).filter(
      (h) => !tried.has(h.assetId),
    );
    if (batch.length === 0) return { counts };
    if (startedHere >= HOSTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof rollbackHosts>({ ...input, tried: [...tried], counts });
    }
    const slice = batch.slice(0, PAGE);
    for (let i = 0; i < slice.length; i += input.maxConcurrent) {
      await Promise.all(
        slice.slice(i, i + input.maxConcurrent).map(async (host) => {
          tried.add(host.assetId);
          startedHere++;
          const result = await rollbackHost(host, host);
          counts[result.status] = (counts[result.status] ?? 0) + 1;
        }),
      );
    }
  }
}

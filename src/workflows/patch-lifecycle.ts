import { CancellationScope, isCancellation, setHandler } from '@temporalio/workflow';
import { initialStatus, type PatchRequest, type PatchStatus } from '../domain/patch';
import { statusQuery } from './definitions';

/**
 * One patch, end to end (PRODUCT §2). The API starts it with the operator's request and the
 * search attributes; every reader gets the status from the `status` query.
 *
 * So far the workflow opens the patch in the assessment phase and holds it there: assessment,
 * review, approval and the rollout phases arrive one by one, each as a real step.
 * Cancelling the workflow (Temporal cancellation) closes the patch with outcome `cancelled`.
 */
export async function patchLifecycle(request: PatchRequest): Promise<PatchStatus> {
  const status = initialStatus(request);
  setHandler(statusQuery, () => status);

  try {
    await CancellationScope.current().cancelRequested;
    return status;
  } catch (err) {
    if (!isCancellation(err)) throw err;
    status.state = 'done';
    status.outcome = 'cancelled';
    return status;
  }
}

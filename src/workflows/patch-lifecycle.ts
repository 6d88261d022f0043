import {
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { initialStatus, type PatchRequest, type PatchStatus, type Phase } from '../domain/patch';
import { statusQuery } from './definitions';
import { PatchPhase, PatchPriority } from './search-attributes';

const { assess } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumInterval: '1 minute' },
});

/**
 * One patch, end to end (PRODUCT §2). The API starts it with the operator's request and the
 * search attributes; every reader gets the status from the `status` query.
 *
 * Assessment matches the advisories against the inventory and sets priority and deadlines; a
 * patch that affects nothing ends `not-applicable`. The patch then waits in peer review, whose
 * decisions arrive with the governance work. Cancelling the workflow (Temporal cancellation)
 * closes the patch with outcome `cancelled`.
 */
export async function patchLifecycle(request: PatchRequest): Promise<PatchStatus> {
  const status = initialStatus(request);
  setHandler(statusQuery, () => status);

  const enterPhase = (phase: Phase) => {
    status.phase = phase;
    upsertSearchAttributes([{ key: PatchPhase, value: phase }]);
  };

  try {
    // Patches started before assessment existed stay where they were (replay safety).
    if (patched('assessment-v1')) {
      const assessment = await assess({ patchId: request.id, advisoryIds: request.advisoryIds });
      status.cves = assessment.cves;
      status.targets = assessment.targets;
      if (assessment.affectedAssets === 0) {
        status.priorityReasons = ['No asset in the inventory is affected by these advisories'];
        status.state = 'done';
        status.outcome = 'not-applicable';
        enterPhase('completed');
        return status;
      }
      status.priority = assessment.priority;
      status.priorityReasons = assessment.priorityReasons;
      status.deadlines = assessment.deadlines;
      upsertSearchAttributes([{ key: PatchPriority, value: assessment.priority }]);
      enterPhase('peer-review');
      status.state = 'waiting';
    }
    await CancellationScope.current().cancelRequested;
    return status;
  } catch (err) {
    if (!isCancellation(err)) throw err;
    status.state = 'done';
    status.outcome = 'cancelled';
    return status;
  }
}

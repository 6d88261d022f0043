/** How a patch's workflow is started, by the API and by tests that drive the workflow directly. */
import type { WorkflowStartOptions } from '@temporalio/client';
import { workflowIdFor, type PatchRequest } from '../domain/patch';
import type { patchLifecycle } from '../workflows';
import { PatchAdvisories, PatchEmergency, PatchId, PatchPhase, PatchState } from '../workflows/search-attributes';

/**
 * The request as the workflow's input, with the search attributes and memo that list the patch
 * from its first moment, and the public keys whose signed updates it will accept: the API's own
 * (docs/security.md, "Decisions that cannot be forged"). Without keys a patch would take
 * unsigned updates, as patches from before signed updates do, so they are required here.
 */
export function patchStartOptions(
  request: PatchRequest,
  taskQueue: string,
  trustedKeys: string[],
): WorkflowStartOptions<typeof patchLifecycle> {
  if (trustedKeys.length === 0) throw new RangeError('a patch trusts at least one key');
  return {
    taskQueue,
    workflowId: workflowIdFor(request.id),
    args: [{ ...request, trustedKeys }],
    typedSearchAttributes: [
      { key: PatchId, value: request.id },
      { key: PatchPhase, value: 'assessment' },
      { key: PatchEmergency, value: request.emergency },
      { key: PatchAdvisories, value: request.advisoryIds },
      { key: PatchState, value: 'running' },
    ],
    memo: { title: request.title, requestedBy: request.requestedBy.name },
  };
}

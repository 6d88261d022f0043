/**
 * Signs host work orders (docs/security.md, "Work orders that cannot be forged") with the
 * worker's `work-orders` key, and only what patchflow's own records allow: anyone who can start
 * a workflow could ask this activity for a signature, so it checks the request against
 * PostgreSQL (which only patchflow writes), never against what the workflow says.
 */
import crypto from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { approvedThroughApi, deploymentHost } from '../db/work-orders';
import {
  describePackages,
  newWorkOrder,
  samePackages,
  signWorkOrder,
  sortPackages,
  WORK_OPERATIONS,
  type SignedWorkOrder,
  type WorkOrderRequest,
} from '../domain/work-order';
import type { WorkerActivityDeps } from './index';

export const WORK_ORDER_REFUSED = 'WorkOrderRefused';

/**
 * The audit record of an approval is written just after the API has answered, so a lab that
 * starts at once may look before it is there: missing, it is looked for again on the first
 * attempts (1 s and 2 s later with the pipeline's retry policy), then refused.
 */
const APPROVAL_LOOKUPS = 3;

const refuse = (message: string) => ApplicationFailure.nonRetryable(`work order refused: ${message}`, WORK_ORDER_REFUSED);

export function createWorkOrderActivities({ pool, logger, workOrderKey }: WorkerActivityDeps) {
  return {
    /**
     * A signed order for one operation on one host: the host is in the patch's deployment, the
     * packages are that row's (for a rollback: its recorded previous versions), a reboot follows
     * an install that asked for one, and the patch was approved through the API.
     */
    async signWorkOrder(request: WorkOrderRequest): Promise<SignedWorkOrder> {
      const { patchId, assetId, operation } = request;
      if (!(WORK_OPERATIONS as readonly string[]).includes(operation)) throw refuse(`unknown operation ${String(operation)}`);
      if (!Number.isInteger(request.attempt) || request.attempt < 1) throw refuse(`attempt ${request.attempt} is not a positive integer`);
      const host = await deploymentHost(pool, patchId, assetId);
      if (!host) throw refuse(`${assetId} is not in the deployment of patch ${patchId}`);
      const recorded = sortPackages(
        Object.entries(operation === 'rollback' ? host.previousVersions : host.packages).map(([name, version]) => ({ name, version })),
      );
      if (!samePackages(request.packages, recorded)) {
        const what = operation === 'rollback' ? 'the versions recorded before the patch changed it' : 'the versions the patch installs';
        throw refuse(`${describePackages(sortPackages(request.packages))} for ${assetId} are not ${what} (${describePackages(recorded)})`);
      }
      if (operation === 'reboot' && host.status !== 'rebooting')
        throw refuse(`${assetId} is ${host.status}: only an install that needs a reboot is followed by one`);
      const info = Context.current().info;
      const workflowId = info.workflowExecution?.workflowId;
      if (!workflowId) throw refuse('only a workflow can ask for a work order');
      if (!(await approvedThroughApi(pool, patchId))) {
        const message = `patch ${patchId} was never approved through the API`;
        if (info.attempt < APPROVAL_LOOKUPS)
          throw ApplicationFailure.retryable(`${message} (looking again: the audit record follows the answer)`, 'NotYetApproved');
        throw refuse(message);
      }
      // the wall clock, not the workflow's: the agent judges the expiry by its own clock
      const order = newWorkOrder(request, { id: crypto.randomUUID(), workflowId, now: Date.now() });
      logger.info({ patchId, assetId, operation, orderId: order.id, expiresAt: order.expiresAt }, 'work order signed');
      return signWorkOrder(order, workOrderKey.secretKey);
    },
  };
}

export type WorkOrderActivities = ReturnType<typeof createWorkOrderActivities>;

/**
 * The per-host pipeline (docs/process.md, step 7), shared by every batch of hosts: the lab and
 * the production waves (`hostWave`), the lab's rollback proof, straggler retries and the
 * operator's rollback (`rollbackHosts`). Each call goes to the simulated fleet on the shared
 * queue, or to the host's own agent, which changes its host only on a work order the worker
 * signs for that call (docs/security.md, "Work orders that cannot be forged").
 */
import {
  type ActivityOptions,
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { DeploymentActivities } from '../activities/deployment-contract';
import type { WorkOrderActivities } from '../activities/work-orders';
import type { ConnectorName } from '../domain/asset';
import type { ConnectorActivities } from '../connectors/contract';
import { hostTaskQueue } from '../connectors/contract';
import { INFRASTRUCTURE_UNAVAILABLE, type HostResult, type HostStatus, type HostWork } from '../domain/deployment';
import { workOrderRequest, type SignedWorkOrder, type WorkOperation } from '../domain/work-order';

/** The deployment records a batch of hosts writes. */
export const deployment = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30 seconds' },
});

/** The signing activity: a refusal is non-retryable (the host fails with its reason). */
const workOrders = proxyActivities<WorkOrderActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30 seconds' },
});

type Host = { assetId: string; connector: ConnectorName };

type OrderedCall = 'deployHost' | 'rebootHost' | 'postCheckHost' | 'rollbackHost';
const OPERATION: Record<OrderedCall, WorkOperation> = {
  deployHost: 'deploy',
  rebootHost: 'reboot',
  postCheckHost: 'post-check',
  rollbackHost: 'rollback',
};

/**
 * Makes a call that changes a host. An agent gets a work order signed for it first (asked for
 * right before each call, and again when the call is made again after an outage); the simulated
 * connector runs inside patchflow's own worker and gets none, and its call is made at once,
 * without an await in between, so its commands come in the order they always did. `within`
 * runs the call in a cancellation scope.
 */
function callHost(
  host: Host,
  connector: ConnectorActivities,
  call: OrderedCall,
  work: HostWork,
  within: (fn: () => Promise<HostResult>) => Promise<HostResult> = (fn) => fn(),
): Promise<HostResult> {
  // runs recorded before orders existed called agents without one
  if (host.connector !== 'agent' || !patched('signed-work-orders')) return within(() => connector[call](work));
  return workOrders
    .signWorkOrder(workOrderRequest(OPERATION[call], work))
    .then((order: SignedWorkOrder) => within(() => connector[call](work, order)));
}

const HOST_CALLS: ActivityOptions = {
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
  // an abort reaches a call through its heartbeats; a host whose install has begun finishes it
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/** The pipeline's activities for a host: the shared queue (simulated), or the host's own agent. */
export function connectorFor(host: { assetId: string; connector: ConnectorName }): ConnectorActivities {
  if (host.connector === 'simulated') return proxyActivities<ConnectorActivities>(HOST_CALLS);
  // no agent polling the host's queue within two minutes: the host is unreachable
  return proxyActivities<ConnectorActivities>({
    ...HOST_CALLS,
    taskQueue: hostTaskQueue(host.assetId),
    scheduleToStartTimeout: '2 minutes',
  });
}

/** Waiting for a rebooting host: long, heartbeated, never counted a failure while it beats. */
function awaitingConnector(host: { assetId: string; connector: ConnectorName }): ConnectorActivities {
  const options: ActivityOptions = { ...HOST_CALLS, startToCloseTimeout: '6 hours', retry: { ...HOST_CALLS.retry, maximumAttempts: 3 } };
  return proxyActivities<ConnectorActivities>(
    host.connector === 'simulated' ? options : { ...options, taskQueue: hostTaskQueue(host.assetId) },
  );
}

/** Why a call failed after its retries, as a host status and reason. */
export function failedCall(err: unknown, step: string): HostResult {
  const noAgent = err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START';
  if (noAgent) return { status: 'unreachable', reason: `${step}: no agent answered on its task queue`, steps: [] };
  const cause = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
  return { status: 'failed', reason: `${step}: ${cause}`, steps: [] };
}

/**
 * The hosts of one batch that are waiting out an outage of patchflow's own database: `tell`
 * hears when the first begins waiting and when the last is through.
 */
export class Outages {
  private waiting = 0;

  constructor(private readonly tell: (waiting: boolean, reason: string) => Promise<void>) {}

  async begin(reason: string): Promise<void> {
    if (this.waiting++ === 0) await this.tell(true, reason);
  }

  async end(): Promise<void> {
    if (--this.waiting === 0) await this.tell(false, '');
  }
}

const isOutage = (err: unknown) =>
  err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === INFRASTRUCTURE_UNAVAILABLE;

/**
 * Makes `call` until it gets past outages of patchflow's own database: those are waited out with
 * a growing pause (5 s to 1 min), for as long as they last, and never become the host's failure.
 * The call is idempotent on (patch, asset, attempt), so making it again changes nothing twice.
 */
export async function pastOutages<T>(call: () => Promise<T>, outages?: Outages): Promise<T> {
  let pause = 5_000;
  let waiting = false;
  try {
    for (;;) {
      try {
        return await call();
      } catch (err) {
        // runs recorded before this waited out nothing: the host failed with the database
        if (!isOutage(err) || !patched('infrastructure-outages-waited-out')) throw err;
        if (!waiting) await outages?.begin((err as ActivityFailure).cause!.message);
        waiting = true;
        await sleep(pause);
        pause = Math.min(pause * 2, 60_000);
      }
    }
  } finally {
    if (waiting) await outages?.end();
  }
}

/** Runs one host's pipeline call and records what an agent reports (the simulated connector records its own). */
export async function hostCall(
  host: { assetId: string; connector: ConnectorName },
  work: HostWork,
  step: string,
  call: () => Promise<HostResult>,
  outages?: Outages,
): Promise<HostResult> {
  let result: HostResult;
  try {
    result = await pastOutages(call, outages);
  } catch (err) {
    if (isCancellation(err)) throw err;
    result = failedCall(err, step);
    await deployment.markHost({
      patchId: work.patchId,
      assetId: work.assetId,
      status: result.status as HostStatus,
      reason: result.reason ?? null,
    });
    return result;
  }
  if (host.connector === 'agent') await deployment.recordHostSteps({ work, result });
  return result;
}

/**
 * precheck … install (cancellable until the install begins), then reboot → await → post-check
 * as durable steps of their own that an abort lets finish.
 */
export async function runPipeline(
  host: { assetId: string; connector: ConnectorName },
  work: HostWork,
  { starting, outages }: { starting?: CancellationScope; outages?: Outages } = {},
): Promise<HostStatus> {
  const connector = connectorFor(host);
  let result: HostResult;
  try {
    // only the connector call is cancellable: what it reports is recorded whatever happens
    result = await hostCall(
      host,
      work,
      'deploy',
      () => callHost(host, connector, 'deployHost', work, starting && ((fn) => starting.run(fn))),
      outages,
    );
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await deployment.markHost({
      patchId: work.patchId,
      assetId: work.assetId,
      status: 'pending',
      reason: 'the rollout was aborted before this host was changed',
    });
    return 'pending';
  }
  if (result.status !== 'reboot-required') return result.status;
  return CancellationScope.nonCancellable(async () => {
    const rebooted = await hostCall(host, work, 'reboot', () => callHost(host, connector, 'rebootHost', work), outages);
    if (rebooted.status !== 'reboot-required' && rebooted.status !== 'installed') return rebooted.status;
    const back = await hostCall(host, work, 'await', () => awaitingConnector(host).awaitHost(work), outages);
    if (back.status !== 'reboot-required' && back.status !== 'installed') return back.status;
    const checked = await hostCall(host, work, 'post-check', () => callHost(host, connector, 'postCheckHost', work), outages);
    return checked.status as HostStatus;
  });
}

/** Takes a host back to the versions it had before this patch (`work.previousVersions`), and records it. */
export async function rollbackHost(host: Host, work: HostWork, outages?: Outages): Promise<HostResult> {
  return hostCall(host, work, 'rollback', () => callHost(host, connectorFor(host), 'rollbackHost', work), outages);
}

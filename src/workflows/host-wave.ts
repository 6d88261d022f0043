/**
 * One wave of hosts (docs/process.md, steps 6–7): a child workflow of the patch, so a large rollout
 * spreads over many small histories. It pages through its hosts in the strategy's order and runs
 * the per-host pipeline on each, honouring the disruption budget: at most `maxConcurrent` hosts
 * and `maxPerGroup` members of one redundancy group in flight, maintenance windows, no further
 * member of a group after one of them failed, and a halt once the failures pass the budget.
 * Every few hundred hosts it continues as new with what it has learned.
 */
import {
  type ActivityOptions,
  ActivityCancellationType,
  ActivityFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeploymentActivities } from '../activities/deployment-contract';
import type { ConnectorName } from '../domain/asset';
import type { ConnectorActivities } from '../connectors/contract';
import { hostTaskQueue } from '../connectors/contract';
import {
  BUDGET_FAILURES,
  mayStartNow,
  type HostResult,
  type HostStatus,
  type HostWork,
  type WaveHost,
  type WaveSelector,
} from '../domain/deployment';
import { waveControlSignal } from './definitions';

/** Hosts one run starts at most before it continues as new. */
export const HOSTS_PER_RUN = 1000;
/**
 * A run starts no host once its history has this many events; the hosts in flight then finish
 * (at most ~16 events each: four calls with a reboot), so no run comes near 10,000 events.
 */
const historyBudget = (maxConcurrent: number) => Math.max(1000, 8000 - 16 * maxConcurrent);
const PAGE = 100;

export interface WaveInput {
  selector: WaveSelector;
  /** The workflow's attempt at these hosts: 1, then one more per straggler retry. */
  attempt: number;
  maxConcurrent: number;
  maxPerGroup: number;
  /** Budget failures tolerated; one more halts the wave. null: no budget (straggler retries). */
  budget: number | null;
  bypassWindows: boolean;
  /** What earlier runs of this wave learned (continue-as-new). */
  carry?: WaveCarry;
}

interface WaveCarry {
  after: number;
  /** Hosts whose window had not opened, with when it opens; swept again once the sweep is done. */
  waiting: [string, string][];
  /** Sweeping only the waiting hosts. */
  rescan: boolean;
  stoppedGroups: string[];
  failures: number;
  counts: Record<string, number>;
  paused: boolean;
}

export interface WaveResult {
  status: 'done' | 'halted' | 'aborted';
  failures: number;
  /** Outcomes of the hosts this wave ran or held, by status. */
  counts: Record<string, number>;
  reason?: string;
}

const deployment = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumInterval: '30 seconds' },
});

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

/** Runs one host's pipeline call and records what an agent reports (the simulated connector records its own). */
export async function hostCall(
  host: { assetId: string; connector: ConnectorName },
  work: HostWork,
  step: string,
  call: () => Promise<HostResult>,
): Promise<HostResult> {
  let result: HostResult;
  try {
    result = await call();
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

export async function hostWave(input: WaveInput): Promise<WaveResult> {
  const { selector, attempt, maxConcurrent, maxPerGroup, budget, bypassWindows } = input;
  const carry: WaveCarry = input.carry ?? {
    after: -1,
    waiting: [],
    rescan: false,
    stoppedGroups: [],
    failures: 0,
    counts: {},
    paused: false,
  };
  // a host starts only while its window leaves `minWindowRemaining`, judged when it starts, not when it was queued
  const windowsAtStart = patched('windows-at-start');
  const waiting = new Map(carry.waiting);
  const stoppedGroups = new Set(carry.stoppedGroups);
  let { after, rescan, failures, paused } = carry;
  const counts = carry.counts;
  let aborted = false;
  let halted: string | undefined;

  // a cancellation of this scope reaches the installs in flight through their heartbeats
  const starting = new CancellationScope();
  setHandler(waveControlSignal, (control) => {
    if (control === 'pause') paused = true;
    else if (control === 'resume') paused = false;
    else {
      aborted = true;
      starting.cancel();
    }
  });

  const inFlight = new Map<string, string | null>();
  const groupLoad = (group: string | null) => (group ? [...inFlight.values()].filter((g) => g === group).length : 0);
  let finished = 0;
  const count = (status: string) => (counts[status] = (counts[status] ?? 0) + 1);

  const hold = async (host: WaveHost, reason: string) => {
    await deployment.markHost({ patchId: selector.patchId, assetId: host.assetId, status: 'pending', reason });
    count('held');
  };

  const run = async (host: WaveHost) => {
    inFlight.set(host.assetId, host.redundancyGroup);
    try {
      const status = await runPipeline(
        host,
        { patchId: selector.patchId, assetId: host.assetId, attempt, packages: host.packages },
        starting,
      );
      count(status);
      if (BUDGET_FAILURES.includes(status)) {
        failures++;
        if (host.redundancyGroup) stoppedGroups.add(host.redundancyGroup);
        if (budget !== null && failures > budget && !halted)
          halted = `${failures} host(s) failed in this wave; the budget allows ${budget}`;
      }
    } finally {
      inFlight.delete(host.assetId);
      finished++;
    }
  };

  const startedHere = new Set<string>();
  let queue: WaveHost[] = [];
  let exhausted = false;
  const stopStarting = () => aborted || halted !== undefined;

  for (;;) {
    if (stopStarting()) break;
    if (paused) {
      await condition(() => !paused || aborted);
      continue;
    }
    const info = workflowInfo();
    const timeToContinue =
      startedHere.size >= HOSTS_PER_RUN || info.historyLength >= historyBudget(maxConcurrent) || info.continueAsNewSuggested;
    if (timeToContinue && !selector.stragglersOnly && queue.length > 0) {
      // hand the hosts not started yet to the next run: it fetches them again (the ones that ran have an outcome)
      after = Math.min(...queue.map((h) => h.position)) - 1;
      queue = [];
      exhausted = false;
    }
    if (queue.length < maxConcurrent && !exhausted && !timeToContinue) {
      const at = windowsAtStart ? { at: new Date().toISOString() } : {};
      const page = await deployment.waveHosts({ ...selector, after, limit: PAGE, bypassWindows, ...at });
      if (page.length < PAGE) exhausted = true;
      if (page.length > 0) after = page[page.length - 1]!.position;
      for (const host of page) {
        const now = Date.now();
        if (rescan && !waiting.has(host.assetId)) continue;
        if (!selector.stragglersOnly && !['pending', 'in-progress', 'rebooting'].includes(host.status)) continue;
        waiting.delete(host.assetId);
        if (host.redundancyGroup && stoppedGroups.has(host.redundancyGroup)) {
          await hold(host, `held: another member of ${host.redundancyGroup} failed in this patch`);
        } else if (host.window === null) {
          await hold(host, 'no maintenance window opens before the planning horizon');
        } else if (Date.parse(host.window.opensAt) > now) {
          waiting.set(host.assetId, host.window.opensAt);
        } else {
          queue.push(host);
        }
      }
      continue;
    }
    const next =
      inFlight.size < maxConcurrent ? queue.findIndex((h) => !h.redundancyGroup || groupLoad(h.redundancyGroup) < maxPerGroup) : -1;
    if (next >= 0) {
      const host = queue.splice(next, 1)[0]!;
      if (host.redundancyGroup && stoppedGroups.has(host.redundancyGroup)) {
        await hold(host, `held: another member of ${host.redundancyGroup} failed in this patch`);
        continue;
      }
      if (windowsAtStart && !mayStartNow(host.window, Date.now())) {
        // its window closes too soon (or a freeze begins): look again once it has closed
        waiting.set(host.assetId, host.window?.closesAt ?? new Date().toISOString());
        continue;
      }
      startedHere.add(host.assetId);
      void run(host);
      continue;
    }
    if (queue.length === 0 && inFlight.size === 0) {
      if (!exhausted) {
        // every host fetched so far is done: a fresh run carries on from here
        await continueAsNew<typeof hostWave>({
          ...input,
          carry: { after, waiting: [...waiting], rescan, stoppedGroups: [...stoppedGroups], failures, counts, paused },
        });
      }
      if (waiting.size === 0) break;
      // the sweep is over; wait for the earliest window and sweep the waiting hosts again
      const opens = Math.min(...[...waiting.values()].map((at) => Date.parse(at)));
      await condition(() => aborted || paused, Math.max(opens - Date.now(), 1));
      if (stopStarting() || paused) continue;
      after = -1;
      rescan = true;
      exhausted = false;
      continue;
    }
    const seen = finished;
    await condition(() => finished !== seen || stopStarting() || paused);
  }

  // start no more; the hosts in flight finish (or stop before their install when aborted)
  await condition(() => inFlight.size === 0);
  for (const host of queue) if (aborted) await hold(host, 'the rollout was aborted before this host started');
  if (aborted) return { status: 'aborted', failures, counts };
  if (halted) return { status: 'halted', failures, counts, reason: halted };
  return { status: 'done', failures, counts };
}

/**
 * precheck … install (cancellable until the install begins), then reboot → await → post-check
 * as durable steps of their own that an abort lets finish.
 */
export async function runPipeline(
  host: { assetId: string; connector: ConnectorName },
  work: HostWork,
  starting?: CancellationScope,
): Promise<HostStatus> {
  const connector = connectorFor(host);
  let result: HostResult;
  try {
    // only the connector call is cancellable: what it reports is recorded whatever happens
    result = await hostCall(host, work, 'deploy', () =>
      starting ? starting.run(() => connector.deployHost(work)) : connector.deployHost(work),
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
    const rebooted = await hostCall(host, work, 'reboot', () => connector.rebootHost(work));
    if (rebooted.status !== 'reboot-required' && rebooted.status !== 'installed') return rebooted.status;
    const back = await hostCall(host, work, 'await', () => awaitingConnector(host).awaitHost(work));
    if (back.status !== 'reboot-required' && back.status !== 'installed') return back.status;
    const checked = await hostCall(host, work, 'post-check', () => connector.postCheckHost(work));
    return checked.status as HostStatus;
  });
}

export interface RollbackInput {
  patchId: string;
  maxConcurrent: number;
  /** Hosts this workflow already tried (continue-as-new): a host whose rollback failed is not tried again. */
  tried?: string[];
  counts?: Record<string, number>;
}

/**
 * Operator rollback (docs/process.md, step 6, and the `rollback` action): every host this patch changed,
 * newest wave first, back to the versions it had. Maintenance windows do not delay a rollback.
 */
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
          const result = await hostCall(host, host, 'rollback', () => connectorFor(host).rollbackHost(host));
          counts[result.status] = (counts[result.status] ?? 0) + 1;
        }),
      );
    }
  }
}

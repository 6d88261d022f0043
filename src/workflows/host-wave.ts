/**
 * One wave of hosts (docs/process.md, steps 6–7): a child workflow of the patch, so a large rollout
 * spreads over many small histories. It pages through its hosts in the strategy's order and runs
 * the per-host pipeline on each, honouring the disruption budget: at most `maxConcurrent` hosts
 * and `maxPerGroup` members of one redundancy group in flight, maintenance windows, no further
 * member of a group after one of them failed, and a halt once the failures pass the budget.
 * Every few hundred hosts it continues as new with what it has learned.
 */
import {
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { BUDGET_FAILURES, mayStartNow, type WaveHost, type WaveSelector } from '../domain/deployment';
import { outageSignal, waveControlSignal } from './definitions';
import { deployment, Outages, runPipeline } from './host-pipeline';

/** Hosts one run starts at most before it continues as new. */
export const HOSTS_PER_RUN = 1000;
/**
 * A run starts no host once its history has this many events; the hosts in flight then finish
 * (at most ~16 events each: four calls with a reboot; an agent host's three work orders add 9),
 * so no run comes near 10,000 events unless hundreds of agent hosts are in flight at once.
 */
const historyBudget = (maxConcurrent: number) => Math.max(1000, 8000 - 16 * maxConcurrent);
export const PAGE = 100;

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

  // the patch says it is waiting for infrastructure while any host here waits out an outage of patchflow
  const outages = new Outages(async (waiting, reason) => {
    const parent = workflowInfo().parent;
    if (parent) await getExternalWorkflowHandle(parent.workflowId).signal(outageSignal, { waiting, reason });
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
        { starting, outages },
      );
      const closesAt = host.window?.closesAt;
      if (closesAt && Date.now() > Date.parse(closesAt) && patched('record-window-overrun')) {
        const at = new Date().toISOString();
        await deployment.recordOverrun({ patchId: selector.patchId, assetId: host.assetId, attempt, windowClosedAt: closesAt, at });
      }
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
      // windows as they stand in the workflow's time (simulated time in tests)
      const page = await deployment.waveHosts({ ...selector, after, limit: PAGE, bypassWindows, at: new Date().toISOString() });
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
      // judged when it starts, not when it was queued: a host queued behind maxConcurrent may have missed its window
      if (!mayStartNow(host.window, Date.now())) {
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

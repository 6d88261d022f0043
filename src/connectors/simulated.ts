/**
 * The `simulated` connector (docs/process.md, step 7): the per-host pipeline against the inventory
 * instead of a real host. The asset's `simulation` flags inject faults; a successful install
 * changes the asset's package versions, exactly as a rescan of a patched host would.
 *
 * Each host's pipeline is a resumable stage machine over `deployment_hosts.stage` (new →
 * prepared → changed → rebooted → done) within the workflow's attempt. Every transition is a
 * conditional update in the same transaction as its step records (and, for an install or a
 * rollback, the inventory change): a retried or duplicated call resumes from the stage it finds
 * and never does a step twice.
 *
 * Its records (step times, the host row's times, a reboot's return) are on the activity's clock
 * (`activityNow`, src/activities/clock.ts): the workflow's time on a time-skipping test server.
 * Only the time a step takes (`busy`) is spent in real time.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { z } from 'zod';
import type { PoolClient } from 'pg';
import type { ActivityDeps } from '../activities';
import { activityNow } from '../activities/clock';
import { planPackageSetChange, setAssetPackages, type StoredPackages } from '../db/assets';
import {
  appendSteps,
  beginAttemptWithInventory,
  claimRollback,
  hasStep,
  hostInventory,
  type HostInventory,
  hostState,
  installAndMoveHost,
  moveHost,
  moveHostWithSteps,
  type HostState,
  type HostUpdate,
  type Stage,
} from '../db/deployments';
import { inTransaction } from '../db/transaction';
import { packageVersionScheme, Simulation } from '../domain/asset';
import type { PackageChange, StepRecord } from '../domain/host-record';
import {
  HOST_OUTCOMES,
  needsReboot,
  roleTestPlan,
  type HostOutcome,
  type HostResult,
  type HostStatus,
  type HostWork,
  type PackageTarget,
  type PipelineStep,
} from '../domain/deployment';
import { compareVersions } from '../domain/versions';
import type { ConnectorActivities } from './contract';

/** Heartbeats at least this often while a step takes time. */
const HEARTBEAT_MS = 500;
/** The shortest time a rebooting host stays away. */
const MIN_REBOOT_MS = 200;

type Key = { patchId: string; assetId: string; attempt: number };

interface Inspection {
  simulation: z.output<typeof Simulation>;
  below: { name: string; from: string; to: string }[];
  /** The packages as read, for an install that changes them only if nothing else has since. */
  stored: StoredPackages;
}

/** The transaction lost the race: another call already moved the host on. */
const LOST = Symbol('lost');

/** Thrown inside a transaction to roll it back when the race is lost; `transaction` turns it into LOST. */
class LostRace extends Error {}

const record = (step: PipelineStep, ok: boolean, detail: string, changes?: PackageChange[]): StepRecord => ({
  step,
  ok,
  detail,
  ...(changes ? { changes } : {}),
  at: activityNow().toISOString(),
});

const listChanges = (changes: { name: string; from: string | null; to: string | null }[]) =>
  changes.map((c) => `${c.name} ${c.from ?? '(none)'} → ${c.to ?? '(none)'}`).join(', ');

/** Busy for `ms`, heartbeating; a cancellation does not interrupt it. */
async function busy(ms: number): Promise<void> {
  const ctx = Context.current();
  const end = Date.now() + ms;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) return;
    ctx.heartbeat();
    await delay(Math.min(left, HEARTBEAT_MS));
  }
}

/** The last points a cancellation is honoured: before the precheck and before the install. */
function honourCancellation(): void {
  const ctx = Context.current();
  ctx.heartbeat();
  if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled before the install began');
}

const isOutcome = (status: HostStatus): status is HostOutcome => (HOST_OUTCOMES as readonly HostStatus[]).includes(status);

/** What a finished pipeline reports again when called once more. */
const outcome = (state: HostState): HostResult => ({
  status: isOutcome(state.status) ? state.status : 'failed',
  ...(state.reason ? { reason: state.reason } : {}),
  steps: [],
});

const outOfOrder = (call: string, work: HostWork, state: HostState) =>
  ApplicationFailure.nonRetryable(`${call}: ${work.assetId} is at stage ${state.stage} of attempt ${state.attempts}`, 'OutOfOrder');

export function createSimulatedConnector({ pool, logger }: ActivityDeps): ConnectorActivities {
  /**
   * The host's row (a later attempt of the workflow starts here); when `begin`, in the same
   * statement, the host as the inventory has it.
   */
  async function load(work: HostWork, begin: boolean): Promise<{ key: Key; state: HostState; seen?: Inspection }> {
    const unknown = () => ApplicationFailure.nonRetryable(`${work.assetId} is not a host of patch ${work.patchId}`, 'UnknownHost');
    const keyOf = (state: HostState): Key => ({ patchId: work.patchId, assetId: work.assetId, attempt: state.attempts });
    if (!begin) {
      const state = await hostState(pool, work.patchId, work.assetId);
      if (!state) throw unknown();
      return { key: keyOf(state), state };
    }
    const started = await beginAttemptWithInventory(pool, work.patchId, work.assetId, work.attempt, activityNow());
    if (!started) throw unknown();
    return { key: keyOf(started.state), state: started.state, ...(started.inventory ? { seen: examine(work, started.inventory) } : {}) };
  }

  /** The host as the inventory has it: its fault flags, and the target packages still below their fixed versions. */
  async function inspect(work: HostWork): Promise<Inspection> {
    const inventory = await hostInventory(pool, work.assetId);
    if (!inventory) throw ApplicationFailure.nonRetryable(`${work.assetId} is no longer in the inventory`, 'UnknownAsset');
    return examine(work, inventory);
  }

  /** Runs `body` in one transaction; LOST (all of it rolled back) when another call moved the host first. */
  async function transaction(body: (client: PoolClient) => Promise<StepRecord[]>): Promise<StepRecord[] | typeof LOST> {
    try {
      return await inTransaction(pool, body);
    } catch (err) {
      if (err instanceof LostRace) return LOST;
      throw err;
    }
  }

  /** Moves the host on from the stage it was seen at, with its records, in one statement. */
  const step = async (key: Key, from: Stage | { stage: Stage; status: HostStatus }, update: HostUpdate, steps: StepRecord[]) =>
    (await moveHostWithSteps(pool, key, from, update, steps, activityNow())) ? steps : LOST;

  /** Puts back the versions the host had before this patch changed it; the records of the failure come first. */
  const rollBack = (work: HostWork, reason: string, failure: StepRecord[]) =>
    transaction(async (client) => {
      const claimed = await claimRollback(client, work.patchId, work.assetId, reason, activityNow());
      if (!claimed) throw new LostRace();
      const previous = claimed.previousVersions ?? work.previousVersions ?? {};
      const changes = await setAssetPackages(
        client,
        work.assetId,
        Object.entries(previous).map(([name, version]) => ({ name, version })),
      );
      const steps = [
        ...failure,
        record('rollback', true, `restored the versions from before the patch: ${listChanges(changes) || 'nothing to change'}`, changes),
      ];
      await appendSteps(client, { patchId: work.patchId, assetId: work.assetId, attempt: claimed.attempt }, steps);
      return steps;
    });

  const done = (work: HostWork, status: HostOutcome, reason: string | undefined, steps: StepRecord[]): HostResult => {
    logger.debug({ patchId: work.patchId, assetId: work.assetId, status, reason }, 'simulated host pipeline ended');
    return { status, ...(reason ? { reason } : {}), steps };
  };

  /** precheck → backup → pre-install: the host is ready for the install, or has its outcome. */
  async function prepare(key: Key, work: HostWork, { simulation, below }: Inspection): Promise<HostResult | StepRecord[] | typeof LOST> {
    const verdict = precheckOutcome(simulation, work, below);
    if (verdict) {
      const steps = await step(key, 'new', { stage: 'done', status: verdict.status, reason: verdict.reason, finished: true }, [
        record('precheck', verdict.status === 'skipped', verdict.detail),
      ]);
      return steps === LOST ? LOST : done(work, verdict.status, verdict.reason, steps);
    }
    return step(key, 'new', { stage: 'prepared' }, [
      record('precheck', true, `reachable, disk space available, still affected: ${listChanges(below)}`),
      record('backup', true, `snapshot taken of ${below.map((b) => `${b.name} ${b.from}`).join(', ')}`),
      record('pre-install', true, 'services using the packages stopped, their processes ended'),
    ]);
  }

  /** The install: takes `installMs`, then changes the inventory, or fails leaving it as it was. */
  async function install(key: Key, work: HostWork, { simulation, below }: Inspection): Promise<HostResult | StepRecord[] | typeof LOST> {
    await busy(simulation.installMs);
    if (simulation.failInstall) {
      const steps = await step(key, 'prepared', { stage: 'done', status: 'failed', reason: 'install failed', finished: true }, [
        record('install', false, 'install failed: the package manager exited with an error; no package was changed'),
      ]);
      return steps === LOST ? LOST : done(work, 'failed', 'install failed', steps);
    }
    const reboot = needsReboot(work.packages.map((p) => p.name));
    // the inventory change, the stage and the install record commit together, or not at all
    return transaction(async (client) => {
      const changes = await setAssetPackages(
        client,
        work.assetId,
        below.map((b) => ({ name: b.name, version: b.to })),
      );
      const detail = `installed ${listChanges(changes) || 'nothing (already changed by another patch)'}${reboot ? '; a reboot is required' : ''}`;
      const steps = [record('install', true, detail, changes)];
      const update: HostUpdate = {
        stage: 'changed',
        changed: true,
        status: reboot ? 'rebooting' : 'in-progress',
        previousVersions: Object.fromEntries(changes.filter((c) => c.from !== null).map((c) => [c.name, c.from])),
      };
      if (!(await moveHostWithSteps(client, key, 'prepared', update, steps, activityNow()))) throw new LostRace();
      return steps;
    });
  }

  /**
   * An instant install with nothing to fail and no reboot: the whole pipeline (precheck to
   * post-check) in one statement, from the packages as inspected (LOST when they have changed since).
   */
  async function installAtOnce(key: Key, work: HostWork, { below, stored }: Inspection): Promise<HostResult | typeof LOST> {
    // `below` was read from `stored`: there is always something to change
    const change = planPackageSetChange(
      stored,
      below.map((b) => ({ name: b.name, version: b.to })),
    )!;
    const steps = [
      record('precheck', true, `reachable, disk space available, still affected: ${listChanges(below)}`),
      record('backup', true, `snapshot taken of ${below.map((b) => `${b.name} ${b.from}`).join(', ')}`),
      record('pre-install', true, 'services using the packages stopped, their processes ended'),
      record('install', true, `installed ${listChanges(change.applied)}`, change.applied),
      record('post-check', true, `services up; now at ${work.packages.map((p) => `${p.name} ${p.fixedVersion}`).join(', ')}`),
    ];
    const update: HostUpdate = {
      stage: 'done',
      status: 'installed',
      reason: null,
      changed: true,
      finished: true,
      previousVersions: Object.fromEntries(change.applied.map((c) => [c.name, c.from])),
    };
    for (let tries = 1; ; tries++) {
      const outcome = await installAndMoveHost(pool, key, 'new', update, steps, change, activityNow());
      if (outcome === 'lost') return LOST;
      if (outcome === 'moved') return done(work, 'installed', undefined, steps);
      if (tries === 3) throw new Error(`the packages of ${work.assetId} could not be stored; the activity retries`);
    }
  }

  /** The post-install checks (services, versions now fixed): installed, or rolled back. */
  async function postCheck(key: Key, from: Stage, work: HostWork): Promise<HostResult | typeof LOST> {
    const { simulation, below } = await inspect(work);
    if (simulation.failVerify || below.length > 0) {
      const detail = simulation.failVerify
        ? 'post-install checks failed: services did not come back'
        : `post-install checks failed: still below the fixed version: ${listChanges(below)}`;
      const steps = await rollBack(work, 'post-install checks failed', [record('post-check', false, detail)]);
      return steps === LOST ? LOST : done(work, 'rolled-back', 'post-install checks failed', steps);
    }
    const steps = await step(key, from, { stage: 'done', status: 'installed', reason: null, finished: true }, [
      record('post-check', true, `services up; now at ${work.packages.map((p) => `${p.name} ${p.fixedVersion}`).join(', ')}`),
    ]);
    return steps === LOST ? LOST : done(work, 'installed', undefined, steps);
  }

  /**
   * Waits until a rebooting host is back (never fails); it then answers. `backAt` was set on the
   * activity clock (rebootHost), so it is compared with the activity clock: on a time-skipping
   * server a host whose return has passed in workflow time answers at once.
   */
  async function awaitBack(key: Key, state: HostState): Promise<StepRecord[] | typeof LOST> {
    await busy(Math.max(0, (state.backAt?.getTime() ?? 0) - activityNow().getTime()));
    return step(key, { stage: 'rebooted', status: 'rebooting' }, { status: 'in-progress', backAt: null }, [
      record('await', true, 'the host answers again after the reboot'),
    ]);
  }

  return {
    async deployHost(hostWork) {
      const steps: StepRecord[] = [];
      // what the precheck sees, for the install that follows it in the same call
      let { key, state, seen } = await load(hostWork, true);
      for (;;) {
        let result: HostResult | StepRecord[] | typeof LOST;
        let next: HostState | undefined;
        switch (state.stage) {
          case 'new':
            seen ??= await inspect(hostWork);
            if (instant(seen, hostWork)) {
              // nothing in between to cancel: an abort already seen still stops it
              if (Context.current().cancellationSignal.aborted) throw new CancelledFailure('cancelled before the install began');
              result = await installAtOnce(key, hostWork, seen);
              break;
            }
            honourCancellation();
            result = await prepare(key, hostWork, seen);
            next = { ...state, stage: 'prepared' };
            break;
          case 'prepared': {
            honourCancellation();
            result = await install(key, hostWork, seen ?? (await inspect(hostWork)));
            const reboot = needsReboot(hostWork.packages.map((p) => p.name));
            next = { ...state, stage: 'changed', changed: true, status: reboot ? 'rebooting' : 'in-progress' };
            break;
          }
          case 'changed':
            if (needsReboot(hostWork.packages.map((p) => p.name))) {
              if (
                state.status !== 'rebooting' &&
                (await moveHost(pool, key, 'changed', { status: 'rebooting' }, activityNow())) === false
              ) {
                ({ key, state, seen } = await load(hostWork, true));
                continue;
              }
              return { status: 'reboot-required', steps };
            }
            result = await postCheck(key, 'changed', hostWork);
            break;
          case 'rebooted':
            return { status: 'reboot-required', steps };
          case 'done':
            return { ...outcome(state), steps };
        }
        if (result === LOST) {
          // another call moved the host on: carry on from where it is now
          ({ key, state, seen } = await load(hostWork, true));
          continue;
        }
        if (!Array.isArray(result)) return { ...result, steps: [...steps, ...result.steps] };
        steps.push(...result);
        state = next!;
      }
    },

    async rebootHost(hostWork) {
      for (;;) {
        const { key, state, seen } = await load(hostWork, true);
        if (state.stage === 'rebooted') return { status: 'reboot-required', steps: [] };
        if (state.stage === 'done') return outcome(state);
        if (state.stage !== 'changed') throw outOfOrder('rebootHost', hostWork, state);
        const { simulation } = seen ?? (await inspect(hostWork));
        if (simulation.failReboot && needsReboot(hostWork.packages.map((p) => p.name))) {
          const steps = await rollBack(hostWork, 'reboot failed', [record('reboot', false, 'reboot failed: the host did not restart')]);
          if (steps === LOST) continue;
          return done(hostWork, 'rolled-back', 'reboot failed', steps);
        }
        const awayMs = Math.max(MIN_REBOOT_MS, simulation.installMs);
        const backAt = new Date(activityNow().getTime() + awayMs);
        const steps = await step(key, 'changed', { stage: 'rebooted', status: 'rebooting', backAt }, [
          record('reboot', true, `reboot issued; the host is expected back within ${awayMs} ms`),
        ]);
        if (steps === LOST) continue;
        return { status: 'reboot-required', steps };
      }
    },

    async awaitHost(hostWork) {
      for (;;) {
        const { key, state } = await load(hostWork, true);
        if (state.stage === 'done') return outcome(state);
        if (state.stage !== 'rebooted') throw outOfOrder('awaitHost', hostWork, state);
        if (state.status !== 'rebooting') return { status: 'reboot-required', steps: [] };
        const steps = await awaitBack(key, state);
        if (steps === LOST) continue;
        return { status: 'reboot-required', steps };
      }
    },

    async postCheckHost(hostWork) {
      const steps: StepRecord[] = [];
      for (;;) {
        const { key, state } = await load(hostWork, true);
        if (state.stage === 'done') return { ...outcome(state), steps };
        if (state.stage !== 'changed' && state.stage !== 'rebooted') throw outOfOrder('postCheckHost', hostWork, state);
        if (state.stage === 'rebooted' && state.status === 'rebooting') {
          const back = await awaitBack(key, state);
          if (back !== LOST) steps.push(...back);
          continue;
        }
        const result = await postCheck(key, state.stage, hostWork);
        if (result === LOST) continue;
        return { ...result, steps: [...steps, ...result.steps] };
      }
    },

    async rollbackHost(hostWork) {
      for (;;) {
        const { state } = await load(hostWork, false);
        if (!state.changed) {
          return isOutcome(state.status)
            ? outcome(state)
            : { status: 'rolled-back', reason: 'nothing of this patch is on the host', steps: [] };
        }
        const steps = await rollBack(hostWork, 'rolled back', []);
        if (steps === LOST) continue;
        return done(hostWork, 'rolled-back', 'rolled back', steps);
      }
    },

    async testHost(hostWork) {
      const { key } = await load(hostWork, false);
      const { simulation } = await inspect(hostWork);
      const failure = simulation.unreachable ? 'host unreachable' : simulation.failVerify ? 'failed after the install' : undefined;
      const checks = roleTestPlan(hostWork.role).map((check) => ({ check, ok: !failure, detail: failure ?? 'ok' }));
      if (!(await hasStep(pool, key, 'test'))) {
        const failed = checks.filter((c) => !c.ok).length;
        await appendSteps(pool, key, [
          record(
            'test',
            failed === 0,
            failed === 0 ? `${checks.length} checks passed` : `${failed} of ${checks.length} checks failed: ${failure}`,
          ),
        ]);
      }
      return checks;
    },

    async inspectHost(hostWork) {
      if (hostWork.packages.length === 0)
        return { assetId: hostWork.assetId, compliant: false, reason: 'no fixed version is published for the affected packages' };
      const { below } = await inspect(hostWork);
      return below.length === 0
        ? { assetId: hostWork.assetId, compliant: true }
        : { assetId: hostWork.assetId, compliant: false, reason: `below the fixed version: ${listChanges(below)}` };
    },
  };
}

/** Installed `p` is older than the fixed version, compared under the host's version scheme (exact match without one). */
function isOlder(os: { name: string; version: string }, p: { version: string; ecosystem: string }, target: PackageTarget): boolean {
  const scheme = packageVersionScheme(os, p.ecosystem);
  return scheme ? compareVersions(scheme, p.version, target.fixedVersion) < 0 : p.version !== target.fixedVersion;
}

function examine(work: HostWork, inventory: HostInventory): Inspection {
  const simulation = Simulation.parse(inventory.simulation ?? {});
  const below: { name: string; from: string; to: string }[] = [];
  for (const target of work.packages) {
    const installed = inventory.stored.packages.find((p) => p.name === target.name && isOlder(inventory.os, p, target));
    if (installed) below.push({ name: target.name, from: installed.version, to: target.fixedVersion });
  }
  return { simulation, below, stored: inventory.stored };
}

/** A host whose install takes no time and cannot fail or need a reboot: see `installAtOnce`. */
function instant({ simulation, below }: Inspection, work: HostWork): boolean {
  const faults = simulation.failInstall || simulation.failVerify || simulation.unreachable || simulation.diskFull;
  return (
    simulation.installMs === 0 && !faults && below.length > 0 && work.packages.length > 0 && !needsReboot(work.packages.map((p) => p.name))
  );
}

/** What the precheck ends the pipeline with, if anything: a fault, nothing to install, or nothing left to do. */
function precheckOutcome(
  simulation: { unreachable: boolean; diskFull: boolean },
  work: HostWork,
  below: unknown[],
): { status: HostOutcome; reason: string; detail: string } | undefined {
  if (simulation.unreachable) return { status: 'unreachable', reason: 'unreachable', detail: 'host unreachable: no answer from the host' };
  if (simulation.diskFull) return { status: 'failed', reason: 'disk full', detail: 'disk full: no space for the backup and the packages' };
  if (work.packages.length === 0) {
    return { status: 'failed', reason: 'no fix available', detail: 'no fixed version is published for the affected packages' };
  }
  if (below.length === 0) {
    return {
      status: 'skipped',
      reason: 'already at the fixed versions',
      detail: 'already at or above the fixed versions: nothing to install',
    };
  }
  return undefined;
}

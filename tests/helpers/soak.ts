/**
 * "A patch that lives for months", in simulated time: the scenario (a fleet, the policy, what
 * happens to it over six months), a driver that opens a priority-4 patch on Temporal's
 * time-skipping test server, takes it through review and approval with the workflow's updates
 * and lets the months pass a day at a time, and the readings afterwards: the step records, the
 * history of the patch and of every child run, events per simulated day. No vitest here, so that
 * tests/integration/six-months.test.ts and scripts/bench-soak.ts share it.
 */
import type { Client, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { patchStartOptions } from '../../src/api/patch-start';
import { upsertAssets } from '../../src/db/assets';
import { importOsv } from '../../src/db/feeds';
import { savePolicy } from '../../src/db/policy';
import type { Asset } from '../../src/domain/asset';
import type { HostWork } from '../../src/domain/deployment';
import { parseDuration } from '../../src/domain/duration';
import type { Actor, PatchRequest } from '../../src/domain/patch';
import type { PatchSettings, PatchStatus } from '../../src/domain/patch-status';
import type { Policy } from '../../src/domain/policy';
import {
  decideUpdate,
  deferralUpdate,
  exceptionUpdate,
  postmortemUpdate,
  reviewUpdate,
  statusQuery,
} from '../../src/workflows/definitions';
import type { patchLifecycle } from '../../src/workflows';
import { ADVISORY, MITIGATION, soakPolicy, withSimulation, type Fleet } from './fleet';
import { readJson } from './fixtures';
import { TRUSTED_KEYS, updateSigner, type SignedExecute } from './signed-updates';
import type { TimedStep } from './window-audit';
import { offsetChanges } from './zoned-time';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

const actor = (name: string, roles: Actor['roles']): Actor => ({ id: `user-${name}`, name, roles });
export const PEOPLE = {
  opal: actor('opal', ['operator']),
  rita: actor('rita', ['reviewer']),
  remy: actor('remy', ['reviewer']),
  carl: actor('carl', ['approver']),
} as const;

/** Something that happens to the fleet or the patch at a moment of simulated time. */
export interface ScheduledAction {
  at: Date;
  what: string;
  /** `execute` sends a signed update, signed at the server's (simulated) time. */
  run: (ctx: { pool: Pool; handle: WorkflowHandle<typeof patchLifecycle>; execute: SignedExecute }) => Promise<void>;
}

export interface SoakScenario {
  start: Date;
  policy: Policy;
  /** The patch's own settings: a production wave a fortnight, as a low priority goes. */
  settings: PatchSettings;
  fleet: Fleet;
  /** The assets as loaded at the start (with the unreachable hosts' flags). */
  assets: Asset[];
  /** The hosts the story is about. */
  cast: {
    /** Unreachable for good: retried every week until the maximum deadline, then an SLA breach. */
    neverBack: string;
    /** Unreachable until `at` (the Wednesday before America's spring clock change), then patched in its next window. */
    back: { assetId: string; at: Date; dstChange: Date };
    /** Under an exception until `expiresAt` (during verification), then patched. */
    excepted: { assetId: string; expiresAt: Date };
    /** Deferred by its owner until `until` (before the recommended deadline), then patched. */
    deferred: { assetId: string; until: Date };
  };
  actions: ScheduledAction[];
}

/**
 * Six months of one low-priority patch on `fleet`, opened at `start`: two production hosts in
 * New York are unreachable (one for good, one until just before the spring clock change), an
 * approver excepts a Frankfurt host for four months and an owner defers a Tokyo host for
 * eighty days, both three days after the patch opened (it is in the lab test by then).
 */
export function soakScenario(fleet: Fleet, start: Date): SoakScenario {
  const inSite = (site: string) => fleet.production.filter((id) => fleet.siteOf.get(id)!.name === site);
  const [neverBack, back] = inSite('nyc');
  const [excepted] = inSite('fra');
  const [deferred] = inSite('tyo');
  if (!neverBack || !back || !excepted || !deferred) throw new RangeError('the fleet is too small for the soak scenario');

  // America's first clock change at least three months in: the spring one
  const spring = offsetChanges('America/New_York', start.getTime() + 90 * DAY, start.getTime() + 180 * DAY)[0];
  if (!spring) throw new RangeError('no clock change in New York between three and six months after the start');
  const dstChange = new Date(spring.at);
  const backAt = new Date(spring.at - 4 * DAY);
  const expiresAt = new Date(start.getTime() + 120 * DAY);
  const until = new Date(start.getTime() + 80 * DAY);
  const waivedAt = new Date(start.getTime() + 3 * DAY);

  const unreachable = new Set([neverBack, back]);
  const assets = fleet.assets.map((a) => (unreachable.has(a.id) ? withSimulation(a, { unreachable: true }) : a));
  const actions: ScheduledAction[] = [
    {
      at: waivedAt,
      what: `exception for ${excepted} until ${expiresAt.toISOString()}`,
      run: async ({ handle, execute }) => {
        await execute(handle, exceptionUpdate, {
          actor: PEOPLE.carl,
          assetId: excepted,
          compensatingControl: `${MITIGATION}; the host is replaced in February`,
          expiresAt: expiresAt.toISOString(),
        });
      },
    },
    {
      at: waivedAt,
      what: `deferral of ${deferred} until ${until.toISOString()}`,
      run: async ({ handle, execute }) => {
        await execute(handle, deferralUpdate, {
          actor: PEOPLE.opal,
          assetId: deferred,
          until: until.toISOString(),
          reason: 'year-end trading freeze of its owner',
        });
      },
    },
    {
      at: backAt,
      what: `${back} answers again`,
      run: async ({ pool }) => {
        await upsertAssets(pool, [withSimulation(fleet.byId.get(back)!, { unreachable: false })]);
      },
    },
  ];
  return {
    start,
    policy: soakPolicy(start),
    settings: { bakeTime: '2w' },
    fleet,
    assets,
    cast: {
      neverBack,
      back: { assetId: back, at: backAt, dstChange },
      excepted: { assetId: excepted, expiresAt },
      deferred: { assetId: deferred, until },
    },
    actions,
  };
}

/** The advisory, the fleet and the policy in a fresh database. */
export async function loadScenario(pool: Pool, scenario: SoakScenario): Promise<void> {
  await importOsv(pool, [readJson('osv', 'ubuntu', `${ADVISORY}.json`)]);
  await upsertAssets(pool, scenario.assets);
  await savePolicy(pool, scenario.policy, 'soak');
}

/** Opens a patch the way POST /v1/patches does (src/api/routes/patches.ts), at the server's time. */
export async function openPatch(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  id: string,
  settings: PatchSettings,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof patchLifecycle>> {
  const request: PatchRequest = {
    id,
    title: `Remediate ${ADVISORY} (OpenSSH regreSSHion)`,
    advisoryIds: [ADVISORY],
    emergency: false,
    settings,
    requestedBy: PEOPLE.opal,
    requestedAt: new Date(await env.currentTimeMs()).toISOString(),
  };
  return env.client.workflow.start<typeof patchLifecycle>('patchLifecycle', patchStartOptions(request, taskQueue, TRUSTED_KEYS));
}

/** Polls the status query in real time (simulated time stands still meanwhile). */
export async function until(
  handle: WorkflowHandle<typeof patchLifecycle>,
  accept: (s: PatchStatus) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<PatchStatus> {
  const end = Date.now() + timeoutMs;
  let last: PatchStatus | undefined;
  while (Date.now() < end) {
    last = await handle.query(statusQuery);
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never reached ${what}; last status: ${JSON.stringify(last)}`);
}

export interface SoakRunOptions {
  env: TestWorkflowEnvironment;
  pool: Pool;
  taskQueue: string;
  patchId: string;
  scenario: SoakScenario;
  /** Simulated time per step (default a day). */
  stepMs?: number;
  /** Give up this long after the patch opened (default 200 days: the maximum deadline is 180). */
  horizonMs?: number;
  /** Progress lines, one a simulated week. */
  log?: (line: string) => void;
}

export interface SoakRun {
  handle: WorkflowHandle<typeof patchLifecycle>;
  firstRunId: string;
  openedAt: number;
  /** The status as assessed, before any review. */
  assessed: PatchStatus;
  /** The final status when the patch closed, else the last one read. */
  status: PatchStatus;
  closed: boolean;
  /** Why the driver stopped before the patch closed (a halt, the horizon, an error). */
  stuck?: string;
  /** Simulated time when the patch closed (entered `completed`), else when the driver stopped. */
  endedAt: number;
  wallMs: number;
  actionsDone: { what: string; at: string }[];
  /** The slowest simulated days, in wall time. */
  slowestSteps: { from: string; wallMs: number }[];
}

/**
 * Moves the server's clock to the scenario's start, opens the patch, has both reviewers approve
 * two days late (priority 4: low, whatever assessment said) and the approver approve six hours
 * later, then lets simulated time run a day at a time, doing the scenario's actions when they
 * fall due, until the patch waits for its postmortem; the operator writes it and the patch
 * closes. A halt, or the horizon, stops the driver with `stuck` (nothing here answers a halt).
 */
export async function runSoakPatch(options: SoakRunOptions): Promise<SoakRun> {
  const { env, pool, taskQueue, patchId, scenario } = options;
  const stepMs = options.stepMs ?? DAY;
  const horizonMs = options.horizonMs ?? 200 * DAY;
  const log = options.log ?? (() => undefined);
  const wallStart = Date.now();
  // the server's clock runs ahead of the real one: signatures carry its time
  const execute = updateSigner(() => env.currentTimeMs());

  const skew = scenario.start.getTime() - (await env.currentTimeMs());
  if (skew > 0) await env.sleep(skew);
  const handle = await openPatch(env, taskQueue, patchId, scenario.settings);
  const firstRunId = handle.firstExecutionRunId;
  const openedAt = await env.currentTimeMs();
  const assessed = await until(handle, (s) => s.awaiting === 'reviews' || s.state === 'done', 'peer review');
  log(`opened ${patchId} at ${new Date(openedAt).toISOString()}: priority ${assessed.priority} (${assessed.priorityReasons.at(-1)})`);

  const actionsDone: SoakRun['actionsDone'] = [];
  const steps: SoakRun['slowestSteps'] = [];
  const result = (status: PatchStatus, closed: boolean, endedAt: number, stuck?: string): SoakRun => ({
    handle,
    firstRunId,
    openedAt,
    assessed,
    status,
    closed,
    ...(stuck ? { stuck } : {}),
    endedAt,
    wallMs: Date.now() - wallStart,
    actionsDone,
    slowestSteps: steps.sort((a, b) => b.wallMs - a.wallMs).slice(0, 5),
  });
  if (assessed.state === 'done') return result(assessed, true, openedAt, `closed at assessment: ${assessed.outcome}`);

  // peer review, two days late: a reminder after one, an escalation after two
  await env.sleep(2 * DAY);
  for (const reviewer of [PEOPLE.rita, PEOPLE.remy]) {
    await execute(handle, reviewUpdate, {
      actor: reviewer,
      verdict: 'approve',
      priority: 4,
      comment: `${reviewer.name}: low; sshd is only reachable from the bastions and LoginGraceTime 0 is set everywhere`,
    });
  }
  await until(handle, (s) => s.awaiting === 'decision', 'the approval');
  await env.sleep(6 * HOUR);
  await execute(handle, decideUpdate, {
    actor: PEOPLE.carl,
    decision: 'approve',
    comment: 'CAB: approved as a standard change in the weekend windows',
  });

  const pending = [...scenario.actions].sort((a, b) => a.at.getTime() - b.at.getTime());
  let lastWeek = -1;
  for (;;) {
    const now = await env.currentTimeMs();
    const status = await handle.query(statusQuery);
    const week = Math.floor((now - openedAt) / (7 * DAY));
    if (week !== lastWeek) {
      lastWeek = week;
      log(
        `week ${String(week).padStart(2)} ${new Date(now).toISOString().slice(0, 10)}: ${status.phase}/${status.state}` +
          ` hosts ${JSON.stringify(status.hosts)} stragglers ${status.stragglers.length} (wall ${((Date.now() - wallStart) / 1000).toFixed(1)} s)`,
      );
    }
    if (status.awaiting === 'postmortem') break;
    if (status.state === 'done') return result(status, true, now, `closed without a postmortem: ${status.outcome}`);
    if (status.state === 'halted' || status.state === 'paused' || status.state === 'on-hold') {
      return result(status, false, now, `${status.state} in ${status.phase}: ${status.halt?.reason ?? ''}`);
    }
    if (now - openedAt > horizonMs) {
      return result(
        status,
        false,
        now,
        `still in ${status.phase}/${status.state} ${Math.round((now - openedAt) / DAY)} days after it opened`,
      );
    }
    while (pending[0] && pending[0].at.getTime() <= now) {
      const action = pending.shift()!;
      try {
        await action.run({ pool, handle, execute });
      } catch (err) {
        return result(status, false, now, `${action.what} failed at ${new Date(now).toISOString()}: ${(err as Error).message}`);
      }
      actionsDone.push({ what: action.what, at: new Date(now).toISOString() });
      log(`${new Date(now).toISOString()}: ${action.what}`);
    }
    const next = Math.min(now + stepMs, pending[0]?.at.getTime() ?? Infinity);
    const before = Date.now();
    await env.sleep(Math.max(next - now, 1));
    steps.push({ from: new Date(now).toISOString(), wallMs: Date.now() - before });
  }

  await execute(handle, postmortemUpdate, {
    actor: PEOPLE.opal,
    lessonsLearned: 'Weekend windows in three zones and a year-end freeze stretch a low-priority rollout over months.',
    actions: ['Replace the host that never answered', 'Review the exception before it expires'],
  });
  const final = await handle.result();
  // the moment it closed: awaiting the result lets the server's clock run on past it
  const closedAt = final.phases.find((p) => p.phase === 'completed')?.at;
  return result(final, true, closedAt ? Date.parse(closedAt) : await env.currentTimeMs());
}

// ---- readings ----

export interface StepRecordRow extends TimedStep {
  ok: boolean;
  detail: string;
}

/** The patch's step records (`deployment_records`), in the order they were written. */
export async function stepRecords(pool: Pool, patchId: string): Promise<StepRecordRow[]> {
  const { rows } = await pool.query<{ asset_id: string; attempt: number; step: string; ok: boolean; detail: string | null; at: Date }>(
    'SELECT asset_id, attempt, step, ok, detail, at FROM deployment_records WHERE patch_id = $1 ORDER BY id',
    [patchId],
  );
  return rows.map((r) => ({
    assetId: r.asset_id,
    attempt: r.attempt,
    step: r.step,
    ok: r.ok,
    detail: r.detail ?? '',
    at: r.at.toISOString(),
  }));
}

/** Each host's row in `deployment_hosts`. */
export async function hostRows(
  pool: Pool,
  patchId: string,
): Promise<Map<string, { status: string; reason: string | null; attempts: number }>> {
  const { rows } = await pool.query<{ asset_id: string; status: string; reason: string | null; attempts: number }>(
    'SELECT asset_id, status, reason, attempts FROM deployment_hosts WHERE patch_id = $1',
    [patchId],
  );
  return new Map(rows.map((r) => [r.asset_id, { status: r.status, reason: r.reason, attempts: r.attempts }]));
}

export async function breachRows(pool: Pool, patchId: string): Promise<{ assetId: string; reason: string; at: string }[]> {
  const { rows } = await pool.query<{ asset_id: string; reason: string; at: Date }>(
    'SELECT asset_id, reason, at FROM sla_breaches WHERE patch_id = $1 ORDER BY asset_id',
    [patchId],
  );
  return rows.map((r) => ({ assetId: r.asset_id, reason: r.reason, at: r.at.toISOString() }));
}

export interface RunCensus {
  workflowId: string;
  runId: string;
  type: string;
  events: number;
  firstEventAt: string;
  lastEventAt: string;
  /** How the run ended (the last event's type), or `open`. */
  end: string;
}

export interface HistoryCensus {
  runs: RunCensus[];
  totalEvents: number;
  /** Events by the simulated UTC day they were written on (YYYY-MM-DD). */
  eventsByDay: Map<string, number>;
  /** Every `deployHost` call the workflows scheduled: host, attempt and the workflow's time. */
  deployCalls: TimedStep[];
  /** Every notification the workflows sent (`notify` calls): what, when (workflow time) and the text. */
  notifications: { event: string; at: string; text: string }[];
  /** Events by simulated day and kind (`timerStarted`, `activityTaskScheduled:assess`, ...), to see what a busy day was busy with. */
  kindsByDay: Map<string, Map<string, number>>;
}

/** An event's kind: its attributes' name, with the activity's type for a scheduled activity. */
function eventKind(e: Record<string, unknown>): string {
  const key = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k] != null) ?? 'unknown';
  const kind = key.replace(/EventAttributes$/, '');
  const activity = (e.activityTaskScheduledEventAttributes as { activityType?: { name?: string } } | undefined)?.activityType?.name;
  return activity ? `${kind}:${activity}` : kind;
}

const EVENT_END_TYPES: [string, string][] = [
  ['workflowExecutionCompletedEventAttributes', 'completed'],
  ['workflowExecutionContinuedAsNewEventAttributes', 'continued-as-new'],
  ['workflowExecutionFailedEventAttributes', 'failed'],
  ['workflowExecutionTimedOutEventAttributes', 'timed-out'],
  ['workflowExecutionCanceledEventAttributes', 'cancelled'],
  ['workflowExecutionTerminatedEventAttributes', 'terminated'],
];

/**
 * Every run of the patch: its first run, each child it started (read from the parent's history:
 * the test server has no visibility list) and each run a continue-as-new led to, recursively;
 * with their event counts, events by simulated day, and the `deployHost` calls they scheduled.
 */
export async function historyCensus(client: Client, workflowId: string, firstRunId: string): Promise<HistoryCensus> {
  const runs: RunCensus[] = [];
  const eventsByDay = new Map<string, number>();
  const deployCalls: TimedStep[] = [];
  const kindsByDay = new Map<string, Map<string, number>>();
  const notifications: HistoryCensus['notifications'] = [];
  const queue: { workflowId: string; runId: string }[] = [{ workflowId, runId: firstRunId }];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const run = queue.shift()!;
    if (seen.has(run.runId)) continue;
    seen.add(run.runId);
    const events = (await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory()).events ?? [];
    for (const e of events) {
      const at = tsToMs(e.eventTime);
      const day = new Date(at).toISOString().slice(0, 10);
      eventsByDay.set(day, (eventsByDay.get(day) ?? 0) + 1);
      const kinds = kindsByDay.get(day) ?? new Map<string, number>();
      kindsByDay.set(day, kinds);
      const kind = eventKind(e as Record<string, unknown>);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) queue.push({ workflowId: child.workflowId, runId: child.runId });
      const next = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (next) queue.push({ workflowId: run.workflowId, runId: next });
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name === 'notify' && scheduled.input?.payloads?.[0]) {
        const told = defaultPayloadConverter.fromPayload<{ event: string; text: string }>(scheduled.input.payloads[0]);
        notifications.push({ event: told.event, at: new Date(at).toISOString(), text: told.text });
      }
      if (scheduled?.activityType?.name === 'deployHost' && scheduled.input?.payloads?.[0]) {
        const work = defaultPayloadConverter.fromPayload<HostWork>(scheduled.input.payloads[0]);
        deployCalls.push({
          assetId: work.assetId,
          attempt: work.attempt,
          step: `deployHost scheduled in ${run.workflowId}`,
          at: new Date(at).toISOString(),
        });
      }
    }
    const last = events.at(-1);
    runs.push({
      workflowId: run.workflowId,
      runId: run.runId,
      type: events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?',
      events: events.length,
      firstEventAt: new Date(tsToMs(events[0]?.eventTime)).toISOString(),
      lastEventAt: new Date(tsToMs(last?.eventTime)).toISOString(),
      end: EVENT_END_TYPES.find(([key]) => last && (last as Record<string, unknown>)[key])?.[1] ?? 'open',
    });
  }
  return { runs, totalEvents: runs.reduce((n, r) => n + r.events, 0), eventsByDay, deployCalls, notifications, kindsByDay };
}

/**
 * Events per simulated day over the patch's life (days without an event count as zero): the
 * mean, the busiest days, and one line per week.
 */
export function eventsPerDay(
  census: HistoryCensus,
  from: number,
  to: number,
): { days: number; mean: number; busiest: [string, number][]; weeks: string[]; busiestKinds: string[] } {
  const first = Math.floor(from / DAY) * DAY;
  const days = Math.max(1, Math.ceil((to - first) / DAY));
  const weeks: string[] = [];
  for (let w = 0; w * 7 < days; w++) {
    const counts: number[] = [];
    for (let d = w * 7; d < Math.min(days, w * 7 + 7); d++)
      counts.push(census.eventsByDay.get(new Date(first + d * DAY).toISOString().slice(0, 10)) ?? 0);
    weeks.push(
      `${new Date(first + w * 7 * DAY).toISOString().slice(0, 10)}: ${counts.map((c) => String(c).padStart(4)).join(' ')}  = ${counts.reduce((a, b) => a + b, 0)}`,
    );
  }
  const busiest = [...census.eventsByDay.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
  const kinds = (day: string) =>
    [...(census.kindsByDay.get(day) ?? new Map<string, number>())]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ');
  return {
    days,
    mean: census.totalEvents / days,
    busiest,
    weeks,
    busiestKinds: busiest.slice(0, 2).map(([day]) => `${day}: ${kinds(day)}`),
  };
}

/** The freeze and minimum the scenario's policy sets, for the window audit. */
export function windowRules(scenario: SoakScenario) {
  return {
    changeFreezes: scenario.policy.rollout.changeFreezes,
    minWindowRemainingMs: parseDuration(scenario.policy.rollout.minWindowRemaining)!,
  };
}

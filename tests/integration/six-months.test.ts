/**
 * A patch that lives for months, in simulated time: a priority-4 OpenSSH patch (USN-6859-1) on
 * thirty simulated hosts in New York, Frankfurt and Tokyo, each changed only in its weekend
 * window in its own time zone, under a year-end change freeze, from 20 October to its maximum
 * deadline six months later, on Temporal's time-skipping test server with the real workflow and
 * worker (tests/helpers/soak.ts drives it a simulated day at a time).
 *
 * The story (soakScenario): reviews two days late, approval, the lab and the pilot in the first
 * weekend windows, a production wave a fortnight; one wave waits out the freeze; one New York
 * host never answers (retried in every window, an SLA breach at the maximum deadline), another
 * answers again just before America's spring clock change and is patched in the window that
 * night shortens; a Frankfurt host is excepted for four months and a Tokyo host deferred for
 * eighty days, both patched once that ends. Then the postmortem.
 *
 * What is checked, from the records rather than the workflow's word: every pipeline start and
 * every install inside the host's window (worked out again with Intl, DST included), outside the
 * freeze, with the policy's minWindowRemaining left; the same for every `deployHost` call as the
 * workflow histories time it; each host's outcome; the breach; and every run of the patch and its
 * children under 10,000 history events, with the events per simulated day logged.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, scenarioStart } from '../helpers/fleet';
import { saveHistory } from '../helpers/histories';
import { freshDatabase, startTestWorker } from '../helpers/servers';
import {
  breachRows,
  DAY,
  eventsPerDay,
  HOUR,
  historyCensus,
  hostRows,
  loadScenario,
  runSoakPatch,
  soakScenario,
  stepRecords,
  windowRules,
  type SoakScenario,
} from '../helpers/soak';
import { timeSkippingEnvironment } from '../helpers/time-skipping';
import { stepsToAudit, windowViolations, type WindowViolation } from '../helpers/window-audit';
import { windowContaining } from '../helpers/zoned-time';

const TASK_QUEUE = 'six-months';
const PATCH_ID = 'soak-six-months';
const FLEET_SIZE = 30;
const MAX_EVENTS_PER_RUN = 10_000;

let env: TestWorkflowEnvironment;
let pool: Pool;
let worker: { stop: () => Promise<void> } | undefined;
let scenario: SoakScenario;

beforeAll(async () => {
  env = await timeSkippingEnvironment();
  ({ pool } = await freshDatabase());
  scenario = soakScenario(generateFleet({ size: FLEET_SIZE }), scenarioStart(await env.currentTimeMs()));
  await loadScenario(pool, scenario);
  worker = await startTestWorker(env.nativeConnection, pool, TASK_QUEUE);
}, 300_000);
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
  await pool?.end();
});

const show = (violations: WindowViolation[]) =>
  violations
    .slice(0, 15)
    .map((v) => `${v.assetId} #${v.attempt} ${v.step} at ${v.at} (${v.local}): ${v.problem}`)
    .join('\n');

describe('six months of a low-priority patch, in simulated time', () => {
  it('goes from review to postmortem over six months: every host changed in its window, outside the freeze, each run under 10,000 events', async () => {
    const run = await runSoakPatch({ env, pool, taskQueue: TASK_QUEUE, patchId: PATCH_ID, scenario, log: (line) => console.log(line) });

    // the readings first, so that every failure below comes with its evidence in the log
    const census = await historyCensus(env.client, run.handle.workflowId, run.firstRunId);
    const records = await stepRecords(pool, PATCH_ID);
    const hosts = await hostRows(pool, PATCH_ID);
    const breaches = await breachRows(pool, PATCH_ID);
    const rules = windowRules(scenario);
    const fleetWindows = scenario.fleet.byId;
    const recordViolations = windowViolations(stepsToAudit(records), fleetWindows, rules);
    const callViolations = windowViolations(census.deployCalls, fleetWindows, rules);
    const perDay = eventsPerDay(census, run.openedAt, run.endedAt);
    const largest = census.runs.reduce((a, b) => (b.events > a.events ? b : a));
    const status = run.status;
    console.log(
      [
        `patch ${PATCH_ID}: ${status.phase}/${status.state}, outcome ${status.outcome}, priority ${status.priority}` +
          (run.stuck ? `; driver stopped: ${run.stuck}` : ''),
        `  simulated ${((run.endedAt - run.openedAt) / DAY).toFixed(1)} days (${new Date(run.openedAt).toISOString()} → ${new Date(run.endedAt).toISOString()}) in ${(run.wallMs / 1000).toFixed(1)} s of wall time`,
        `  slowest simulated days (wall): ${run.slowestSteps.map((s) => `${s.from.slice(0, 10)} ${s.wallMs} ms`).join(', ')}`,
        `  actions: ${run.actionsDone.map((a) => `${a.at.slice(0, 16)} ${a.what}`).join('; ')}`,
        `  hosts: ${JSON.stringify(Object.fromEntries([...hosts].map(([id, h]) => [id, `${h.status} (${h.attempts})`])))}`,
        `  step records: ${records.length}, audited ${stepsToAudit(records).length}, violations ${recordViolations.length}; deployHost calls ${census.deployCalls.length}, violations ${callViolations.length}`,
        `  history: ${census.totalEvents} events in ${census.runs.length} runs; largest ${largest.events} (${largest.workflowId}); ` +
          `${perDay.mean.toFixed(1)} events per simulated day over ${perDay.days} days; busiest ${perDay.busiest.map(([d, n]) => `${d} ${n}`).join(', ')}`,
        `  on the busiest days: ${perDay.busiestKinds.join(' | ')}`,
        `  runs: ${census.runs.map((r) => `${r.workflowId.replace(`patch-${PATCH_ID}`, '')}:${r.events}:${r.end}`).join(' ')}`,
        '  events per simulated day (UTC), a week a line from the day the patch opened:',
        ...perDay.weeks.map((w) => `    ${w}`),
        recordViolations.length > 0 ? `  step records outside windows (first 15):\n${show(recordViolations)}` : '',
        callViolations.length > 0 ? `  deployHost calls outside windows (first 15):\n${show(callViolations)}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );

    // the patch ran its course: reviewed late, approved, the whole rollout, closed after the postmortem
    expect(run.stuck, run.stuck).toBeUndefined();
    expect.soft(run.assessed.priority, run.assessed.priorityReasons.join('; ')).toBe(4);
    expect.soft(status.lateness.filter((l) => l.phase === 'peer-review').map((l) => l.level)).toEqual(['reminder', 'escalation']);
    expect.soft(status).toMatchObject({ outcome: 'completed', phase: 'completed', state: 'done', priority: 4 });
    expect.soft(Date.parse(status.deadlines!.maximum) - Date.parse(status.requestedAt)).toBe(180 * DAY);
    const entered = (phase: string) => status.phases.find((p) => p.phase === phase)?.at;
    expect
      .soft(['testing', 'pilot', 'rollout', 'verification', 'monitoring', 'postmortem'].map((p) => entered(p) !== undefined))
      .toEqual(Array(6).fill(true));
    // it lived until its maximum deadline, which ended verification (stragglers become breaches then), then a day of monitoring
    const maximum = Date.parse(status.deadlines!.maximum);
    const monitoringFrom = Date.parse(entered('monitoring') ?? '1970-01-01');
    expect.soft(monitoringFrom, 'monitoring began at the maximum deadline').toBeGreaterThanOrEqual(maximum);
    expect
      .soft(monitoringFrom - maximum, `monitoring began ${entered('monitoring')}, the maximum deadline was ${status.deadlines!.maximum}`)
      .toBeLessThan(HOUR);
    expect.soft(Date.parse(entered('postmortem') ?? '1970-01-01') - monitoringFrom).toBeGreaterThanOrEqual(DAY);
    expect.soft(Date.parse(entered('postmortem') ?? '1970-01-01') - monitoringFrom).toBeLessThan(DAY + HOUR);
    expect.soft(run.endedAt - run.openedAt).toBeGreaterThanOrEqual(181 * DAY);
    expect.soft(run.endedAt - run.openedAt).toBeLessThan(182 * DAY + HOUR);

    // the deadlines as the process has them: sla-at-risk when the recommended one passes, an escalation with the breaches at the maximum
    const toldWithin = (event: string, from: number) =>
      census.notifications.some((n) => n.event === event && Date.parse(n.at) >= from && Date.parse(n.at) < from + HOUR);
    const recommended = Date.parse(status.deadlines!.recommended);
    const told = census.notifications.map((n) => `${n.at} ${n.event}`).join('; ');
    expect.soft(toldWithin('sla-at-risk', recommended), `sla-at-risk at ${status.deadlines!.recommended}; told: ${told}`).toBe(true);
    expect.soft(toldWithin('escalation', maximum), `escalation at ${status.deadlines!.maximum}; told: ${told}`).toBe(true);

    // each host's outcome: one never answered and breached the SLA, every other one is patched
    const { neverBack, back, excepted, deferred } = scenario.cast;
    const outcomes = Object.fromEntries([...hosts].map(([id, h]) => [id, h.status]));
    const expected = Object.fromEntries(scenario.fleet.assets.map((a) => [a.id, a.id === neverBack ? 'unreachable' : 'installed']));
    expect.soft(outcomes).toEqual(expected);
    expect.soft(status.breaches.map((b) => b.assetId)).toEqual([neverBack]);
    expect.soft(breaches.map((b) => b.assetId)).toEqual([neverBack]);
    for (const b of breaches) {
      expect.soft(Date.parse(b.at), `breach recorded at ${b.at}`).toBeGreaterThanOrEqual(maximum);
      expect
        .soft(Date.parse(b.at) - maximum, `breach recorded at ${b.at}, the maximum deadline was ${status.deadlines!.maximum}`)
        .toBeLessThan(HOUR);
    }

    const installOf = (assetId: string) => records.find((r) => r.assetId === assetId && r.step === 'install' && r.ok);
    // the host that came back was patched in its next window, the night America's clocks go forward
    const backInstall = installOf(back.assetId);
    expect.soft(backInstall, `${back.assetId} installed`).toBeDefined();
    if (backInstall) {
      const window = windowContaining(Date.parse(backInstall.at), 'America/New_York', fleetWindows.get(back.assetId)!.maintenanceWindows);
      expect.soft(Date.parse(backInstall.at)).toBeGreaterThanOrEqual(back.at.getTime());
      expect
        .soft(
          window && window.opensAt < back.dstChange.getTime() && back.dstChange.getTime() < window.closesAt,
          `${backInstall.at} in the window over ${back.dstChange.toISOString()}`,
        )
        .toBe(true);
    }
    // the excepted and the deferred host were patched once their waiver ended, not before
    const exceptedInstall = installOf(excepted.assetId);
    expect
      .soft(exceptedInstall && Date.parse(exceptedInstall.at), `${excepted.assetId} installed after ${excepted.expiresAt.toISOString()}`)
      .toBeGreaterThanOrEqual(excepted.expiresAt.getTime());
    const deferredInstall = installOf(deferred.assetId);
    expect
      .soft(deferredInstall && Date.parse(deferredInstall.at), `${deferred.assetId} installed after ${deferred.until.toISOString()}`)
      .toBeGreaterThanOrEqual(deferred.until.getTime());

    // windows, the freeze and the minimum left of a window, from the step records and from the histories
    expect.soft(recordViolations.length, show(recordViolations)).toBe(0);
    expect.soft(callViolations.length, show(callViolations)).toBe(0);
    expect.soft(census.deployCalls.length).toBeGreaterThan(FLEET_SIZE);
    // a production wave started inside the freeze and waited it out
    const freeze = rules.changeFreezes[0]!;
    const waitedOut = census.runs.filter(
      (r) =>
        /-production-\d+-\d+$/.test(r.workflowId) &&
        Date.parse(r.firstEventAt) >= Date.parse(freeze.start) &&
        Date.parse(r.firstEventAt) < Date.parse(freeze.end) &&
        Date.parse(r.lastEventAt) > Date.parse(freeze.end),
    );
    expect
      .soft(
        waitedOut.map((r) => r.workflowId),
        'a production wave started during the freeze and finished after it',
      )
      .not.toEqual([]);

    // history bounds: every run of the patch and of its children
    expect.soft(census.runs[0]!.type).toBe('patchLifecycle');
    expect.soft(census.runs.filter((r) => r.type === 'hostWave').length).toBeGreaterThan(5);
    for (const r of census.runs) expect.soft(r.events, `${r.workflowId} (${r.runId})`).toBeLessThan(MAX_EVENTS_PER_RUN);
    await saveHistory(run.handle, 'patch-six-months');
  }, 1_200_000);
});

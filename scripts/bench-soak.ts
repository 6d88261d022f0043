/**
 * npm run bench:soak — a patch that lives six months, at fleet scale, in simulated time: 1,000
 * simulated hosts in New York, Frankfurt and Tokyo (weekend windows in each zone, a year-end
 * change freeze; tests/helpers/fleet.ts) and the soak scenario of
 * tests/integration/six-months.test.ts (tests/helpers/soak.ts): a priority-4 patch reviewed,
 * approved, rolled out a wave a fortnight, its stragglers retried until the maximum deadline,
 * then the postmortem. On Temporal's time-skipping test server (provisioned like the tests',
 * `npm run time-skipping-server`) with the real worker and a fresh embedded PostgreSQL
 * (DATABASE_URL selects another).
 *
 * Prints the outcome, the history events in all (the patch and every child run, continue-as-new
 * chains followed), the number of runs, the largest run's events, the simulated days, events per
 * simulated day, the window audit of the step records, and the wall time.
 * Options: HOSTS (default 1000); SOAK_START (ISO instant the patch opens; default the next
 * 20 October, 09:00 UTC); SOAK_CENSUS (a file to write the runs and the events per day to, JSON).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Pool } from 'pg';
import { benchDatabase } from './bench-database';
import { createLogger } from '../src/logger';
import { writeWorkflowBundle } from '../src/worker/bundle';
import { newSigningKey } from '../src/signing/keys';
import { createWorker } from '../src/worker/worker';
import { generateFleet, scenarioStart } from '../tests/helpers/fleet';
import {
  breachRows,
  DAY,
  eventsPerDay,
  historyCensus,
  hostRows,
  loadScenario,
  runSoakPatch,
  soakScenario,
  stepRecords,
  windowRules,
} from '../tests/helpers/soak';
import { timeSkippingEnvironment } from '../tests/helpers/time-skipping';
import { stepsToAudit, windowViolations } from '../tests/helpers/window-audit';

const HOSTS = Number(process.env.HOSTS ?? 1000);
const TASK_QUEUE = 'bench-soak';
const PATCH_ID = 'bench-soak-1';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  Runtime.install({ logger: new DefaultLogger(process.env.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });
  const wallStart = performance.now();
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-soak-'));
  fs.chmodSync(tmp, 0o755); // the embedded server runs as the `postgres` user when we are root
  const cleanups: (() => Promise<void>)[] = [async () => fs.rmSync(tmp, { recursive: true, force: true })];
  try {
    const database = await benchDatabase(tmp, logger);
    cleanups.unshift(database.stop);
    const pool = new Pool({ connectionString: database.url, max: 20 });
    cleanups.unshift(() => pool.end());

    const env = await timeSkippingEnvironment();
    cleanups.unshift(() => env.teardown());
    const bundle = await writeWorkflowBundle(path.join(tmp, 'bundle.js'));
    const worker = await createWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: TASK_QUEUE,
      pool,
      logger,
      workOrderKey: newSigningKey(),
      workflowBundlePath: bundle,
    });
    const running = worker.run();
    cleanups.unshift(async () => {
      worker.shutdown();
      await running;
    });

    const start = process.env.SOAK_START ? new Date(process.env.SOAK_START) : scenarioStart(await env.currentTimeMs());
    if (Number.isNaN(start.getTime())) throw new Error(`SOAK_START is not an instant: ${process.env.SOAK_START}`);
    const scenario = soakScenario(generateFleet({ size: HOSTS }), start);
    await loadScenario(pool, scenario);
    const setupMs = performance.now() - wallStart;
    console.log(
      `soak: ${HOSTS} hosts (lab ${scenario.fleet.lab.length}, pilot ${scenario.fleet.pilot.length}, production ${scenario.fleet.production.length}), ` +
        `opening at ${start.toISOString()}; freeze ${scenario.policy.rollout.changeFreezes.map((f) => `${f.start} – ${f.end}`).join(', ')}`,
    );

    const run = await runSoakPatch({
      env,
      pool,
      taskQueue: TASK_QUEUE,
      patchId: PATCH_ID,
      scenario,
      log: (line) => console.log(`  ${line}`),
    });
    const driveMs = run.wallMs;
    const census = await historyCensus(env.client, run.handle.workflowId, run.firstRunId);
    const records = await stepRecords(pool, PATCH_ID);
    const hosts = await hostRows(pool, PATCH_ID);
    const breaches = await breachRows(pool, PATCH_ID);
    const rules = windowRules(scenario);
    const recordViolations = windowViolations(stepsToAudit(records), scenario.fleet.byId, rules);
    const callViolations = windowViolations(census.deployCalls, scenario.fleet.byId, rules);
    const perDay = eventsPerDay(census, run.openedAt, run.endedAt);
    const largest = census.runs.reduce((a, b) => (b.events > a.events ? b : a));
    const byStatus: Record<string, number> = {};
    for (const h of hosts.values()) byStatus[h.status] = (byStatus[h.status] ?? 0) + 1;
    const status = run.status;

    console.log(
      `outcome: ${status.outcome ?? 'none'} (${status.phase}/${status.state}), priority ${status.priority}${run.stuck ? `; the driver stopped: ${run.stuck}` : ''}`,
    );
    console.log(`  hosts: ${JSON.stringify(byStatus)}; SLA breaches: ${breaches.length}`);
    console.log(
      `  simulated: ${((run.endedAt - run.openedAt) / DAY).toFixed(1)} days (${new Date(run.openedAt).toISOString()} → ${new Date(run.endedAt).toISOString()})`,
    );
    console.log(
      `  history events: ${census.totalEvents} in ${census.runs.length} runs; largest run ${largest.events} events (${largest.workflowId}, ${largest.end})`,
    );
    console.log(
      `  events per simulated day: mean ${perDay.mean.toFixed(1)} over ${perDay.days} days; busiest ${perDay.busiest.map(([d, n]) => `${d} ${n}`).join(', ')}`,
    );
    for (const line of perDay.busiestKinds) console.log(`    ${line}`);
    console.log(
      `  window audit: ${stepsToAudit(records).length} pipeline starts and installs from ${records.length} step records, ${recordViolations.length} outside window/freeze/minimum; ` +
        `${census.deployCalls.length} deployHost calls in the histories, ${callViolations.length} outside`,
    );
    for (const v of [...recordViolations, ...callViolations].slice(0, 10))
      console.log(`    ${v.assetId} #${v.attempt} ${v.step} at ${v.at} (${v.local}): ${v.problem}`);
    const told = census.notifications.filter((n) => n.event === 'sla-at-risk' || n.event === 'escalation');
    console.log(
      `  deadlines: recommended ${status.deadlines?.recommended}, maximum ${status.deadlines?.maximum}; told: ${told.map((n) => `${n.at} ${n.event}`).join(', ') || 'nothing'}`,
    );
    console.log(
      `  wall time: ${seconds(performance.now() - wallStart)} in all; setup ${seconds(setupMs)}, the six months ${seconds(driveMs)}`,
    );
    console.log(`largest history ${largest.events} events (target < 10000) ${largest.events < 10_000 ? 'OK' : 'OVER'}`);

    if (process.env.SOAK_CENSUS) {
      const days = Object.fromEntries([...census.kindsByDay].map(([day, kinds]) => [day, Object.fromEntries(kinds)]));
      fs.writeFileSync(
        process.env.SOAK_CENSUS,
        JSON.stringify({ runs: census.runs, eventsByDay: Object.fromEntries(census.eventsByDay), kindsByDay: days }, null, 1),
      );
      console.log(`  census written to ${process.env.SOAK_CENSUS}`);
    }
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

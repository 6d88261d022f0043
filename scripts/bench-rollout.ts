/**
 * npm run bench:rollout — a whole rollout at fleet scale on real servers: 10,000 simulated
 * assets (installMs 0) through lab, pilot, 5 production waves, verification and monitoring (bake
 * times 0: they are waiting by design, and even a 1 ms timer takes about a second here), on
 * a Temporal dev server and an embedded PostgreSQL of its own (DATABASE_URL selects another).
 *
 * Prints the wall time and host pipelines per second; then, on the same server and worker, the
 * throughput of a no-op activity at the same concurrency, and the ratio of the two (target
 * ≥ 0.5); and the largest workflow history of the run (target < 10,000 events).
 * Options: ASSETS (default 10000), CONCURRENCY (maxConcurrent, default 50).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Pool } from 'pg';
import { benchDatabase } from './bench-database';
import type { Asset } from '../src/domain/asset';
import type { PatchStatus } from '../src/domain/patch-status';
import type { PatchRequest } from '../src/domain/patch';
import { upsertAssets } from '../src/db/assets';
import { importOsv } from '../src/db/feeds';
import { createLogger } from '../src/logger';
import { startDevServer } from '../src/runtime/dev-server';
import { freePort } from '../src/runtime/ports';
import { provisionTemporalCli } from '../src/runtime/temporal-cli';
import { writeWorkflowBundle } from '../src/worker/bundle';
import { newSigningKey } from '../src/signing/keys';
import { createWorker } from '../src/worker/worker';
import { decideUpdate, postmortemUpdate, reviewUpdate, statusQuery } from '../src/workflows/definitions';
import { activityBaseline, patchLifecycle } from '../src/workflows';
import { executeSigned, TRUSTED_KEYS } from '../tests/helpers/signed-updates';

const ASSETS = Number(process.env.ASSETS ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);
const TASK_QUEUE = 'bench-rollout';

function fleet(): Asset[] {
  return Array.from({ length: ASSETS }, (_, n) => ({
    id: `host-${String(n).padStart(5, '0')}`,
    hostname: `host-${n}.fleet.example`,
    environment: n % 500 === 0 ? 'lab' : n % 100 === 0 ? 'pilot' : 'production',
    os: { name: 'ubuntu', version: '22.04' },
    criticality: (['low', 'medium', 'high', 'critical'] as const)[n % 4]!,
    exposure: (['internal', 'internet', 'isolated'] as const)[n % 3]!,
    role: 'web',
    // clusters of six: two members a wave fit five waves
    redundancyGroup: `cluster-${Math.floor(n / 6)}`,
    timezone: 'UTC',
    maintenanceWindows: [],
    compensatingControls: [],
    packages: [{ name: 'libbench1', source: 'benchsrc', version: '1.0-1ubuntu1', arch: 'amd64' }],
    connector: 'simulated',
    simulation: { installMs: 0, failInstall: false, failReboot: false, unreachable: false, diskFull: false, failVerify: false },
  }));
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-bench-'));
  fs.chmodSync(tmp, 0o755);
  const cleanups: (() => Promise<void>)[] = [async () => fs.rmSync(tmp, { recursive: true, force: true })];
  try {
    const database = await benchDatabase(tmp, logger);
    cleanups.unshift(database.stop);
    const cli = await provisionTemporalCli();
    const server = await startDevServer({ cliPath: cli.path, namespace: 'default', port: await freePort(), logger });
    cleanups.unshift(() => server.stop());
    const pool = new Pool({ connectionString: database.url, max: 20 });
    cleanups.unshift(() => pool.end());

    await upsertAssets(pool, fleet());
    await importOsv(pool, [
      {
        id: 'BENCH-ROLL-1',
        modified: '2026-01-01T00:00:00Z',
        summary: 'benchmark advisory',
        affected: [
          {
            package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'benchsrc' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0-1ubuntu2' }] }],
          },
        ],
      },
    ]);

    const bundle = await writeWorkflowBundle(path.join(tmp, 'bundle.js'));
    const workerConnection = await NativeConnection.connect({ address: server.address });
    const worker = await createWorker({
      connection: workerConnection,
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
      await workerConnection.close();
    });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });

    // the rollout: reviews and approval as updates, every duration short
    const person = (name: string, role: string) => ({ id: name, name, roles: [role] as never });
    const request: PatchRequest = {
      id: 'bench-1',
      title: 'bench rollout',
      advisoryIds: ['BENCH-ROLL-1'],
      emergency: false,
      settings: {
        productionWaves: 5,
        maxConcurrent: CONCURRENCY,
        maxPerGroupPerWave: 2,
        maxFailures: '5%',
        bakeTime: '0s',
        pilotBakeTime: '0s',
        monitoringWindow: '0s',
        stragglerRetryInterval: '1s',
      },
      requestedBy: person('opal', 'operator'),
      requestedAt: new Date().toISOString(),
    };
    const handle = await client.workflow.start(patchLifecycle, {
      taskQueue: TASK_QUEUE,
      workflowId: `patch-${request.id}`,
      args: [{ ...request, trustedKeys: TRUSTED_KEYS }],
    });
    const until = async (accept: (s: PatchStatus) => boolean) => {
      for (;;) {
        const s = await handle.query(statusQuery);
        if (accept(s)) return s;
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    await until((s) => s.awaiting === 'reviews');
    for (const reviewer of ['rita', 'remy']) {
      await executeSigned(handle, reviewUpdate, { actor: person(reviewer, 'reviewer'), verdict: 'approve', comment: 'bench' });
    }
    await until((s) => s.awaiting === 'decision');
    const started = performance.now();
    await executeSigned(handle, decideUpdate, { actor: person('carl', 'approver'), decision: 'approve', comment: 'bench' });
    const due = await until((s) => s.awaiting === 'postmortem' || s.state === 'done');
    const wall = performance.now() - started;
    const deployMs = Date.parse(due.deployment.finishedAt!) - Date.parse(due.deployment.startedAt!);
    await executeSigned(handle, postmortemUpdate, { actor: person('opal', 'operator'), lessonsLearned: 'bench', actions: [] });
    const done = await handle.result();
    const pipelinesPerSecond = ASSETS / (deployMs / 1000);
    console.log(
      `rollout: ${ASSETS} hosts, ${due.waves.filter((w) => w.ring === 'production').length} production waves, maxConcurrent ${CONCURRENCY}; outcome ${done.outcome}`,
    );
    console.log(`  hosts: ${JSON.stringify(due.hosts)}`);
    console.log(`  wall time from approval to postmortem: ${seconds(wall)}; deployment (lab to monitoring): ${seconds(deployMs)}`);
    console.log(`  host pipelines per second: ${pipelinesPerSecond.toFixed(0)}`);
    const phases = due.phases.map(
      (p, i) => `${p.phase} ${seconds(Date.parse(due.phases[i + 1]?.at ?? new Date().toISOString()) - Date.parse(p.at))}`,
    );
    console.log(`  phases: ${phases.slice(3).join(', ')}`);

    let largest = { id: '', events: 0 };
    let runs = 0;
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "patch-${request.id}"` })) {
      runs++;
      if (wf.workflowId !== handle.workflowId)
        console.log(
          `    run of ${wf.workflowId}: ${wf.closeTime ? seconds(wf.closeTime.getTime() - wf.startTime.getTime()) : 'open'}, ${wf.historyLength} events`,
        );
      if (wf.historyLength > largest.events) largest = { id: `${wf.workflowId} (${wf.runId})`, events: wf.historyLength };
    }
    console.log(`  workflow runs: ${runs}; largest history: ${largest.events} events (${largest.id})`);

    const t = performance.now();
    await client.workflow.execute(activityBaseline, { taskQueue: TASK_QUEUE, workflowId: 'bench-baseline', args: [ASSETS, CONCURRENCY] });
    const baselinePerSecond = ASSETS / ((performance.now() - t) / 1000);
    console.log(`no-op activity baseline: ${ASSETS} activities at ${CONCURRENCY} in flight: ${baselinePerSecond.toFixed(0)} per second`);
    const ratio = pipelinesPerSecond / baselinePerSecond;
    console.log(`ratio host pipelines / no-op activities: ${ratio.toFixed(2)} (target ≥ 0.5) ${ratio >= 0.5 ? 'OK' : 'BELOW TARGET'}`);
    console.log(`largest history ${largest.events} events (target < 10000) ${largest.events < 10_000 ? 'OK' : 'OVER'}`);
    await connection.close();
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * An outage of patchflow's own database is not a host failure (docs/process.md, step 7): a wave
 * whose PostgreSQL is killed (SIGKILL of the postmaster) while its hosts install, and started
 * again 25 s later, ends with every host installed once, no failure counted (its budget is 0, so
 * a single one would halt it), and nothing installed twice. The wave runs on the shared Temporal
 * dev server with a worker whose database is a PostgreSQL of this file's own, so it can be killed.
 * Then the same through a whole patch: its status says it is waiting for infrastructure meanwhile.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { patchStartOptions } from '../../src/api/patch-start';
import { upsertAssets } from '../../src/db/assets';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/db/embedded-postgres';
import { importOsv } from '../../src/db/feeds';
import { migrate } from '../../src/db/migrate';
import { AssetSchema } from '../../src/domain/asset';
import { rolloutPlanSettings } from '../../src/domain/governance';
import type { Actor, PatchRequest } from '../../src/domain/patch';
import type { PatchStatus } from '../../src/domain/patch-status';
import { DEFAULT_POLICY } from '../../src/domain/policy';
import { freePort } from '../../src/runtime/ports';
import { decideUpdate, postmortemUpdate, reviewUpdate, statusQuery } from '../../src/workflows/definitions';
import type { hostWave } from '../../src/workflows/host-wave';
import { patchLifecycle } from '../../src/workflows/patch/lifecycle';
import { testAsset } from '../helpers/assets';
import { readJson } from '../helpers/fixtures';
import { logger, startTestWorker, temporalEnvironment } from '../helpers/servers';
import { TEST_KEYS } from '../helpers/keys';
import { executeSigned, TRUSTED_KEYS } from '../helpers/signed-updates';

const TASK_QUEUE = 'infrastructure-outage';
const PATCH = 'outage-1';
const OUTAGE_MS = 25_000; // longer than a host call's five attempts (1 + 2 + 4 + 8 s apart)

let dir: string;
let port: number;
let pg: RunningPostgres | undefined;
let pool: Pool;
let env: TestWorkflowEnvironment;
let worker: { stop: () => Promise<void> } | undefined;

const startPostgres = () => startEmbeddedPostgres({ dataDir: dir, port, database: 'outage', logger });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-outage-'));
  fs.chmodSync(dir, 0o755); // the embedded server runs as the `postgres` user when we are root
  port = await freePort();
  pg = await startPostgres();
  await migrate(pg.url, logger);
  pool = new Pool({ connectionString: pg.url, max: 10, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => undefined); // idle connections break with the server; the pool makes new ones
  env = await temporalEnvironment();
  worker = await startTestWorker(env.nativeConnection, pool, TASK_QUEUE);
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
  await pool?.end();
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** SIGKILL of the postmaster, as a crash or an out-of-memory kill would do it. */
function killPostgres(): void {
  const pid = Number(fs.readFileSync(path.join(dir, 'cluster', 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(pid, 'SIGKILL');
}

const hostStatuses = async () =>
  (await pool.query('SELECT asset_id, status, attempts FROM deployment_hosts WHERE patch_id = $1 ORDER BY asset_id', [PATCH])).rows;

describe('an outage of patchflow’s database in the middle of a wave', () => {
  it('is waited out: every host installed exactly once, no failure counted, the wave not halted', async () => {
    const acts = createActivities({ pool, logger, workOrderKey: TEST_KEYS.workOrders });
    await importOsv(pool, [readJson('osv', 'ubuntu', 'USN-6859-1.json')]);
    const packages = [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }];
    const hosts = [1, 2, 3, 4].map((n) => testAsset(`outage-${n}`, { packages, simulation: { installMs: 3_000 } }));
    await upsertAssets(
      pool,
      hosts.map((h) => AssetSchema.parse(h)),
    );
    await acts.assess({ patchId: PATCH, advisoryIds: ['USN-6859-1'] });
    const now = Date.now();
    await acts.startDeployment({
      patchId: PATCH,
      title: 'outage',
      priority: 2,
      emergency: false,
      openedAt: new Date(now).toISOString(),
      deadlines: { recommended: new Date(now + 7 * 86_400_000).toISOString(), maximum: new Date(now + 14 * 86_400_000).toISOString() },
      plan: { ...rolloutPlanSettings(DEFAULT_POLICY, { emergency: false, settings: {} }, false), productionWaves: 1 },
    });

    const wave = await env.client.workflow.start<typeof hostWave>('hostWave', {
      taskQueue: TASK_QUEUE,
      workflowId: `patch-${PATCH}-production-0-1`,
      args: [
        {
          selector: { patchId: PATCH, ring: 'production', wave: 0 },
          attempt: 1,
          maxConcurrent: 4,
          maxPerGroup: 1,
          budget: 0,
          bypassWindows: true,
        },
      ],
    });
    for (let i = 0; i < 100 && (await hostStatuses()).some((h) => h.status !== 'in-progress'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await hostStatuses()).map((h) => h.status)).toEqual(['in-progress', 'in-progress', 'in-progress', 'in-progress']);

    // the installs finish while the database is gone: their records cannot be written
    killPostgres();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    pg = await startPostgres();

    const result = await wave.result();
    expect(result).toEqual({ status: 'done', failures: 0, counts: { installed: 4 } });
    expect(await hostStatuses()).toEqual(hosts.map((h) => ({ asset_id: h.id, status: 'installed', attempts: 1 })));
    const installs = (
      await pool.query(
        "SELECT asset_id, count(*)::int AS n FROM deployment_records WHERE patch_id = $1 AND step = 'install' AND ok GROUP BY asset_id ORDER BY asset_id",
        [PATCH],
      )
    ).rows;
    expect(installs).toEqual(hosts.map((h) => ({ asset_id: h.id, n: 1 })));

    // the host calls failed as InfrastructureUnavailable, and the wave waited them out
    const events = (await wave.fetchHistory()).events ?? [];
    const failures = events.filter((e) => e.activityTaskFailedEventAttributes);
    expect(failures.length).toBeGreaterThan(0);
    for (const e of failures)
      expect(e.activityTaskFailedEventAttributes!.failure!.applicationFailureInfo?.type).toBe('InfrastructureUnavailable');
    expect(events.some((e) => e.timerStartedEventAttributes)).toBe(true);
  }, 180_000);

  it('shows on the patch: its status says it waits for infrastructure during the outage, and the patch completes', async () => {
    await importOsv(pool, [readJson('osv', 'ubuntu', 'USN-6859-1.json')]);
    const packages = [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }];
    const hosts = [
      testAsset('status-lab', { environment: 'lab', packages, simulation: { installMs: 0 } }),
      testAsset('status-pilot', { environment: 'pilot', packages, simulation: { installMs: 0 } }),
      ...[1, 2, 3].map((n) => testAsset(`status-${n}`, { packages, simulation: { installMs: 3_000 } })),
    ];
    await upsertAssets(
      pool,
      hosts.map((h) => AssetSchema.parse(h)),
    );
    const actor = (name: string, roles: Actor['roles']): Actor => ({ id: `user-${name}`, name, roles });
    const request: PatchRequest = {
      id: 'outage-status',
      title: 'Remediate USN-6859-1',
      advisoryIds: ['USN-6859-1'],
      emergency: true,
      settings: { pilotBakeTime: '1s', bakeTime: '1s', monitoringWindow: '1s', productionWaves: 1, maxConcurrent: 3, maxFailures: 0 },
      requestedBy: actor('opal', ['operator']),
      requestedAt: new Date().toISOString(),
    };
    const handle = await env.client.workflow.start(patchLifecycle, patchStartOptions(request, TASK_QUEUE, TRUSTED_KEYS));
    const status = (accept: (s: PatchStatus) => boolean, what: string, timeoutMs = 60_000) => until(handle, accept, what, timeoutMs);
    await status((s) => s.awaiting === 'reviews', 'peer review');
    await executeSigned(handle, reviewUpdate, { actor: actor('rita', ['reviewer']), verdict: 'approve', comment: 'ok' });
    await status((s) => s.awaiting === 'decision', 'the approval');
    await executeSigned(handle, decideUpdate, { actor: actor('carl', ['approver']), decision: 'approve', comment: 'go' });
    for (let i = 0; i < 400; i++) {
      const inProgress = (
        await pool.query(
          "SELECT count(*)::int AS n FROM deployment_hosts WHERE patch_id = $1 AND ring = 'production' AND status = 'in-progress'",
          [request.id],
        )
      ).rows[0].n;
      if (inProgress === 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    killPostgres();
    const waiting = await status((s) => s.waitingForInfrastructure !== null, 'the status saying it waits for infrastructure');
    expect(waiting.waitingForInfrastructure!.reason).toContain("patchflow's database is unreachable");
    expect(waiting).toMatchObject({ phase: 'rollout', state: 'running', halt: null });
    pg = await startPostgres();

    const due = await status((s) => s.awaiting === 'postmortem', 'the postmortem', 120_000);
    expect(due).toMatchObject({ waitingForInfrastructure: null, halt: null, actions: [] });
    expect(due.waves.map((w) => w.status)).toEqual(['done', 'done', 'done']);
    expect(due.waves.flatMap((w) => Object.keys(w.counts))).not.toContain('failed');
    await executeSigned(handle, postmortemUpdate, { actor: request.requestedBy, lessonsLearned: 'It waited.', actions: [] });
    expect(await handle.result()).toMatchObject({ outcome: 'completed' });
  }, 240_000);
});

/** Polls the status query until it is as wanted (the workflow answers it without the database). */
async function until(handle: WorkflowHandle<typeof patchLifecycle>, accept: (s: PatchStatus) => boolean, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last: PatchStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery);
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`never reached ${what}; last status: ${JSON.stringify(last)}`);
}

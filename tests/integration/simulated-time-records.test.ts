/**
 * Records follow the workflow's time, not the machine's: the real `hostWave` workflow and worker
 * on Temporal's time-skipping test server, with a fresh PostgreSQL. Workflow time jumps days
 * ahead of the machine clock while activities run in real time; everything an activity records
 * or compares with "now" is on the activity clock (src/activities/clock.ts), so step records,
 * host times and the exceptions' expiry follow the skipped time.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type Activities } from '../../src/activities';
import { upsertAssets } from '../../src/db/assets';
import { importOsv } from '../../src/db/feeds';
import { savePolicy } from '../../src/db/policy';
import { AssetSchema, type AssetInput, type MaintenanceWindow } from '../../src/domain/asset';
import type { WaveSelector } from '../../src/domain/deployment';
import { rolloutPlanSettings } from '../../src/domain/governance';
import { DEFAULT_POLICY } from '../../src/domain/policy';
import type { hostWave } from '../../src/workflows/host-wave';
import { testAsset } from '../helpers/assets';
import { readJson } from '../helpers/fixtures';
import { freshDatabase, logger, startTestWorker } from '../helpers/servers';
import { timeSkippingEnvironment } from '../helpers/time-skipping';
import { TEST_KEYS } from '../helpers/keys';

const TASK_QUEUE = 'simulated-time-records';
const OPENSSH = 'USN-6859-1'; // 22.04 fixed in 1:8.9p1-3ubuntu0.10
const GLIBC = 'USN-6409-1'; // libc6 fixed in 2.35-0ubuntu3.4: a reboot
const DAY = 86_400_000;

let env: TestWorkflowEnvironment;
let pool: Pool;
let acts: Activities;
let worker: { stop: () => Promise<void> } | undefined;

beforeAll(async () => {
  env = await timeSkippingEnvironment();
  ({ pool } = await freshDatabase());
  await importOsv(pool, [readJson('osv', 'ubuntu', `${OPENSSH}.json`), readJson('osv', 'ubuntu', `${GLIBC}.json`)]);
  acts = createActivities({ pool, logger, workOrderKey: TEST_KEYS.workOrders });
  worker = await startTestWorker(env.nativeConnection, pool, TASK_QUEUE);
}, 300_000);
// each test assesses against its own hosts only
afterEach(async () => {
  await pool.query('DELETE FROM assets');
});
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
  await pool?.end();
});

const sshHost = (id: string, overrides: Partial<AssetInput> = {}): AssetInput =>
  testAsset(id, { packages: [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }], ...overrides });
const libcHost = (id: string, overrides: Partial<AssetInput> = {}): AssetInput =>
  testAsset(id, { packages: [{ name: 'libc6', version: '2.35-0ubuntu3.1', source: 'glibc' }], ...overrides });

/**
 * Runs an activity as if the server had scheduled its attempt now in workflow time (what a
 * workflow on the time-skipping server would give it).
 */
async function atWorkflowTime<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  const mock = new MockActivityEnvironment({ currentAttemptScheduledTimestampMs: await env.currentTimeMs() });
  return mock.run<A, R, typeof fn>(fn, ...args);
}

/** Assets in the inventory, a patch assessed against them, its deployment started, all at workflow time. */
async function deploy(patchId: string, assets: AssetInput[], advisoryIds: string[]): Promise<void> {
  await upsertAssets(
    pool,
    assets.map((a) => AssetSchema.parse(a)),
  );
  const now = await env.currentTimeMs();
  await atWorkflowTime(acts.assess, { patchId, advisoryIds });
  await atWorkflowTime(acts.startDeployment, {
    patchId,
    title: `patch ${patchId}`,
    priority: 2,
    emergency: false,
    openedAt: new Date(now).toISOString(),
    deadlines: { recommended: new Date(now + 7 * DAY).toISOString(), maximum: new Date(now + 14 * DAY).toISOString() },
    // one production wave: every host in the wave the test runs
    plan: { ...rolloutPlanSettings(DEFAULT_POLICY, { emergency: false, settings: {} }, false), productionWaves: 1 },
  });
}

/** One `hostWave` child as the patch workflow starts it, run to its end on the time-skipping server. */
async function runWave(id: string, selector: WaveSelector, attempt: number) {
  return env.client.workflow.execute<typeof hostWave>('hostWave', {
    taskQueue: TASK_QUEUE,
    workflowId: id,
    args: [{ selector, attempt, maxConcurrent: 4, maxPerGroup: 1, budget: null, bypassWindows: true }],
  });
}

const ms = (d: Date | null) => d?.getTime() ?? NaN;

describe('records follow the workflow time on the time-skipping server', () => {
  it('a wave run 30 simulated days later stamps its host times and step records 30 days on, the reboot included', async () => {
    const patchId = 'sim-records';
    await deploy(
      patchId,
      [sshHost('sr-ssh', { simulation: { installMs: 0 } }), libcHost('sr-libc', { simulation: { installMs: 100 } })],
      [OPENSSH, GLIBC],
    );
    const start = await env.currentTimeMs();
    await env.sleep('30 days');
    const result = await runWave(`patch-${patchId}-production-0-1`, { patchId, ring: 'production', wave: 0 }, 1);
    expect(result).toMatchObject({ status: 'done', counts: { installed: 2 } });
    const end = await env.currentTimeMs();
    // the machine clock did not move 30 days
    expect(end - Date.now()).toBeGreaterThan(29 * DAY);

    const hosts = (
      await pool.query('SELECT asset_id, started_at, finished_at, updated_at FROM deployment_hosts WHERE patch_id = $1 ORDER BY asset_id', [
        patchId,
      ])
    ).rows;
    expect(hosts.map((h) => h.asset_id)).toEqual(['sr-libc', 'sr-ssh']);
    for (const h of hosts) {
      for (const column of ['started_at', 'finished_at', 'updated_at'] as const) {
        expect(ms(h[column]), `${h.asset_id} ${column}`).toBeGreaterThanOrEqual(start + 30 * DAY);
        expect(ms(h[column]), `${h.asset_id} ${column}`).toBeLessThanOrEqual(end + 60_000);
      }
    }

    const records = (await pool.query('SELECT asset_id, step, at FROM deployment_records WHERE patch_id = $1 ORDER BY id', [patchId])).rows;
    expect(records.filter((r) => r.asset_id === 'sr-libc').map((r) => r.step)).toEqual([
      'precheck',
      'backup',
      'pre-install',
      'install',
      'reboot',
      'await',
      'post-check',
    ]);
    for (const r of records) {
      expect(ms(r.at), `${r.asset_id} ${r.step}`).toBeGreaterThanOrEqual(start + 30 * DAY);
      expect(ms(r.at), `${r.asset_id} ${r.step}`).toBeLessThanOrEqual(end + 60_000);
    }
    // one clock for the reboot: the host answers no earlier than it was expected back (200 ms after the reboot)
    const libc = records.filter((r) => r.asset_id === 'sr-libc');
    for (let i = 1; i < libc.length; i++) expect(ms(libc[i].at)).toBeGreaterThanOrEqual(ms(libc[i - 1].at));
    const at = (step: string) => ms(libc.find((r) => r.step === step).at);
    expect(at('await') - at('reboot')).toBeGreaterThanOrEqual(150);
  });

  it('an exception 10 simulated days away covers its host until 10 simulated days have passed, then the straggler sweep takes it again', async () => {
    const patchId = 'sim-exception';
    await deploy(patchId, [sshHost('se-down', { simulation: { unreachable: true } })], [OPENSSH]);
    expect(await runWave(`patch-${patchId}-production-0-1`, { patchId, ring: 'production', wave: 0 }, 1)).toMatchObject({
      status: 'done',
      counts: { unreachable: 1 },
    });
    const recordedAt = await env.currentTimeMs();
    const expiresAt = new Date(recordedAt + 10 * DAY).toISOString();
    await atWorkflowTime(acts.recordException, {
      id: 'se-ex-1',
      patchId,
      assetId: 'se-down',
      compensatingControl: 'port closed at the firewall',
      expiresAt,
      approvedBy: 'carl',
    });
    const exception = (await pool.query('SELECT at FROM host_exceptions WHERE id = $1', ['se-ex-1'])).rows[0];
    expect(ms(exception.at)).toBeGreaterThanOrEqual(recordedAt);
    expect(await atWorkflowTime(acts.stragglers, patchId)).toEqual([]);

    const sweep = { patchId, ring: 'production', wave: null, stragglersOnly: true } as const;
    await env.sleep('9 days');
    expect(await atWorkflowTime(acts.stragglers, patchId)).toEqual([]);
    expect(await runWave(`patch-${patchId}-stragglers-2-2`, sweep, 2)).toEqual({ status: 'done', failures: 0, counts: {} });
    expect((await pool.query('SELECT status, attempts FROM deployment_hosts WHERE patch_id = $1', [patchId])).rows).toEqual([
      { status: 'excepted', attempts: 1 },
    ]);

    await env.sleep('1 day');
    await env.sleep('1 minute');
    // on the machine's clock (and PostgreSQL's now()) the exception still runs for almost 10 days
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(9 * DAY);
    expect(await atWorkflowTime(acts.stragglers, patchId)).toEqual([{ assetId: 'se-down', reason: 'exception expired', attempts: 1 }]);
    expect(await runWave(`patch-${patchId}-stragglers-3-3`, sweep, 3)).toMatchObject({ status: 'done', counts: { unreachable: 1 } });
    const host = (await pool.query('SELECT status, attempts, started_at, finished_at FROM deployment_hosts WHERE patch_id = $1', [patchId]))
      .rows[0];
    expect(host).toMatchObject({ status: 'unreachable', attempts: 3 });
    expect(ms(host.finished_at)).toBeGreaterThanOrEqual(Date.parse(expiresAt));
  });

  it('a host still installing when its window closes finishes, and the overrun is recorded as a step at the workflow time', async () => {
    const patchId = 'sim-overrun';
    // activities run in real time (time skipping stops meanwhile): an 8 s install that starts
    // 5 s before its two-minute window closes overruns it; the policy lets it start that late
    await savePolicy(pool, { ...DEFAULT_POLICY, rollout: { ...DEFAULT_POLICY.rollout, minWindowRemaining: '1s' } }, 'test');
    const HOUR = 3_600_000;
    const before = await env.currentTimeMs();
    await env.sleep(HOUR - (before % HOUR) + 115_000);
    const now = new Date(await env.currentTimeMs());
    const hh = String(now.getUTCHours()).padStart(2, '0');
    const window: MaintenanceWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: `${hh}:00`, end: `${hh}:02` };
    const closesAt = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours(), 2);
    await deploy(
      patchId,
      [sshHost('so-slow', { timezone: 'UTC', maintenanceWindows: [window], simulation: { installMs: 8000 } })],
      [OPENSSH],
    );
    const selector = { patchId, ring: 'production', wave: 0 } as const;
    const result = await env.client.workflow.execute<typeof hostWave>('hostWave', {
      taskQueue: TASK_QUEUE,
      workflowId: `patch-${patchId}-production-0-1`,
      args: [{ selector, attempt: 1, maxConcurrent: 1, maxPerGroup: 1, budget: null, bypassWindows: false }],
    });
    expect(result).toMatchObject({ status: 'done', counts: { installed: 1 } });

    const records = (await pool.query('SELECT step, ok, detail, at FROM deployment_records WHERE patch_id = $1 ORDER BY id', [patchId]))
      .rows;
    expect(ms(records.find((r) => r.step === 'precheck').at)).toBeLessThan(closesAt);
    const overruns = records.filter((r) => r.step === 'overrun');
    expect(overruns).toHaveLength(1);
    expect(overruns[0]).toMatchObject({ ok: false, detail: expect.stringContaining(new Date(closesAt).toISOString()) });
    expect(ms(overruns[0].at)).toBeGreaterThan(closesAt);
    await savePolicy(pool, DEFAULT_POLICY, 'test');
  });
});

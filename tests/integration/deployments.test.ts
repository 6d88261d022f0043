/**
 * The simulated connector and the deployment activities on a real PostgreSQL, each activity run
 * in Temporal's MockActivityEnvironment (heartbeats, cancellation): every fault flag, idempotent
 * retries, the reboot path, rollbacks, the wave plan, host pages with their windows,
 * verification, stragglers, exceptions and the rollback order.
 */
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type Activities } from '../../src/activities';
import { getAsset, planPackageSetChange, setAssetPackages, upsertAssets, type StoredPackages } from '../../src/db/assets';
import { beginAttemptWithInventory, hostInventory, installAndMoveHost } from '../../src/db/deployments';
import { importOsv } from '../../src/db/feeds';
import { savePolicy } from '../../src/db/policy';
import { inTransaction } from '../../src/db/transaction';
import { AssetSchema, type AssetInput } from '../../src/domain/asset';
import type { HostWork, WaveHost } from '../../src/domain/deployment';
import type { RolloutPlanSettings } from '../../src/domain/patch-status';
import { rolloutPlanSettings } from '../../src/domain/governance';
import { DEFAULT_POLICY } from '../../src/domain/policy';
import { nextPatchWindow, type MaintenanceWindow } from '../../src/domain/planner';
import { assessPatch } from '../../src/services/assessment';
import { testAsset } from '../helpers/assets';
import { freshDatabase, logger } from '../helpers/servers';
import { readJson } from '../helpers/fixtures';
import { TEST_KEYS } from '../helpers/keys';

/** OpenSSH (USN-6859-1): 22.04 fixed in 1:8.9p1-3ubuntu0.10. glibc (USN-6409-1): libc6 fixed in 2.35-0ubuntu3.4, a reboot. */
const OPENSSH = 'USN-6859-1';
const GLIBC = 'USN-6409-1';
const SSH_OLD = '1:8.9p1-3ubuntu0.6';
const SSH_FIXED = '1:8.9p1-3ubuntu0.10';
const LIBC_OLD = '2.35-0ubuntu3.1';
const LIBC_FIXED = '2.35-0ubuntu3.4';

let pool: Pool;
let acts: Activities;

beforeAll(async () => {
  ({ pool } = await freshDatabase());
  await importOsv(pool, [readJson('osv', 'ubuntu', `${OPENSSH}.json`), readJson('osv', 'ubuntu', `${GLIBC}.json`)]);
  acts = createActivities({ pool, logger, workOrderKey: TEST_KEYS.workOrders });
});
afterAll(() => pool?.end());
// each test assesses against its own hosts only
afterEach(async () => {
  await pool.query('DELETE FROM assets');
});

const PLAN: RolloutPlanSettings = rolloutPlanSettings(DEFAULT_POLICY, { emergency: false, settings: {} }, false);

const sshHost = (id: string, overrides: Partial<AssetInput> = {}): AssetInput =>
  testAsset(id, {
    packages: [
      { name: 'openssh-server', version: SSH_OLD, source: 'openssh' },
      { name: 'bash', version: '5.1-6ubuntu1' },
    ],
    ...overrides,
  });
const libcHost = (id: string, overrides: Partial<AssetInput> = {}): AssetInput =>
  testAsset(id, { packages: [{ name: 'libc6', version: LIBC_OLD, source: 'glibc' }], ...overrides });

let patchSeq = 0;
/** Assets in the inventory, a patch assessed against them, its deployment started. */
async function deploy(assets: AssetInput[], options: { advisories?: string[]; plan?: Partial<RolloutPlanSettings> } = {}) {
  const patchId = `p${++patchSeq}`;
  await upsertAssets(
    pool,
    assets.map((a) => AssetSchema.parse(a)),
  );
  await assessPatch(pool, { patchId, advisoryIds: options.advisories ?? [OPENSSH] }, new Date());
  const plan = await acts.startDeployment(startInput(patchId, options.plan));
  return { patchId, plan };
}

const startInput = (patchId: string, plan: Partial<RolloutPlanSettings> = {}) => ({
  patchId,
  title: `patch ${patchId}`,
  priority: 2,
  emergency: false,
  openedAt: new Date().toISOString(),
  deadlines: {
    recommended: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    maximum: new Date(Date.now() + 14 * 86_400_000).toISOString(),
  },
  plan: { ...PLAN, ...plan },
});

async function work(patchId: string, assetId: string, attempt = 1): Promise<HostWork> {
  const { rows } = await pool.query('SELECT packages FROM deployment_hosts WHERE patch_id = $1 AND asset_id = $2', [patchId, assetId]);
  return {
    patchId,
    assetId,
    attempt,
    packages: Object.entries(rows[0].packages as Record<string, string>).map(([name, fixedVersion]) => ({ name, fixedVersion })),
  };
}

/** Runs an activity in a mock environment: a fresh one unless given (a cancelled one stays cancelled). */
const runIn = <A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  env.run<A, R, typeof fn>(fn, ...args);
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  runIn(new MockActivityEnvironment(), fn, ...args);

const host = async (patchId: string, assetId: string) =>
  (await pool.query('SELECT * FROM deployment_hosts WHERE patch_id = $1 AND asset_id = $2', [patchId, assetId])).rows[0];
const steps = async (patchId: string, assetId: string) =>
  (
    await pool.query(
      'SELECT attempt, step, ok, detail, changes FROM deployment_records WHERE patch_id = $1 AND asset_id = $2 ORDER BY id',
      [patchId, assetId],
    )
  ).rows;
const stepNames = async (patchId: string, assetId: string) =>
  (await steps(patchId, assetId)).map((s) => `${s.step}:${s.ok ? 'ok' : 'fail'}`);
const installed = async (assetId: string, name: string) => (await getAsset(pool, assetId))!.packages.find((p) => p.name === name)?.version;

describe('simulated connector: the per-host pipeline', () => {
  it('installs: precheck, backup, pre-install, install, post-check; the inventory changes with the install record', async () => {
    const { patchId } = await deploy([sshHost('ok-1')]);
    const result = await run(acts.deployHost, await work(patchId, 'ok-1'));
    expect(result.status).toBe('installed');
    expect(result.steps.map((s) => s.step)).toEqual(['precheck', 'backup', 'pre-install', 'install', 'post-check']);
    expect(await stepNames(patchId, 'ok-1')).toEqual(['precheck:ok', 'backup:ok', 'pre-install:ok', 'install:ok', 'post-check:ok']);
    const install = (await steps(patchId, 'ok-1')).find((s) => s.step === 'install');
    expect(install.changes).toEqual([{ name: 'openssh-server', from: SSH_OLD, to: SSH_FIXED }]);

    const asset = (await getAsset(pool, 'ok-1'))!;
    expect(asset.packages).toEqual([
      { name: 'bash', version: '5.1-6ubuntu1' },
      { name: 'openssh-server', version: SSH_FIXED, source: 'openssh' },
    ]);
    const row = await host(patchId, 'ok-1');
    expect(row).toMatchObject({
      status: 'installed',
      stage: 'done',
      attempts: 1,
      changed: true,
      reason: null,
      previous_versions: { 'openssh-server': SSH_OLD },
    });
    expect(row.started_at).toBeInstanceOf(Date);
    expect(row.finished_at.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
  });

  it('never installs twice: a retry resumes, a duplicate call in parallel loses the race', async () => {
    const { patchId } = await deploy([sshHost('idem-1'), sshHost('idem-2', { simulation: { installMs: 300 } })]);
    const first = await run(acts.deployHost, await work(patchId, 'idem-1'));
    const retry = await run(acts.deployHost, await work(patchId, 'idem-1'));
    expect(first.status).toBe('installed');
    expect(retry).toEqual({ status: 'installed', steps: [] });

    const twice = await Promise.all([
      run(acts.deployHost, await work(patchId, 'idem-2')),
      run(acts.deployHost, await work(patchId, 'idem-2')),
    ]);
    expect(twice.map((r) => r.status)).toEqual(['installed', 'installed']);
    for (const id of ['idem-1', 'idem-2']) {
      const rows = await steps(patchId, id);
      expect(rows.filter((s) => s.step === 'install' && s.ok)).toHaveLength(1);
      expect(rows.filter((s) => s.step === 'precheck')).toHaveLength(1);
    }
    expect(await installed('idem-2', 'openssh-server')).toBe(SSH_FIXED);
  });

  it('an instant install (installMs 0, no fault, no reboot) commits the whole pipeline at once, and only once', async () => {
    const { patchId } = await deploy([sshHost('instant-1', { simulation: { installMs: 0 } })]);
    const twice = await Promise.all([
      run(acts.deployHost, await work(patchId, 'instant-1')),
      run(acts.deployHost, await work(patchId, 'instant-1')),
    ]);
    expect(twice.map((r) => r.status)).toEqual(['installed', 'installed']);
    expect(await stepNames(patchId, 'instant-1')).toEqual(['precheck:ok', 'backup:ok', 'pre-install:ok', 'install:ok', 'post-check:ok']);
    expect(await host(patchId, 'instant-1')).toMatchObject({
      status: 'installed',
      stage: 'done',
      changed: true,
      previous_versions: { 'openssh-server': SSH_OLD },
    });
    expect(await installed('instant-1', 'openssh-server')).toBe(SSH_FIXED);
    expect(await installed('instant-1', 'bash')).toBe('5.1-6ubuntu1');
  });

  it('an instant install changes nothing when the packages changed after the inspection, and carries on from the new ones', async () => {
    const { patchId } = await deploy([sshHost('stale-1', { simulation: { installMs: 0 } })]);
    const { state, inventory } = (await beginAttemptWithInventory(pool, patchId, 'stale-1', 1, new Date()))!;
    const key = { patchId, assetId: 'stale-1', attempt: state.attempts };
    const install = async (stored: StoredPackages) => {
      const change = planPackageSetChange(stored, [{ name: 'openssh-server', version: SSH_FIXED }])!;
      const steps = [{ step: 'install' as const, ok: true, detail: 'installed', changes: change.applied, at: new Date().toISOString() }];
      return installAndMoveHost(
        pool,
        key,
        'new',
        { stage: 'done', status: 'installed', changed: true, finished: true },
        steps,
        change,
        new Date(),
      );
    };
    // another patch changes the host between the inspection and the install
    await inTransaction(pool, (client) => setAssetPackages(client, 'stale-1', [{ name: 'bash', version: '5.1-6ubuntu1.1' }]));
    expect(await install(inventory!.stored)).toBe('lost');
    expect(await installed('stale-1', 'openssh-server')).toBe(SSH_OLD);
    expect(await host(patchId, 'stale-1')).toMatchObject({ stage: 'new', status: 'in-progress', changed: false });
    expect(await stepNames(patchId, 'stale-1')).toEqual([]);

    const current = (await hostInventory(pool, 'stale-1'))!.stored;
    expect(await install(current)).toBe('moved');
    expect(await installed('stale-1', 'openssh-server')).toBe(SSH_FIXED);
    expect(await installed('stale-1', 'bash')).toBe('5.1-6ubuntu1.1');
    expect(await host(patchId, 'stale-1')).toMatchObject({ stage: 'done', status: 'installed', changed: true });
    // the same install again (a duplicate call) finds the host moved on, and changes nothing
    expect(await install(current)).toBe('lost');
    expect(await stepNames(patchId, 'stale-1')).toEqual(['install:ok']);
  });

  it('a host already at the fixed versions is skipped', async () => {
    const { patchId } = await deploy([sshHost('skip-1')]);
    await inTransaction(pool, (client) => setAssetPackages(client, 'skip-1', [{ name: 'openssh-server', version: SSH_FIXED }]));
    const result = await run(acts.deployHost, await work(patchId, 'skip-1'));
    expect(result).toMatchObject({ status: 'skipped' });
    expect(await stepNames(patchId, 'skip-1')).toEqual(['precheck:ok']);
    expect(await host(patchId, 'skip-1')).toMatchObject({ status: 'skipped', stage: 'done', changed: false, previous_versions: null });
  });

  it.each([
    ['unreachable', { unreachable: true }, 'unreachable', 'unreachable', ['precheck:fail']],
    ['diskFull', { diskFull: true }, 'failed', 'disk full', ['precheck:fail']],
    ['failInstall', { failInstall: true }, 'failed', 'install failed', ['precheck:ok', 'backup:ok', 'pre-install:ok', 'install:fail']],
  ] as const)('%s: %s, nothing changed', async (_flag, simulation, status, reason, expected) => {
    const id = `fault-${_flag}`;
    const { patchId } = await deploy([sshHost(id, { simulation })]);
    const result = await run(acts.deployHost, await work(patchId, id));
    expect(result).toMatchObject({ status, reason });
    expect(await stepNames(patchId, id)).toEqual(expected);
    expect(await host(patchId, id)).toMatchObject({ status, reason, stage: 'done', changed: false, attempts: 1 });
    expect(await installed(id, 'openssh-server')).toBe(SSH_OLD);
  });

  it('failVerify: the post-install checks fail and the host is rolled back to its versions', async () => {
    const { patchId } = await deploy([sshHost('verify-1', { simulation: { failVerify: true } })]);
    const result = await run(acts.deployHost, await work(patchId, 'verify-1'));
    expect(result).toMatchObject({ status: 'rolled-back', reason: 'post-install checks failed' });
    expect(await stepNames(patchId, 'verify-1')).toEqual([
      'precheck:ok',
      'backup:ok',
      'pre-install:ok',
      'install:ok',
      'post-check:fail',
      'rollback:ok',
    ]);
    const rollback = (await steps(patchId, 'verify-1')).at(-1);
    expect(rollback.changes).toEqual([{ name: 'openssh-server', from: SSH_FIXED, to: SSH_OLD }]);
    expect(await installed('verify-1', 'openssh-server')).toBe(SSH_OLD);
    expect(await host(patchId, 'verify-1')).toMatchObject({
      status: 'rolled-back',
      changed: false,
      previous_versions: { 'openssh-server': SSH_OLD },
    });
  });

  it('the reboot path: reboot-required, reboot, await until the host is back, post-check', async () => {
    const { patchId } = await deploy([libcHost('boot-1', { simulation: { installMs: 400 } })], { advisories: [GLIBC] });
    const w = await work(patchId, 'boot-1');
    expect(w.packages).toEqual([{ name: 'libc6', fixedVersion: LIBC_FIXED }]);

    expect((await run(acts.deployHost, w)).status).toBe('reboot-required');
    expect(await host(patchId, 'boot-1')).toMatchObject({ status: 'rebooting', stage: 'changed', changed: true });
    expect(await run(acts.deployHost, w)).toEqual({ status: 'reboot-required', steps: [] });

    const issued = Date.now();
    expect((await run(acts.rebootHost, w)).status).toBe('reboot-required');
    const rebooting = await host(patchId, 'boot-1');
    expect(rebooting).toMatchObject({ status: 'rebooting', stage: 'rebooted' });
    expect(rebooting.back_at.getTime() - issued).toBeGreaterThanOrEqual(350);
    expect((await run(acts.rebootHost, w)).steps).toEqual([]);

    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const back = await runIn(env, acts.awaitHost, w);
    expect(back.status).toBe('reboot-required');
    expect(Date.now()).toBeGreaterThanOrEqual(rebooting.back_at.getTime());
    expect(beats).toBeGreaterThanOrEqual(1);
    expect((await run(acts.awaitHost, w)).steps).toEqual([]);

    expect(await run(acts.postCheckHost, w)).toMatchObject({ status: 'installed' });
    expect(await stepNames(patchId, 'boot-1')).toEqual([
      'precheck:ok',
      'backup:ok',
      'pre-install:ok',
      'install:ok',
      'reboot:ok',
      'await:ok',
      'post-check:ok',
    ]);
    expect(await installed('boot-1', 'libc6')).toBe(LIBC_FIXED);
  });

  it('failReboot rolls back with "reboot failed", and only matters when a reboot is needed', async () => {
    const { patchId } = await deploy([libcHost('boot-fail', { simulation: { failReboot: true } })], { advisories: [GLIBC] });
    const w = await work(patchId, 'boot-fail');
    expect((await run(acts.deployHost, w)).status).toBe('reboot-required');
    expect(await run(acts.rebootHost, w)).toMatchObject({ status: 'rolled-back', reason: 'reboot failed' });
    expect(await stepNames(patchId, 'boot-fail')).toEqual([
      'precheck:ok',
      'backup:ok',
      'pre-install:ok',
      'install:ok',
      'reboot:fail',
      'rollback:ok',
    ]);
    expect(await installed('boot-fail', 'libc6')).toBe(LIBC_OLD);
    expect(await run(acts.awaitHost, w)).toMatchObject({ status: 'rolled-back', steps: [] });

    const ssh = await deploy([sshHost('no-boot', { simulation: { failReboot: true } })]);
    expect((await run(acts.deployHost, await work(ssh.patchId, 'no-boot'))).status).toBe('installed');
  });

  it('heartbeats through a long install; a cancellation stops a host before its install, never during it', async () => {
    const { patchId } = await deploy([sshHost('long-1', { simulation: { installMs: 1500 } }), sshHost('cancel-1')]);

    const before = new MockActivityEnvironment();
    before.cancel();
    await expect(runIn(before, acts.deployHost, await work(patchId, 'cancel-1'))).rejects.toBeInstanceOf(CancelledFailure);
    expect(await steps(patchId, 'cancel-1')).toEqual([]);
    expect(await installed('cancel-1', 'openssh-server')).toBe(SSH_OLD);
    expect((await run(acts.deployHost, await work(patchId, 'cancel-1'))).status).toBe('installed');

    const env = new MockActivityEnvironment();
    const beats: number[] = [];
    env.on('heartbeat', () => beats.push(Date.now()));
    const running = runIn(env, acts.deployHost, await work(patchId, 'long-1'));
    for (let i = 0; i < 100 && (await host(patchId, 'long-1')).stage !== 'prepared'; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300)); // well inside the install
    env.cancel();
    expect((await running).status).toBe('installed');
    const gaps = beats.slice(1).map((t, i) => t - beats[i]!);
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1000);
    expect((await steps(patchId, 'long-1')).filter((s) => s.step === 'install')).toHaveLength(1);
  });

  it('rollbackHost restores the previous versions once; a later attempt installs again', async () => {
    const { patchId } = await deploy([sshHost('rb-1')]);
    await run(acts.deployHost, await work(patchId, 'rb-1'));
    const [changed] = await acts.changedHosts({ patchId, limit: 10 });
    expect(changed).toEqual({ ...(await work(patchId, 'rb-1')), previousVersions: { 'openssh-server': SSH_OLD }, connector: 'simulated' });

    const rolled = await run(acts.rollbackHost, changed!);
    expect(rolled.status).toBe('rolled-back');
    expect(rolled.steps[0]!.changes).toEqual([{ name: 'openssh-server', from: SSH_FIXED, to: SSH_OLD }]);
    expect(await installed('rb-1', 'openssh-server')).toBe(SSH_OLD);
    expect(await host(patchId, 'rb-1')).toMatchObject({ status: 'rolled-back', changed: false, reason: 'rolled back' });
    expect(await run(acts.rollbackHost, changed!)).toMatchObject({ status: 'rolled-back', steps: [] });
    expect(await acts.changedHosts({ patchId, limit: 10 })).toEqual([]);

    expect((await run(acts.deployHost, await work(patchId, 'rb-1', 2))).status).toBe('installed');
    expect(await host(patchId, 'rb-1')).toMatchObject({ attempts: 2, changed: true, previous_versions: { 'openssh-server': SSH_OLD } });
    expect((await steps(patchId, 'rb-1')).filter((s) => s.step === 'install').map((s) => s.attempt)).toEqual([1, 2]);
  });

  it('testHost runs the role test plan (failing under failVerify); inspectHost compares the inventory', async () => {
    const { patchId } = await deploy([
      sshHost('lab-ok', { environment: 'lab', role: 'web' }),
      sshHost('lab-bad', { environment: 'lab', simulation: { failVerify: true } }),
    ]);
    const ok = await work(patchId, 'lab-ok');
    expect(await run(acts.inspectHost, ok)).toMatchObject({ compliant: false, reason: expect.stringContaining(SSH_OLD) });
    await run(acts.deployHost, ok);
    expect(await run(acts.inspectHost, ok)).toEqual({ assetId: 'lab-ok', compliant: true });

    const checks = await run(acts.testHost, { ...ok, role: 'web' });
    expect(checks.map((c) => c.check)).toEqual([
      'web: services up',
      'web: logins work',
      'web: no new errors in the logs',
      'web: performance within 10% of baseline',
    ]);
    expect(checks.every((c) => c.ok)).toBe(true);
    await run(acts.testHost, { ...ok, role: 'web' });
    expect((await steps(patchId, 'lab-ok')).filter((s) => s.step === 'test')).toHaveLength(1);

    const bad = await run(acts.testHost, { ...(await work(patchId, 'lab-bad')), role: null });
    expect(bad.map((c) => c.ok)).toEqual([false, false, false, false]);
    expect(bad[0]!.check).toBe('generic: services up');
  });
});

describe('deployment activities', () => {
  it('plans lab and pilot in strategy order and production waves that never hold a whole group', async () => {
    const assets = [
      sshHost('w-lab-1', { environment: 'lab', role: 'web' }),
      sshHost('w-pilot-1', { environment: 'pilot', role: 'web' }),
      sshHost('w-pilot-2', { environment: 'pilot', role: 'mail', criticality: 'low' }),
      ...['a', 'b', 'c', 'd'].map((x) => sshHost(`w-web-${x}`, { role: 'web', redundancyGroup: 'web-cluster' })),
      ...['a', 'b'].map((x) => sshHost(`w-db-${x}`, { role: 'db', redundancyGroup: 'db-pair', criticality: 'critical' })),
      ...['a', 'b', 'c', 'd'].map((x) => sshHost(`w-solo-${x}`, { criticality: 'low' })),
    ];
    const { patchId, plan } = await deploy(assets, { plan: { productionWaves: 3, maxPerGroupPerWave: 1 } });
    expect(plan).toMatchObject({
      lab: 1,
      pilot: 2,
      uncoveredRoles: ['db', 'mail'],
      feedbackThreshold: DEFAULT_POLICY.rollout.feedbackThreshold,
    });
    expect(plan.waves.reduce((n, w) => n + w.size, 0)).toBe(10);
    expect(plan.waves.map((w) => w.index)).toEqual(plan.waves.map((_, i) => i));

    const rows = (
      await pool.query(
        'SELECT asset_id, ring, wave, position, redundancy_group FROM deployment_hosts WHERE patch_id = $1 ORDER BY position',
        [patchId],
      )
    ).rows;
    expect(rows.slice(0, 3).map((r) => r.asset_id)).toEqual(['w-lab-1', 'w-pilot-2', 'w-pilot-1']);
    for (const group of ['web-cluster', 'db-pair']) {
      const waves = rows.filter((r) => r.redundancy_group === group).map((r) => r.wave);
      expect(new Set(waves).size).toBe(waves.length);
    }
    expect(new Set(rows.map((r) => r.position)).size).toBe(rows.length);

    // again: the same rows
    await acts.startDeployment(startInput(patchId, { productionWaves: 3, maxPerGroupPerWave: 1 }));
    const again = (
      await pool.query(
        'SELECT asset_id, ring, wave, position, redundancy_group FROM deployment_hosts WHERE patch_id = $1 ORDER BY position',
        [patchId],
      )
    ).rows;
    expect(again).toEqual(rows);

    // a started host keeps its place; the others are planned again after it, a host no longer targeted goes
    const started = rows.find((r) => r.ring === 'production')!;
    await run(acts.deployHost, await work(patchId, started.asset_id));
    await pool.query(`DELETE FROM patch_targets WHERE patch_id = $1 AND asset_id = 'w-solo-d'`, [patchId]);
    const replanned = await acts.startDeployment(startInput(patchId, { productionWaves: 1, maxPerGroupPerWave: 2 }));
    const after = (
      await pool.query('SELECT asset_id, ring, wave, position FROM deployment_hosts WHERE patch_id = $1 ORDER BY position', [patchId])
    ).rows;
    expect(after.find((r) => r.asset_id === started.asset_id)).toEqual({
      asset_id: started.asset_id,
      ring: 'production',
      wave: started.wave,
      position: started.position,
    });
    expect(after.map((r) => r.asset_id)).not.toContain('w-solo-d');
    const others = after.filter((r) => r.ring === 'production' && r.asset_id !== started.asset_id);
    expect(others.every((r) => r.wave > started.wave && r.position > started.position)).toBe(true);
    expect(replanned.waves.reduce((n, w) => n + w.size, 0)).toBe(9);
  });

  it('waveHosts pages a wave in plan order, each host with its next window', async () => {
    const windows: MaintenanceWindow[] = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '02:00', end: '04:00' }];
    const assets = [
      ...Array.from({ length: 7 }, (_, i) => sshHost(`page-${i}`, { environment: 'pilot', role: 'web' })),
      sshHost('page-win', { environment: 'pilot', timezone: 'Asia/Tokyo', maintenanceWindows: windows }),
    ];
    const { patchId } = await deploy(assets);
    const pages: WaveHost[][] = [];
    let after = -1;
    for (;;) {
      const page = await acts.waveHosts({ patchId, ring: 'pilot', wave: null, after, limit: 3, bypassWindows: false });
      if (page.length === 0) break;
      pages.push(page);
      after = page.at(-1)!.position;
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
    const all = pages.flat();
    expect(new Set(all.map((h) => h.assetId)).size).toBe(8);
    expect(all.map((h) => h.position)).toEqual([...all.map((h) => h.position)].sort((a, b) => a - b));
    expect(await acts.waveHosts({ patchId, ring: 'production', wave: 0, after: -1, limit: 10, bypassWindows: false })).toEqual([]);

    const open = all.find((h) => h.assetId === 'page-0')!;
    expect(open).toMatchObject({
      connector: 'simulated',
      role: 'web',
      status: 'pending',
      redundancyGroup: null,
      packages: [{ name: 'openssh-server', fixedVersion: SSH_FIXED }],
    });
    expect(open.window!.closesAt).toBeNull();
    expect(Math.abs(Date.parse(open.window!.opensAt) - Date.now())).toBeLessThan(5_000);

    const windowed = all.find((h) => h.assetId === 'page-win')!;
    const expected = nextPatchWindow(
      { timezone: 'Asia/Tokyo', maintenanceWindows: windows },
      new Date(Date.parse(windowed.window!.opensAt) - 1),
      [],
      false,
    )!;
    expect(windowed.window!.closesAt).toBe(expected.end.toISOString());
    expect(Date.parse(windowed.window!.closesAt!) - Date.parse(windowed.window!.opensAt)).toBeLessThanOrEqual(2 * 3_600_000);
    // the policy's minWindowRemaining (30m) before it closes is the last moment an install may begin
    expect(Date.parse(windowed.window!.closesAt!) - Date.parse(windowed.window!.startBy!)).toBe(30 * 60_000);
    // asked about another time (the workflow's own clock), the window is the one open then
    const later = await acts.waveHosts({
      patchId,
      ring: 'pilot',
      wave: null,
      after: windowed.position - 1,
      limit: 1,
      bypassWindows: false,
      // 03:45 Tokyo (18:45 UTC): 15 minutes of today's 02:00–04:00 window left, too few; tomorrow's then
      at: '2030-01-07T18:45:00Z',
    });
    expect(later[0]!.window).toEqual({
      opensAt: '2030-01-08T17:00:00.000Z',
      closesAt: '2030-01-08T19:00:00.000Z',
      startBy: '2030-01-08T18:30:00.000Z',
    });
    const bypassed = await acts.waveHosts({
      patchId,
      ring: 'pilot',
      wave: null,
      after: windowed.position - 1,
      limit: 1,
      bypassWindows: true,
    });
    expect(bypassed[0]!.window!.closesAt).toBeNull();

    // a change freeze of the policy: hosts without windows open when it ends; windowed ones find none in the horizon
    const freeze = {
      start: new Date(Date.now() - 3_600_000).toISOString(),
      end: new Date(Date.now() + 100 * 86_400_000).toISOString(),
      reason: 'year end',
    };
    await savePolicy(pool, { ...DEFAULT_POLICY, rollout: { ...DEFAULT_POLICY.rollout, changeFreezes: [freeze] } }, 'test');
    try {
      const frozen = await acts.waveHosts({ patchId, ring: 'pilot', wave: null, after: -1, limit: 10, bypassWindows: false });
      expect(frozen.find((h) => h.assetId === 'page-0')!.window).toEqual({
        opensAt: new Date(freeze.end).toISOString(),
        closesAt: null,
        startBy: null,
      });
      expect(frozen.find((h) => h.assetId === 'page-win')!.window).toBeNull();
      const emergency = await acts.waveHosts({ patchId, ring: 'pilot', wave: null, after: -1, limit: 10, bypassWindows: true });
      expect(emergency.every((h) => h.window !== null && h.window.closesAt === null)).toBe(true);
    } finally {
      await savePolicy(pool, DEFAULT_POLICY, 'test');
    }
  });

  it('verifyHosts rechecks the inventory with the matcher: still-affected hosts fail, agent hosts are left to their agents', async () => {
    const { patchId } = await deploy([
      sshHost('v-ok'),
      sshHost('v-tampered'),
      sshHost('v-down', { simulation: { unreachable: true } }),
      sshHost('v-fixed-elsewhere', { simulation: { diskFull: true } }),
      sshHost('v-agent', { connector: 'agent' }),
    ]);
    for (const id of ['v-ok', 'v-tampered', 'v-down', 'v-fixed-elsewhere']) await run(acts.deployHost, await work(patchId, id));
    // a host recorded installed that is affected again; a failed one fixed out of band
    await inTransaction(pool, async (client) => {
      await setAssetPackages(client, 'v-tampered', [{ name: 'openssh-server', version: SSH_OLD }]);
      await setAssetPackages(client, 'v-fixed-elsewhere', [{ name: 'openssh-server', version: SSH_FIXED }]);
    });

    const result = await acts.verifyHosts({ patchId, advisoryIds: [OPENSSH] });
    expect(result.checked).toBe(4);
    expect(result.nonCompliant).toEqual([
      { assetId: 'v-down', compliant: false, reason: 'unreachable' },
      { assetId: 'v-tampered', compliant: false, reason: `verification: openssh-server ${SSH_OLD} is below ${SSH_FIXED} (${OPENSSH})` },
    ]);
    expect(result.agentHosts).toEqual([await work(patchId, 'v-agent', 0)]);
    expect(await host(patchId, 'v-tampered')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^verification: /) });
    expect(await host(patchId, 'v-fixed-elsewhere')).toMatchObject({ status: 'skipped' });
    expect(await host(patchId, 'v-ok')).toMatchObject({ status: 'installed' });
    expect((await steps(patchId, 'v-tampered')).at(-1)).toMatchObject({ step: 'verify', ok: false });

    // again: nothing more changes, nothing more is recorded
    const records = (await pool.query('SELECT count(*)::int AS n FROM deployment_records WHERE patch_id = $1', [patchId])).rows[0].n;
    expect((await acts.verifyHosts({ patchId, advisoryIds: [OPENSSH] })).nonCompliant.map((h) => h.assetId)).toEqual([
      'v-down',
      'v-tampered',
    ]);
    expect((await pool.query('SELECT count(*)::int AS n FROM deployment_records WHERE patch_id = $1', [patchId])).rows[0].n).toBe(records);
  });

  it('stragglers: not compliant, not under a running exception or deferral; the straggler sweep pages the same hosts', async () => {
    const { patchId } = await deploy([
      sshHost('s-lab', { environment: 'lab', simulation: { failInstall: true } }),
      sshHost('s-ok'),
      sshHost('s-down', { simulation: { unreachable: true } }),
      sshHost('s-disk', { simulation: { diskFull: true } }),
      sshHost('s-excepted', { simulation: { unreachable: true } }),
      sshHost('s-expired', { simulation: { unreachable: true } }),
      sshHost('s-deferred'),
      sshHost('s-pending'),
    ]);
    for (const id of ['s-lab', 's-ok', 's-down', 's-disk', 's-excepted', 's-expired']) await run(acts.deployHost, await work(patchId, id));
    const soon = new Date(Date.now() + 86_400_000).toISOString();
    const exception = {
      id: 'ex-1',
      patchId,
      assetId: 's-excepted',
      compensatingControl: 'port closed at the firewall',
      expiresAt: soon,
      approvedBy: 'carol',
    };
    await acts.recordException(exception);
    await acts.recordException({ ...exception, expiresAt: new Date(Date.now() + 999 * 86_400_000).toISOString() });
    await acts.recordException({
      id: 'ex-2',
      patchId,
      assetId: 's-expired',
      compensatingControl: 'waf rule',
      expiresAt: new Date(Date.now() - 1000).toISOString(),
      approvedBy: 'carol',
    });
    await acts.recordDeferral({
      id: 'df-1',
      patchId,
      assetId: 's-deferred',
      until: soon,
      reason: 'quarter-end freeze of the team',
      requestedBy: 'owner',
    });
    expect((await pool.query('SELECT expires_at FROM host_exceptions WHERE id = $1', ['ex-1'])).rows).toEqual([
      { expires_at: new Date(soon) },
    ]);
    await acts.markHost({ patchId, assetId: 's-pending', status: 'pending', reason: 'held: another member failed' });

    const list = await acts.stragglers(patchId);
    expect(list).toEqual([
      { assetId: 's-lab', reason: 'install failed', attempts: 1 },
      { assetId: 's-disk', reason: 'disk full', attempts: 1 },
      { assetId: 's-down', reason: 'unreachable', attempts: 1 },
      { assetId: 's-expired', reason: 'exception expired', attempts: 1 },
      { assetId: 's-pending', reason: 'held: another member failed', attempts: 0 },
    ]);
    const sweep = await acts.waveHosts({
      patchId,
      ring: 'production',
      wave: null,
      after: -1,
      limit: 100,
      bypassWindows: false,
      stragglersOnly: true,
    });
    expect(sweep.map((h) => h.assetId)).toEqual(list.map((s) => s.assetId));
    expect(await acts.hostCounts(patchId)).toEqual({ deferred: 1, excepted: 2, failed: 2, installed: 1, pending: 1, unreachable: 1 });

    await acts.recordBreaches({ patchId, hosts: list.map(({ assetId, reason }) => ({ assetId, reason })) });
    await acts.recordBreaches({ patchId, hosts: [{ assetId: 's-down', reason: 'changed my mind' }] });
    const breaches = (await pool.query('SELECT asset_id, reason FROM sla_breaches WHERE patch_id = $1 ORDER BY asset_id', [patchId])).rows;
    expect(breaches).toHaveLength(5);
    expect(breaches.find((b) => b.asset_id === 's-down').reason).toBe('unreachable');

    await acts.finishDeployment({ patchId, outcome: 'completed' });
    const first = (await pool.query('SELECT finished_at, outcome FROM patch_deployments WHERE patch_id = $1', [patchId])).rows[0];
    await acts.finishDeployment({ patchId, outcome: 'completed' });
    expect((await pool.query('SELECT finished_at, outcome FROM patch_deployments WHERE patch_id = $1', [patchId])).rows[0]).toEqual(first);
  });

  it('changedHosts: production waves newest first, then pilot, then lab; the next call gives the next ones', async () => {
    const { patchId, plan } = await deploy(
      [
        sshHost('c-lab', { environment: 'lab' }),
        sshHost('c-pilot', { environment: 'pilot' }),
        ...['a', 'b', 'c'].map((x) => sshHost(`c-prod-${x}`, { redundancyGroup: 'trio' })),
        sshHost('c-untouched'),
      ],
      { plan: { productionWaves: 2 } },
    );
    expect(plan.waves.length).toBeGreaterThanOrEqual(2);
    const order = (await pool.query('SELECT asset_id, ring, wave FROM deployment_hosts WHERE patch_id = $1 ORDER BY position', [patchId]))
      .rows;
    for (const r of order.filter((r) => r.asset_id !== 'c-untouched')) await run(acts.deployHost, await work(patchId, r.asset_id));

    const all = await acts.changedHosts({ patchId, limit: 100 });
    expect(all).toHaveLength(5);
    expect(all.map((h) => h.assetId).slice(-2)).toEqual(['c-pilot', 'c-lab']);
    const waveOf = new Map(order.map((r) => [r.asset_id, r.wave ?? -1]));
    const waves = all.slice(0, -2).map((h) => waveOf.get(h.assetId)!);
    expect(waves).toEqual([...waves].sort((a, b) => b - a));

    const firstTwo = await acts.changedHosts({ patchId, limit: 2 });
    expect(firstTwo).toEqual(all.slice(0, 2));
    for (const h of firstTwo) await run(acts.rollbackHost, h);
    expect((await acts.changedHosts({ patchId, limit: 2 })).map((h) => h.assetId)).toEqual(all.slice(2, 4).map((h) => h.assetId));
  });

  it("recordHostSteps writes an agent's steps and status once, with what the install replaced", async () => {
    const { patchId } = await deploy([sshHost('agent-1', { connector: 'agent' })], { advisories: [OPENSSH] });
    const w = await work(patchId, 'agent-1');
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const changes = [{ name: 'openssh-server', from: SSH_OLD, to: SSH_FIXED }];
    const first = {
      work: w,
      result: {
        status: 'reboot-required' as const,
        steps: [
          { step: 'precheck' as const, ok: true, detail: 'apt: reachable', at: at(1) },
          { step: 'install' as const, ok: true, detail: 'apt-get install', changes, at: at(2) },
        ],
      },
    };
    await acts.recordHostSteps(first);
    await acts.recordHostSteps(first);
    expect(await host(patchId, 'agent-1')).toMatchObject({
      status: 'rebooting',
      changed: true,
      attempts: 1,
      previous_versions: { 'openssh-server': SSH_OLD },
    });
    await acts.recordHostSteps({
      work: w,
      result: { status: 'installed', steps: [{ step: 'post-check', ok: true, detail: 'sshd up', at: at(3) }] },
    });
    expect(await stepNames(patchId, 'agent-1')).toEqual(['precheck:ok', 'install:ok', 'post-check:ok']);
    const row = await host(patchId, 'agent-1');
    expect(row).toMatchObject({ status: 'installed', stage: 'done', changed: true });
    expect(row.finished_at).toBeInstanceOf(Date);
    // the inventory is the agent's business (a rescan), not the records'
    expect(await installed('agent-1', 'openssh-server')).toBe(SSH_OLD);
  });
});

/**
 * A real `patchflow agent --dry-run` process (from source, through tsx) on this Debian machine,
 * polling `patchflow-host-<asset>` on the run's dev server: workflows on other task queues reach
 * it, it answers from the real dpkg database, changes nothing, and stops cleanly on SIGTERM.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { getAsset, upsertAssets } from '../../src/db/assets';
import { AssetSchema } from '../../src/domain/asset';
import type { HostWork } from '../../src/domain/deployment';
import type { AgentCall } from '../helpers/agent-workflows';
import { testAsset } from '../helpers/assets';
import { freshDatabase, startTestWorker, temporalEnvironment } from '../helpers/servers';

const ROOT = path.resolve(__dirname, '..', '..');
const assetId = `agent-it-${crypto.randomBytes(3).toString('hex')}`;
const installed = (name: string) => execFileSync('dpkg-query', ['-W', '--showformat=${Version}', name], { encoding: 'utf8' });

let env: TestWorkflowEnvironment;
let pool: Pool;
let agent: ChildProcess;
let agentExit: Promise<number | null>;
let agentLog = '';
let shared: { taskQueue: string; stop: () => Promise<void> };
let probe: { taskQueue: string; stop: () => Promise<void> };

beforeAll(async () => {
  agent = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts'), 'agent', '--asset', assetId, '--dry-run'], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: 'default',
      DATABASE_URL: '',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  agentExit = new Promise((resolve) => agent.once('exit', (code) => resolve(code)));
  agent.stderr!.on('data', (chunk) => (agentLog += chunk));

  const db = await freshDatabase();
  pool = db.pool;
  env = await temporalEnvironment();
  const sharedQueue = `test-${crypto.randomBytes(4).toString('hex')}`;
  shared = { taskQueue: sharedQueue, ...(await startTestWorker(env.nativeConnection, pool, sharedQueue)) };

  const probeQueue = `agent-probe-${crypto.randomBytes(4).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: probeQueue,
    workflowsPath: path.join(__dirname, '..', 'helpers', 'agent-workflows.ts'),
  });
  const running = worker.run();
  probe = { taskQueue: probeQueue, stop: () => (worker.shutdown(), running) };

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent not polling after 60 s:\n${agentLog}`)), 60_000);
    const poll = setInterval(() => {
      if (!agentLog.includes('"msg":"agent polling"')) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    }, 100);
    void agentExit.then((code) => reject(new Error(`agent exited with ${code}:\n${agentLog}`)));
  });
});

afterAll(async () => {
  if (agent && agent.exitCode === null) agent.kill('SIGKILL');
  await probe?.stop();
  await shared?.stop();
  await env?.teardown();
  await pool?.end();
});

const work = (packages: HostWork['packages'], host = assetId): HostWork => ({ patchId: 'agent-it', assetId: host, attempt: 1, packages });

it('runs deployHost and inspectHost on patchflow-host-<asset> for a workflow on another queue, in dry-run', async () => {
  const bash = installed('bash');
  const libc = installed('libc6');
  const calls: AgentCall[] = [
    { activity: 'deployHost', work: work([{ name: 'bash', fixedVersion: `${bash}+pf1` }]) },
    { activity: 'deployHost', work: work([{ name: 'bash', fixedVersion: bash }]) },
    { activity: 'deployHost', work: work([{ name: 'libc6', fixedVersion: `${libc}+pf1` }]) },
    { activity: 'inspectHost', work: work([{ name: 'bash', fixedVersion: `${bash}+pf1` }]) },
    { activity: 'inspectHost', work: work([{ name: 'bash', fixedVersion: bash }]) },
    { activity: 'deployHost', work: work([{ name: 'bash', fixedVersion: `${bash}+pf1` }], 'someone-else') },
  ];
  const [install, skip, reboot, affected, compliant, wrongHost] = (await env.client.workflow.execute('callAgent', {
    taskQueue: probe.taskQueue,
    workflowId: `agent-probe-${crypto.randomBytes(4).toString('hex')}`,
    args: [assetId, calls],
  })) as any[];

  expect(install.status).toBe('installed');
  expect(install.steps.map((s: any) => s.step)).toEqual(['precheck', 'backup', 'install']);
  expect(install.steps[0].detail).toMatch(new RegExp(`^affected: bash ${bash.replaceAll('+', '\\+')} < `));
  expect(install.steps[2]).toMatchObject({
    ok: true,
    detail: expect.stringMatching(/^dry-run: would run: apt-get install -q -y .* --only-upgrade bash=/),
    changes: [{ name: 'bash', from: bash, to: `${bash}+pf1` }],
  });
  expect(skip).toMatchObject({
    status: 'skipped',
    steps: [{ step: 'precheck', ok: true, detail: `not affected: bash ${bash} ≥ ${bash}` }],
  });
  expect(reboot.status).toBe('reboot-required');
  expect(affected).toEqual({ assetId, compliant: false, reason: `still affected: bash ${bash} < ${bash}+pf1` });
  expect(compliant).toEqual({ assetId, compliant: true });
  expect(wrongHost).toEqual({ error: `work for someone-else reached the agent of ${assetId}` });

  // the agent ran only its read-only commands, and the host is as it was
  const ran = agentLog
    .split('\n')
    .filter((line) => line.includes('"msg":"ran"'))
    .map((line) => JSON.parse(line).argv[0]);
  expect(new Set(ran)).toEqual(new Set(['dpkg-query', 'df']));
  expect(installed('bash')).toBe(bash);
});

it('refreshHostInventory puts the agent-reported packages into the asset, keeping language-ecosystem packages', async () => {
  const asset = testAsset(assetId, {
    os: { name: 'debian', version: '12' },
    connector: 'agent',
    packages: [
      { name: 'bash', version: '1.0-1' },
      { name: 'log4j-core', version: '2.14.1', ecosystem: 'Maven' },
    ],
  });
  await upsertAssets(pool, [AssetSchema.parse(asset)]);
  const count = execFileSync('dpkg-query', ['-W', '--showformat=${db:Status-Abbrev}\\n'], { encoding: 'utf8' })
    .split('\n')
    .filter((status) => status[1] !== undefined && !'nc'.includes(status[1])).length;

  const result = await env.client.workflow.execute('refreshHostInventory', {
    taskQueue: shared.taskQueue,
    workflowId: `inventory-${assetId}`,
    args: [assetId],
  });
  expect(result).toEqual({ assetId, packages: count });

  const stored = await getAsset(pool, assetId);
  expect(stored!.packageCount).toBe(count + 1);
  expect(stored!.packages).toContainEqual({ name: 'bash', version: installed('bash'), arch: 'amd64' });
  expect(stored!.packages).toContainEqual({ name: 'log4j-core', version: '2.14.1', ecosystem: 'Maven' });
  expect(stored!.connector).toBe('agent');
});

it('stops cleanly on SIGTERM', async () => {
  agent.kill('SIGTERM');
  expect(await agentExit).toBe(0);
  expect(agentLog).toContain('"msg":"stopping"');
});

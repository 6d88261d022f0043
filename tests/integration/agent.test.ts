/**
 * A real `patchflow agent --dry-run` process (from source, through tsx) on this Debian machine,
 * polling `patchflow-host-<asset>` on the run's dev server: workflows on other task queues reach
 * it, it answers from the real dpkg database, changes nothing, and stops cleanly on SIGTERM. It
 * trusts the test worker's work-order key: the rollout's pipeline gets genuine orders from the
 * signing activity, and forged orders and rollbacks are refused with nothing run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { getAsset, upsertAssets } from '../../src/db/assets';
import { recordAudit } from '../../src/db/audit';
import { AssetSchema } from '../../src/domain/asset';
import type { HostWork } from '../../src/domain/deployment';
import { newWorkOrder, signWorkOrder, workOrderRequest, type SignedWorkOrder, type WorkOperation } from '../../src/domain/work-order';
import { newSigningKey } from '../../src/signing/keys';
import type { AgentCall } from '../helpers/agent-workflows';
import { testAsset } from '../helpers/assets';
import { TEST_KEYS } from '../helpers/keys';
import { freshDatabase, logger, startTestWorker, temporalEnvironment } from '../helpers/servers';

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
const journal = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pf-agent-it-')), 'journal.jsonl');

beforeAll(async () => {
  const args = ['agent', '--asset', assetId, '--dry-run', '--orchestrator-key', TEST_KEYS.workOrders.publicKey, '--journal', journal];
  agent = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
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
  // the probe's workflows run the real pipeline: its activities (signing, records) are the worker's
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: probeQueue,
    workflowsPath: path.join(__dirname, '..', 'helpers', 'agent-workflows.ts'),
    activities: createActivities({ pool, logger, workOrderKey: TEST_KEYS.workOrders }),
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

/** An order as the signing activity issues it, for the probe workflow `workflowId`; `change` alters it before signing. */
function order(
  operation: WorkOperation,
  w: HostWork,
  workflowId: string,
  { key = TEST_KEYS.workOrders, now = Date.now(), change = {} }: { key?: typeof TEST_KEYS.workOrders; now?: number; change?: object } = {},
): SignedWorkOrder {
  const o = newWorkOrder(workOrderRequest(operation, w), { id: crypto.randomUUID(), workflowId, now });
  return signWorkOrder({ ...o, ...change }, key.secretKey);
}

const probeId = () => `agent-probe-${crypto.randomBytes(4).toString('hex')}`;
const callAgent = async (workflowId: string, calls: AgentCall[]) =>
  (await env.client.workflow.execute('callAgent', { taskQueue: probe.taskQueue, workflowId, args: [assetId, calls] })) as any[];
/** The argv[0] of every command the agent ran so far. */
const commandsRun = () =>
  agentLog
    .split('\n')
    .filter((line) => line.includes('"msg":"ran"'))
    .map((line) => JSON.parse(line).argv[0] as string);
const journalLines = (): any[] =>
  fs
    .readFileSync(journal, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

it('runs deployHost and inspectHost on patchflow-host-<asset> for a workflow on another queue, in dry-run', async () => {
  const bash = installed('bash');
  const libc = installed('libc6');
  const id = probeId();
  const deploy = (w: HostWork): AgentCall => ({ activity: 'deployHost', work: w, order: order('deploy', w, id) });
  const calls: AgentCall[] = [
    deploy(work([{ name: 'bash', fixedVersion: `${bash}+pf1` }])),
    deploy(work([{ name: 'bash', fixedVersion: bash }])),
    deploy(work([{ name: 'libc6', fixedVersion: `${libc}+pf1` }])),
    { activity: 'inspectHost', work: work([{ name: 'bash', fixedVersion: `${bash}+pf1` }]) },
    { activity: 'inspectHost', work: work([{ name: 'bash', fixedVersion: bash }]) },
    deploy(work([{ name: 'bash', fixedVersion: `${bash}+pf1` }], 'someone-else')),
  ];
  const [install, skip, reboot, affected, compliant, wrongHost] = await callAgent(id, calls);

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
  expect(new Set(commandsRun())).toEqual(new Set(['dpkg-query', 'df']));
  expect(installed('bash')).toBe(bash);
});

it('refuses forged work orders and a forged rollback, running nothing', async () => {
  const bash = installed('bash');
  const id = probeId();
  const w = work([{ name: 'bash', fixedVersion: `${bash}+pf2` }]);
  // a rollback to a version this agent never replaced: signed with the trusted key, still refused
  const downgrade = { ...w, previousVersions: { bash: '1.0-1' } };
  const stranger = newSigningKey();
  const calls: AgentCall[] = [
    { activity: 'deployHost', work: w },
    { activity: 'deployHost', work: w, order: order('deploy', w, id, { key: stranger }) },
    { activity: 'deployHost', work: w, order: order('deploy', w, id, { now: Date.now() - 7 * 3_600_000 }) },
    { activity: 'deployHost', work: w, order: order('deploy', { ...w, assetId: 'someone-else' }, id) },
    { activity: 'deployHost', work: w, order: order('deploy', w, 'another-workflow') },
    { activity: 'rebootHost', work: w, order: order('reboot', w, id, { key: stranger }) },
    { activity: 'rollbackHost', work: downgrade },
    { activity: 'rollbackHost', work: downgrade, order: order('rollback', downgrade, id) },
  ];
  const ranBefore = commandsRun().length;
  const results = await callAgent(id, calls);
  expect(results.map((r) => r.error)).toEqual([
    'work order refused: no work order: the orchestrator signs every change to a host',
    'work order refused: the work order is not signed by the orchestrator this agent trusts',
    expect.stringMatching(/^work order refused: the work order expired at /),
    `work order refused: the work order is for someone-else, not this host (${assetId})`,
    `work order refused: the work order was signed for workflow another-workflow, not ${id}`,
    'work order refused: the work order is not signed by the orchestrator this agent trusts',
    'work order refused: no work order: the orchestrator signs every change to a host',
    "work order refused: bash=1.0-1 is not a version this agent's journal recorded before patch agent-it changed the host",
  ]);
  expect(commandsRun().length).toBe(ranBefore);
  expect(
    journalLines()
      .filter((e) => e.kind === 'done')
      .every((e) => e.operation === 'deploy'),
  ).toBe(true);
});

it('runs the rollout pipeline with genuine orders from the signing activity, then the rollback its journal allows', async () => {
  const bash = installed('bash');
  const patchId = `agent-e2e-${crypto.randomBytes(3).toString('hex')}`;
  const soon = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
  await pool.query(
    `INSERT INTO patch_deployments (patch_id, title, priority, emergency, opened_at, recommended_deadline, maximum_deadline)
     VALUES ($1, 'agent e2e', 2, false, now(), $2, $3)`,
    [patchId, soon(7), soon(14)],
  );
  await pool.query(
    `INSERT INTO deployment_hosts (patch_id, asset_id, ring, wave, position, connector, packages) VALUES ($1, $2, 'lab', NULL, 0, 'agent', $3)`,
    [patchId, assetId, { bash: `${bash}+pf1` }],
  );
  const w: HostWork = { patchId, assetId, attempt: 1, packages: [{ name: 'bash', fixedVersion: `${bash}+pf1` }] };
  const runPipeline = () =>
    env.client.workflow.execute('pipelineOnAgent', { taskQueue: probe.taskQueue, workflowId: probeId(), args: [w] });

  // never approved through the API: the signing activity refuses, the host fails, the agent is never called
  expect(await runPipeline()).toEqual({ deployed: 'failed', rolledBack: [] });
  const refused = await pool.query('SELECT status, reason FROM deployment_hosts WHERE patch_id = $1', [patchId]);
  expect(refused.rows[0]).toEqual({
    status: 'failed',
    reason: `deploy: work order refused: patch ${patchId} was never approved through the API`,
  });

  await recordAudit(pool, {
    actorId: 'u-approver',
    actorName: 'ann',
    method: 'POST',
    path: `/v1/patches/${patchId}/decision`,
    status: 200,
    body: { decision: 'approve', comment: 'lab it' },
  });
  expect(await runPipeline()).toEqual({ deployed: 'installed', rolledBack: ['rolled-back'] });
  const { rows } = await pool.query('SELECT step, ok, detail FROM deployment_records WHERE patch_id = $1 AND asset_id = $2 ORDER BY id', [
    patchId,
    assetId,
  ]);
  expect(rows.map((r) => `${r.step}:${r.ok}`)).toEqual(['precheck:true', 'backup:true', 'install:true', 'rollback:true']);
  expect(rows[3].detail).toBe('nothing to restore: the previous versions are installed');
  const host = await pool.query('SELECT status, changed, previous_versions FROM deployment_hosts WHERE patch_id = $1', [patchId]);
  expect(host.rows[0]).toEqual({ status: 'rolled-back', changed: false, previous_versions: { bash } });
  // the journal: what the dry-run install would have changed, and each order carried out
  expect(journalLines().filter((e) => e.patchId === patchId)).toMatchObject([
    { kind: 'change', operation: 'deploy', package: 'bash', before: bash, after: `${bash}+pf1`, dryRun: true },
    { kind: 'done', operation: 'deploy', status: 'installed', dryRun: true },
    { kind: 'done', operation: 'rollback', status: 'rolled-back', dryRun: true },
  ]);
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

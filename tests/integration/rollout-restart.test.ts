/**
 * Durability of the per-host pipeline: the worker process is killed outright (SIGKILL) in the
 * middle of a production wave and another one started; every host ends patched exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fleetAsset, importAdvisory, installsPerHost, patchSteps, people, putAssets, type People } from '../helpers/rollout';
import { startTestStack, type TestStack } from '../helpers/servers';
import { TEST_KEYS } from '../helpers/keys';
import { bytesToHex } from '../../src/signing/ed25519';

let stack: TestStack;
let who: People;
const workers: ChildProcess[] = [];

/** A worker in a process of its own, polling the stack's task queue; resolves once it polls. */
function startWorkerProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../helpers/worker-process.ts')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      DATABASE_URL: stack.databaseUrl,
      TASK_QUEUE: stack.taskQueue,
      WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      WORK_ORDER_KEY: bytesToHex(TEST_KEYS.workOrders.secretKey),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let errors = '';
  child.stderr.on('data', (chunk) => (errors += chunk));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('worker running')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`the worker process exited (${code}): ${errors}`)));
  });
}

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  who = await people(stack);
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await stack?.stop();
});

describe('killing the worker in the middle of a wave', () => {
  it('resumes every host where it stopped: none installed twice, none lost', async () => {
    const source = 'killsrc';
    const assets = [
      fleetAsset(`${source}-lab`, source, { environment: 'lab' }),
      ...Array.from({ length: 24 }, (_, i) =>
        fleetAsset(`${source}-${i}`, source, { reboot: i % 4 === 0, simulation: { installMs: 400 } }),
      ),
    ];
    const steps = patchSteps(stack, who);
    const first = await startWorkerProcess();
    await importAdvisory(stack, who.opal, 'PF-KILL-0001-1', source);
    await putAssets(stack, who.opal, assets);
    const id = await steps.openApproved('PF-KILL-0001-1', {
      settings: { productionWaves: 2, maxConcurrent: 4, pilotBakeTime: '100ms', bakeTime: '100ms', monitoringWindow: '100ms' },
    });

    // wait until production hosts are installing, then kill the worker without warning
    for (let i = 0; ; i++) {
      const { rows } = await stack.pool.query(
        `SELECT count(*) FILTER (WHERE status IN ('in-progress', 'rebooting'))::int AS busy, count(*) FILTER (WHERE status = 'installed')::int AS done
         FROM deployment_hosts WHERE patch_id = $1 AND ring = 'production'`,
        [id],
      );
      if (rows[0].busy > 0 && rows[0].done >= 2) break;
      expect(i).toBeLessThan(600);
      await new Promise((r) => setTimeout(r, 50));
    }
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const interrupted = await stack.pool.query(
      `SELECT asset_id, status, stage FROM deployment_hosts WHERE patch_id = $1 AND status IN ('in-progress', 'rebooting')`,
      [id],
    );
    expect(interrupted.rows.length).toBeGreaterThan(0);

    await startWorkerProcess();
    const due = await steps.until(id, (s) => s.awaiting === 'postmortem', 'the postmortem', 180_000);
    expect(due.hosts).toEqual({ installed: assets.length });

    const installs = await installsPerHost(stack, id);
    expect(installs.size).toBe(assets.length);
    expect([...installs.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    // the hosts caught in flight ended installed as well
    const caught = await stack.pool.query(`SELECT DISTINCT status FROM deployment_hosts WHERE patch_id = $1 AND asset_id = ANY($2)`, [
      id,
      interrupted.rows.map((r) => r.asset_id),
    ]);
    expect(caught.rows).toEqual([{ status: 'installed' }]);
  });
});

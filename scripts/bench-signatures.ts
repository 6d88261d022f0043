/**
 * npm run bench:signatures — what checking one signed update costs (src/domain/signed-update.ts,
 * the check every update validator of the patch workflow makes before anything else).
 *
 * 1. In Node: `checkSignature` on a typical `decide` input, timed over many calls after a warm-up.
 * 2. Inside the workflow sandbox: a workflow of its own checks N inputs in one workflow task on a
 *    Temporal dev server; the task's time (its Started → Completed events, by the server's clock)
 *    minus that of the same workflow checking none, divided by N.
 * Options: N (default 1000).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { checkSignature, initialTrust, signUpdate } from '../src/domain/signed-update';
import { createLogger } from '../src/logger';
import { startDevServer } from '../src/runtime/dev-server';
import { freePort } from '../src/runtime/ports';
import { provisionTemporalCli } from '../src/runtime/temporal-cli';
import { newSigningKey } from '../src/signing/keys';
import type { verifySignatures } from './bench-signatures/workflow';

const N = Number(process.env.N ?? 1_000);
const TASK_QUEUE = 'bench-signatures';
const key = newSigningKey();
const target = { patchId: '20261122-9f2c01ab', update: 'decide' };
const trust = initialTrust([newSigningKey().publicKey, key.publicKey]);
const now = Date.now();

/** N different `decide` inputs as the API sends them, each signed with its own nonce. */
const inputs = Array.from({ length: N }, (_, n) =>
  signUpdate(
    {
      actor: { id: crypto.randomUUID(), name: `approver-${n}`, roles: ['approver'] },
      decision: 'approve',
      comment: 'CAB 2026-11-22: approved as a standard change in the weekend windows',
      bypassMaintenanceWindows: false,
    },
    { ...target, secretKey: key.secretKey, publicKey: key.publicKey, at: now, nonce: crypto.randomBytes(16).toString('hex') },
  ),
);

function inNode(): number {
  for (const input of inputs.slice(0, 100)) if (checkSignature(input, target, trust, now)) throw new Error('refused');
  const started = performance.now();
  for (const input of inputs) if (checkSignature(input, target, trust, now)) throw new Error('refused');
  return (performance.now() - started) / N;
}

async function inSandbox(): Promise<{ perCheckMs: number; taskMs: number; baselineMs: number }> {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-bench-'));
  const cleanups: (() => Promise<void>)[] = [async () => fs.rmSync(tmp, { recursive: true, force: true })];
  try {
    const cli = await provisionTemporalCli();
    const server = await startDevServer({ cliPath: cli.path, namespace: 'default', port: await freePort(), logger });
    cleanups.unshift(() => server.stop());
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: path.join(__dirname, 'bench-signatures', 'workflow.ts'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
    });
    const connection = await NativeConnection.connect({ address: server.address });
    const worker = await Worker.create({ connection, namespace: 'default', taskQueue: TASK_QUEUE, workflowBundle });
    const running = worker.run();
    cleanups.unshift(async () => {
      worker.shutdown();
      await running;
      await connection.close();
    });
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });

    /** The first workflow task's time, by the server's clock. */
    const taskMs = async (rounds: number, id: string) => {
      const handle = await client.workflow.start<typeof verifySignatures>('verifySignatures', {
        taskQueue: TASK_QUEUE,
        workflowId: id,
        args: [inputs, target, trust, now, rounds],
      });
      if ((await handle.result()) !== 0) throw new Error('a signature was refused');
      const events = (await handle.fetchHistory()).events ?? [];
      const started = events.find((e) => e.workflowTaskStartedEventAttributes);
      const completed = events.find((e) => e.workflowTaskCompletedEventAttributes);
      return tsToMs(completed!.eventTime) - tsToMs(started!.eventTime);
    };
    await taskMs(1, 'warm-up');
    const baselines: number[] = [];
    const checks: number[] = [];
    for (let i = 0; i < 3; i++) {
      baselines.push(await taskMs(0, `baseline-${i}`));
      checks.push(await taskMs(1, `checks-${i}`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const baselineMs = median(baselines);
    const checkedMs = median(checks);
    return { perCheckMs: (checkedMs - baselineMs) / N, taskMs: checkedMs, baselineMs };
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}

async function main() {
  Runtime.install({ logger: new DefaultLogger(process.env.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });
  const node = inNode();
  console.log(`checkSignature in Node: ${(node * 1000).toFixed(0)} µs per signed update (${N} checks)`);
  const sandbox = await inSandbox();
  console.log(
    `checkSignature in the workflow sandbox: ${(sandbox.perCheckMs * 1000).toFixed(0)} µs per signed update ` +
      `(a workflow task checking ${N}: ${sandbox.taskMs} ms; checking none: ${sandbox.baselineMs} ms)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

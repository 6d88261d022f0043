/**
 * Per-file access to the servers of the global setup: a fresh database per test file, a worker
 * on a task queue of its own, and the real API listening on a free port.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { Pool } from 'pg';
import { inject } from 'vitest';
import { createApp } from '../../src/api/app';
import { createDatabaseIfMissing } from '../../src/db/embedded-postgres';
import { migrate } from '../../src/db/migrate';
import { ensureBootstrapAdmin, newToken } from '../../src/db/users';
import { createLogger, type Logger } from '../../src/logger';
import { createWorker } from '../../src/worker/worker';
import { TEST_KEYS } from './keys';

export const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'test');

export async function freshDatabase(): Promise<{ url: string; pool: Pool }> {
  const name = `t_${crypto.randomBytes(6).toString('hex')}`;
  const adminUrl = new URL(inject('postgresAdminUrl'));
  await createDatabaseIfMissing(adminUrl.href, name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.href, logger);
  return { url: url.href, pool: new Pool({ connectionString: url.href, max: 5 }) };
}

/** Client and worker connections to the run's shared dev server. */
export function temporalEnvironment(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress'), namespace: 'default' });
}

export async function startTestWorker(
  connection: NativeConnection,
  pool: Pool,
  taskQueue: string,
): Promise<{ worker: Worker; stop: () => Promise<void> }> {
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    pool,
    logger,
    workOrderKey: TEST_KEYS.workOrders,
    workflowBundlePath: inject('workflowBundlePath'),
  });
  const running = worker.run();
  return {
    worker,
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

export interface TestStack {
  baseUrl: string;
  databaseUrl: string;
  adminToken: string;
  pool: Pool;
  client: Client;
  taskQueue: string;
  /** fetch() against the API with JSON in and out. */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any }>;
  /** Creates a user through the API (as the admin) and returns their token. */
  user(name: string, roles: string[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A fresh database, a worker on its own task queue (unless `worker: false`: the test runs its
 * own), and the API on a free port.
 */
export async function startTestStack(options: { worker?: boolean; logger?: Logger } = {}): Promise<TestStack> {
  const { url: databaseUrl, pool } = await freshDatabase();
  const env = await temporalEnvironment();
  const client = env.client;
  const taskQueue = `test-${crypto.randomBytes(4).toString('hex')}`;
  const adminToken = newToken();
  await ensureBootstrapAdmin(pool, adminToken);
  const worker = options.worker === false ? undefined : await startTestWorker(env.nativeConnection, pool, taskQueue);
  const app = createApp({
    pool,
    temporal: client,
    taskQueue,
    logger: options.logger ?? logger,
    version: 'test',
    updateKey: TEST_KEYS.updates,
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const baseUrl = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  const call: TestStack['call'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  };

  return {
    baseUrl,
    databaseUrl,
    adminToken,
    pool,
    client,
    taskQueue,
    call,
    async user(name, roles) {
      const res = await call('POST', '/v1/users', { token: adminToken, body: { name, roles } });
      if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.token as string;
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await worker?.stop();
      await env.teardown();
      await pool.end();
    },
  };
}

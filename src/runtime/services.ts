/**
 * The two long-running services, started the same way by `patchflow up` (all in one process)
 * and by `patchflow api` / `patchflow worker` (scaled out separately).
 */
import http from 'node:http';
import type net from 'node:net';
import { Client, type Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { createApp } from '../api/app';
import { POSTGRES_TIMEOUTS } from '../api/deadlines';
import { ensureBootstrapAdmin } from '../db/users';
import type { Logger } from '../logger';
import type { SigningKey } from '../signing/keys';
import { connectApiClient, connectWorker, TASK_QUEUE, type TemporalTarget } from '../temporal/connection';
import { createWorker } from '../worker/worker';
import { VERSION } from '../version';

export interface RunningService {
  stop(): Promise<void>;
}

export interface ApiService extends RunningService {
  url: string;
}

export async function startApi(options: {
  temporal: TemporalTarget;
  databaseUrl: string;
  port: number;
  host?: string;
  adminToken: string;
  updateKey: SigningKey;
  logger: Logger;
}): Promise<ApiService> {
  // no call waits for PostgreSQL for ever: a connection within 2 s, a statement within 10 s
  const pool = new Pool({ connectionString: options.databaseUrl, max: 10, ...POSTGRES_TIMEOUTS });
  pool.on('error', (err) => logIdleFailure(options.logger, err));
  let connection: Connection | undefined;
  let server: http.Server;
  try {
    const bootstrap = await ensureBootstrapAdmin(pool, options.adminToken);
    if (bootstrap !== 'installed' && bootstrap !== 'active') {
      options.logger.warn(
        { state: bootstrap },
        `the bootstrap admin token does not work (${bootstrap}): give a new one in PATCHFLOW_ADMIN_TOKEN or remove <dataDir>/admin-token, then restart`,
      );
    }
    connection = await connectApiClient(options.temporal);
    const temporal = new Client({ connection, namespace: options.temporal.namespace });
    const app = createApp({
      pool,
      temporal,
      taskQueue: TASK_QUEUE,
      logger: options.logger,
      version: VERSION,
      updateKey: options.updateKey,
    });
    server = await listen(http.createServer(app), options.port, options.host);
  } catch (err) {
    await connection?.close();
    await pool.end();
    throw err;
  }
  const { port } = server.address() as net.AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : 'localhost';
  const url = `http://${host}:${port}`;
  options.logger.info({ url }, 'API listening');
  return {
    url,
    async stop() {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection?.close();
      await pool.end();
    },
  };
}

/** An idle connection of a pool broke (the server stopped, or went away); the pool drops it and connects again when needed. */
function logIdleFailure(logger: Logger, err: Error) {
  // not `{ err }`: pg hangs the whole client on the error, and the log line would carry all of it
  logger.warn({ code: (err as { code?: string }).code, error: err.message }, 'idle PostgreSQL connection failed');
}

function listen(server: http.Server, port: number, host?: string): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export async function startWorker(options: {
  temporal: TemporalTarget;
  databaseUrl: string;
  workOrderKey: SigningKey;
  logger: Logger;
}): Promise<RunningService & { done: Promise<void> }> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: 10 });
  pool.on('error', (err) => logIdleFailure(options.logger, err));
  const connection = await connectWorker(options.temporal);
  const worker = await createWorker({
    connection,
    namespace: options.temporal.namespace,
    taskQueue: TASK_QUEUE,
    pool,
    logger: options.logger,
    workOrderKey: options.workOrderKey,
  });
  const done = worker.run().finally(async () => {
    await connection.close();
    await pool.end();
  });
  options.logger.info({ taskQueue: TASK_QUEUE }, 'worker polling');
  return {
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

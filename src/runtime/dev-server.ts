/**
 * Runs the Temporal dev server from the official CLI as a child process. Used by `patchflow up`
 * (SQLite file under the data directory) and by the test harness (in memory, free ports). We
 * spawn it ourselves rather than through the SDK because the SDK waits only ~5 s for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { Connection } from '@temporalio/client';
import type { Logger } from '../logger';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { stopChild } from './process';

export interface DevServerOptions {
  cliPath: string;
  namespace: string;
  ip?: string;
  port: number;
  /** The Web UI port; omit to run headless. */
  uiPort?: number;
  /** SQLite file for persistence; omit for an in-memory server. */
  dbFilename?: string;
  logger: Logger;
  readyTimeoutMs?: number;
  /**
   * Run in its own process group, so a terminal's Ctrl-C reaches only patchflow, which then
   * stops the worker before the server. The server is still killed if patchflow exits.
   */
  detached?: boolean;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const log = options.logger.child({ component: 'temporal-server' });
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(options.port),
    '--namespace',
    options.namespace,
    '--log-format',
    'json',
    '--log-level',
    'warn',
  ];
  if (options.uiPort) args.push('--ui-ip', ip, '--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);

  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      output.push(line);
      if (output.length > 50) output.shift();
      log.debug({ line }, 'temporal dev server output');
    });
  }
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`temporal server start-dev exited early (${signal ?? `exit ${code}`}):\n${output.join('\n')}`)),
    );
  });
  exited.catch(() => undefined);

  const address = `${ip}:${options.port}`;
  try {
    await Promise.race([waitUntilServing(address, options.readyTimeoutMs ?? 60_000), exited]);
    const connection = await Connection.connect({ address });
    try {
      await ensureSearchAttributes(connection, options.namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  log.info({ address, ui: options.uiPort }, 'Temporal dev server ready');
  return {
    address,
    uiUrl: options.uiPort ? `http://${ip}:${options.uiPort}` : undefined,
    namespace: options.namespace,
    process: child,
    stop: () => stopChild(child),
  };
}

async function waitUntilServing(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal dev server at ${address} not ready after ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Runs the Temporal dev server from the official CLI as a child process. Used by `patchflow up`
 * (SQLite file under the data directory) and by the test harness (in memory, free ports). We
 * spawn it ourselves rather than through the SDK because the SDK waits only ~5 s for it. It is
 * tied to this process (spawnTied: SIGTERM when we die, however we die).
 */
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { Connection } from '@temporalio/client';
import type { Logger } from '../logger';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { childExit, describeExit, spawnTied, stopChild, type ChildExit } from './process';

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
   * stops the worker before the server. The server is still stopped if patchflow dies.
   */
  detached?: boolean;
  /** Called with the server's process and command line as soon as it is spawned (before it is ready). */
  onSpawn?: (child: ChildProcess, cmdline: string[]) => void;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  pid: number;
  process: ChildProcess;
  /** Settles when the server exits, for whatever reason. */
  exited: Promise<ChildExit>;
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

  const child = spawnTied(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached, deathSignal: 'SIGTERM' });
  if (child.pid !== undefined) options.onSpawn?.(child, [options.cliPath, ...args]);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      output.push(line);
      if (output.length > 50) output.shift();
      log.debug({ line }, 'temporal dev server output');
    });
  }
  const exited = childExit(child);
  const exitedEarly = exited.then((exit): never => {
    throw new Error(`temporal server start-dev exited early (${describeExit(exit)}):\n${output.join('\n')}`);
  });
  exitedEarly.catch(() => undefined);

  const address = `${ip}:${options.port}`;
  const gaveUp = new AbortController();
  try {
    await Promise.race([waitUntilServing(address, options.readyTimeoutMs ?? 60_000, gaveUp.signal), exitedEarly]);
    const connection = await Connection.connect({ address });
    try {
      await ensureSearchAttributes(connection, options.namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    gaveUp.abort();
    await stopChild(child);
    throw err;
  }
  log.info({ address, ui: options.uiPort }, 'Temporal dev server ready');
  return {
    address,
    uiUrl: options.uiPort ? `http://${ip}:${options.uiPort}` : undefined,
    namespace: options.namespace,
    pid: child.pid!,
    process: child,
    exited,
    stop: () => stopChild(child),
  };
}

async function waitUntilServing(address: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline && !signal.aborted) {
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

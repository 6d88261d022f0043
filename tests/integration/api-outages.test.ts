/**
 * The API under outages (issue 13, item 4): with PostgreSQL or Temporal down, every request
 * answers 503 `unavailable` naming the dependency within 5 s, never a 500 and never a hang; a
 * write that could not be confirmed says so; and once the dependency is back the same API process
 * answers again. This file kills servers, so it starts its own: an embedded PostgreSQL (a data
 * folder of its own, so it can start again on it) and a Temporal dev server (a SQLite file, so the
 * patch survives a restart), a worker and `startApi`, as `patchflow api` runs it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/db/embedded-postgres';
import { migrate } from '../../src/db/migrate';
import { newToken } from '../../src/db/users';
import { createLogger } from '../../src/logger';
import { startDevServer, type DevServer } from '../../src/runtime/dev-server';
import { startApi, type ApiService } from '../../src/runtime/services';
import { provisionTemporalCli } from '../../src/runtime/temporal-cli';
import { TASK_QUEUE } from '../../src/temporal/connection';
import { testAsset } from '../helpers/assets';
import { stablePorts } from '../helpers/ports';
import { logger, startTestWorker } from '../helpers/servers';
import { TEST_KEYS } from '../helpers/keys';

/** The servers' own chatter (a worker that cannot reach them, PostgreSQL shutting down) only at error level. */
const quiet = createLogger(process.env.LOG_LEVEL ?? 'error', 'api-outages');
const ADVISORY = 'PF-OUTAGE-0001-1';
const LIMIT_MS = 5000;

let tmp: string;
let ports: { postgres: number; temporal: number };
let cliPath: string;
let postgres: RunningPostgres;
let temporal: DevServer;
let api: ApiService;
let workerPool: Pool;
let worker: { stop: () => Promise<void> };
let workerConnection: NativeConnection;
const adminToken = newToken();
const token: Record<string, string> = {};
let patchId: string;
/** Every timed answer during an outage, printed at the end. */
const figures: { outage: string; request: string; status: number; ms: number }[] = [];

const startPostgres = () =>
  startEmbeddedPostgres({ dataDir: path.join(tmp, 'postgres'), port: ports.postgres, database: 'patchflow', logger: quiet });
const startTemporal = () =>
  startDevServer({ cliPath, namespace: 'default', port: ports.temporal, dbFilename: path.join(tmp, 'temporal.db'), logger: quiet });

async function call(method: string, url: string, options: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const started = performance.now();
  const res = await fetch(`${api.url}${url}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    // a hang fails the test instead of stalling it
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  const body = text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
  return { status: res.status, body, ms: Math.round(performance.now() - started) };
}

/** A request during an outage: 503 `unavailable` naming `dependency`, well within 5 s. */
async function expectUnavailable(
  outage: string,
  dependency: 'postgres' | 'temporal',
  method: string,
  url: string,
  options: { token?: string; body?: unknown } = {},
) {
  const res = await call(method, url, options);
  figures.push({ outage, request: `${method} ${url.replace(patchId, ':id')}`, status: res.status, ms: res.ms });
  console.log(`[${outage}] ${method} ${url} → ${res.status} in ${res.ms} ms: ${JSON.stringify(res.body)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(503);
  expect(res.body.error.code).toBe('unavailable');
  expect(res.body.error.details.dependency).toBe(dependency);
  expect(res.ms).toBeLessThan(LIMIT_MS);
  return res.body.error as { message: string; details: Record<string, unknown> };
}

async function expectNotReady(outage: string, failing: 'postgres' | 'temporal') {
  const res = await call('GET', '/readyz');
  figures.push({ outage, request: 'GET /readyz', status: res.status, ms: res.ms });
  expect(res.status).toBe(503);
  expect(res.body.checks[failing].ok).toBe(false);
  expect(res.body.checks[failing === 'postgres' ? 'temporal' : 'postgres'].ok).toBe(true);
  expect(res.ms).toBeLessThan(LIMIT_MS);
}

/** Polls until the API answers `accept` again, with the same process; returns how long that took. */
async function backWithin(what: string, request: () => Promise<{ status: number; body: any }>, accept: number, limitMs = 30_000) {
  const started = performance.now();
  let last: { status: number; body: any } | undefined;
  const meanwhile = new Set<string>();
  while (performance.now() - started < limitMs) {
    last = await request();
    if (last.status === accept) {
      const ms = Math.round(performance.now() - started);
      console.log(
        `[${what}] the API answers ${accept} again after ${ms} ms${meanwhile.size ? ` (meanwhile: ${[...meanwhile].join('; ')})` : ''}`,
      );
      return last;
    }
    meanwhile.add(`${last.status} ${last.body?.error?.message ?? ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: still no ${accept} after ${limitMs} ms: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-outages-'));
  fs.chmodSync(tmp, 0o755); // the embedded server runs as the `postgres` user when we are root
  const [pgPort, temporalPort] = await stablePorts(2);
  ports = { postgres: pgPort!, temporal: temporalPort! };
  cliPath = (await provisionTemporalCli()).path;
  [postgres, temporal] = await Promise.all([startPostgres(), startTemporal()]);
  await migrate(postgres.url, quiet);

  workerPool = new Pool({ connectionString: postgres.url, max: 5 });
  workerPool.on('error', () => undefined); // its idle connections die with the server
  workerConnection = await NativeConnection.connect({ address: temporal.address });
  worker = await startTestWorker(workerConnection, workerPool, TASK_QUEUE);
  api = await startApi({
    temporal: { address: temporal.address, namespace: 'default' },
    databaseUrl: postgres.url,
    port: 0,
    host: '127.0.0.1',
    adminToken,
    updateKey: TEST_KEYS.updates,
    logger,
  });

  for (const [name, roles] of Object.entries({ opal: ['operator'], rita: ['reviewer'], aude: ['auditor'] })) {
    const res = await call('POST', '/v1/users', { token: adminToken, body: { name, roles } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    token[name] = res.body.token;
  }
  const osv = {
    id: ADVISORY,
    modified: '2026-11-01T00:00:00Z',
    summary: 'outagesrc: a flaw for the outage tests',
    affected: [
      {
        package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'outagesrc' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0-1ubuntu2' }] }],
      },
    ],
  };
  expect((await call('POST', '/v1/feeds/osv', { token: token.opal, body: osv })).status).toBe(200);
  const asset = testAsset('outage-web-1', {
    packages: [{ name: 'liboutage1', source: 'outagesrc', version: '1.0-1ubuntu1', arch: 'amd64' }],
  });
  expect((await call('PUT', '/v1/assets', { token: token.opal, body: { assets: [asset] } })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  if (figures.length > 0) {
    console.log('API answers during the outages (limit 5000 ms):');
    console.table(figures);
  }
  await api?.stop();
  await worker?.stop();
  await workerConnection?.close();
  await workerPool?.end();
  await Promise.all([temporal?.stop(), postgres?.stop()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the API under outages', () => {
  it('with everything up: a user token works and a patch exists', async () => {
    const created = await call('POST', '/v1/patches', { token: token.opal, body: { advisoryIds: [ADVISORY] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    patchId = created.body.id;
    await until(
      async () => (await call('GET', `/v1/patches/${patchId}`, { token: token.aude })).body.awaiting === 'reviews',
      'the patch to await reviews',
    );
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  it('PostgreSQL stopped: 503 naming postgres within 5 s, then back without restarting the API', async () => {
    await postgres.stop();
    const outage = 'postgres stopped';
    const read = await expectUnavailable(outage, 'postgres', 'GET', `/v1/patches/${patchId}`, { token: token.aude });
    expect(read.message).toMatch(/PostgreSQL is unavailable.*bearer token could not be checked/);
    expect(read.details.applied).toBeUndefined();
    await expectUnavailable(outage, 'postgres', 'GET', '/v1/assets', { token: token.aude });
    const write = await expectUnavailable(outage, 'postgres', 'POST', '/v1/patches', {
      token: token.opal,
      body: { advisoryIds: [ADVISORY] },
    });
    // refused at the token check: nothing was started
    expect(write.details.applied).toBe('no');
    expect(write.message).toContain('nothing was changed');
    await expectNotReady(outage, 'postgres');

    postgres = await startPostgres();
    const back = await backWithin('postgres restarted', () => call('GET', `/v1/patches/${patchId}`, { token: token.aude }), 200);
    expect(back.body.id).toBe(patchId);
    expect((await call('GET', '/v1/assets', { token: token.aude })).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  it('PostgreSQL killed (SIGKILL, a crash): 503 naming postgres within 5 s, then back', async () => {
    // the whole server at once, as a crash or the OOM killer would: a backend alone outlives its postmaster for a moment
    const processes = postgresProcesses();
    for (const pid of processes) process.kill(pid, 'SIGKILL');
    await until(() => processes.every((pid) => !alive(pid)), 'the killed server to be gone');
    const outage = 'postgres killed';
    await expectUnavailable(outage, 'postgres', 'GET', `/v1/patches/${patchId}`, { token: token.aude });
    await expectUnavailable(outage, 'postgres', 'GET', '/v1/assets', { token: token.aude });
    await expectUnavailable(outage, 'postgres', 'POST', '/v1/patches', { token: token.opal, body: { advisoryIds: [ADVISORY] } });
    await expectNotReady(outage, 'postgres');

    // the cluster starts again on its data (crash recovery)
    await postgres.stop(); // nothing left to stop; lets the embedded server's handle go
    postgres = await startPostgres();
    await backWithin('postgres restarted after the crash', () => call('GET', `/v1/patches/${patchId}`, { token: token.aude }), 200);
  });

  it('Temporal stopped: reads and writes answer 503 naming temporal within 5 s, a write says it is unconfirmed, then back', async () => {
    await temporal.stop();
    const outage = 'temporal stopped';
    const read = await expectUnavailable(outage, 'temporal', 'GET', `/v1/patches/${patchId}`, { token: token.aude });
    expect(read.message).toContain('Temporal is unavailable');

    const review = { verdict: 'approve', comment: 'looks right' };
    const decision = await expectUnavailable(outage, 'temporal', 'POST', `/v1/patches/${patchId}/reviews`, {
      token: token.rita,
      body: review,
    });
    expect(decision.details).toMatchObject({ applied: 'unknown', patchId, check: `GET /v1/patches/${patchId}` });
    expect(decision.message).toContain('may or may not have been applied');

    const start = await expectUnavailable(outage, 'temporal', 'POST', '/v1/patches', {
      token: token.opal,
      body: { advisoryIds: [ADVISORY] },
    });
    expect(start.details.applied).toBe('unknown');
    const unconfirmed = start.details.patchId as string;
    expect(start.message).toContain(`GET /v1/patches/${unconfirmed}`);
    await expectNotReady(outage, 'temporal');

    temporal = await startTemporal();
    const back = await backWithin('temporal restarted', () => call('GET', `/v1/patches/${patchId}`, { token: token.aude }), 200);
    // what the 503s told to check: the review was not recorded (the server was not there), nor was the patch started
    expect(back.body.reviews).toEqual([]);
    expect((await call('GET', `/v1/patches/${unconfirmed}`, { token: token.aude })).status).toBe(404);
    const again = await call('POST', `/v1/patches/${patchId}/reviews`, { token: token.rita, body: review });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.reviews).toHaveLength(1);
  });

  it('Temporal hung (SIGSTOP): 503 naming temporal within 5 s instead of a hang', async () => {
    const pid = temporal.process.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const outage = 'temporal hung';
      const [read, write, , history] = await Promise.all([
        expectUnavailable(outage, 'temporal', 'GET', `/v1/patches/${patchId}`, { token: token.aude }),
        // a duplicate review: whether or not the server reads it once it resumes, the workflow refuses it
        expectUnavailable(outage, 'temporal', 'POST', `/v1/patches/${patchId}/reviews`, {
          token: token.rita,
          body: { verdict: 'approve', comment: 'once more' },
        }),
        expectNotReady(outage, 'temporal'),
        // a route of long work (its Temporal calls may take 25 s): the request's guard looks at the dependencies and answers
        expectUnavailable(outage, 'temporal', 'GET', `/v1/patches/${patchId}/history`, { token: token.aude }),
      ]);
      expect(read.message).toContain('no answer in time');
      expect(write.details).toMatchObject({ applied: 'unknown', patchId });
      expect(history.message).toMatch(/^Temporal is unavailable .*: the request did not finish within/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await backWithin('temporal resumed', () => call('GET', `/v1/patches/${patchId}`, { token: token.aude }), 200);
  });

  it('PostgreSQL hung (SIGSTOP): 503 naming postgres within 5 s instead of a hang', async () => {
    const processes = postgresProcesses();
    for (const pid of processes) process.kill(pid, 'SIGSTOP');
    try {
      const outage = 'postgres hung';
      const [read] = await Promise.all([
        expectUnavailable(outage, 'postgres', 'GET', `/v1/patches/${patchId}`, { token: token.aude }),
        expectUnavailable(outage, 'postgres', 'GET', '/v1/assets', { token: token.aude }),
        expectUnavailable(outage, 'postgres', 'POST', '/v1/patches', { token: token.opal, body: { advisoryIds: [ADVISORY] } }),
        expectNotReady(outage, 'postgres'),
      ]);
      expect(read.message).toContain('no answer within');
    } finally {
      for (const pid of processes) process.kill(pid, 'SIGCONT');
    }
    await backWithin('postgres resumed', () => call('GET', `/v1/patches/${patchId}`, { token: token.aude }), 200);
  });
});

/** The postmaster of the test's cluster and its children (backends, checkpointer, ...). */
function postgresProcesses(): number[] {
  const postmaster = Number(fs.readFileSync(path.join(tmp, 'postgres', 'cluster', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return [postmaster, ...childrenOf(postmaster)];
}

function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // field 4 of /proc/<pid>/stat is the parent pid (after the command in parentheses)
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Running (a zombie nobody has reaped yet counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(done: () => boolean | Promise<boolean>, what: string, limitMs = 15_000) {
  const started = Date.now();
  while (!(await done())) {
    if (Date.now() - started > limitMs) throw new Error(`waited ${limitMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

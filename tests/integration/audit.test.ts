/**
 * The audit trail on the real servers: every non-GET call of an authenticated user is recorded
 * with its actor and final status (refusals too), `GET /v1/audit` reads it, and PostgreSQL
 * itself refuses to change or empty `audit_log`.
 */
import http from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app';
import { recordAudit } from '../../src/db/audit';
import { testAsset } from '../helpers/assets';
import { startTestStack, type TestStack } from '../helpers/servers';
import { TEST_KEYS } from '../helpers/keys';

let stack: TestStack;
let operator: string;
let auditor: string;

beforeAll(async () => {
  stack = await startTestStack();
  operator = await stack.user('olga', ['operator']);
  auditor = await stack.user('audrey', ['auditor']);
});
afterAll(() => stack?.stop());

interface Entry {
  id: number;
  at: string;
  actorId: string;
  actorName: string;
  method: string;
  path: string;
  status: number;
  body: any;
}

/** Audit rows are written after the response has gone out, so tests wait for them (bounded). */
async function auditUntil(query: string, accept: (entries: Entry[]) => boolean): Promise<Entry[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await stack.call('GET', `/v1/audit?limit=1000&${query}`, { token: auditor });
    expect(res.status).toBe(200);
    if (accept(res.body.entries) || Date.now() > deadline) return res.body.entries;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const asset = (id: string, packages: { name: string; version: string }[] = []) => testAsset(id, { packages });

describe('recording', () => {
  it('records a mutation with its actor, method, path, status and body; GETs are not recorded', async () => {
    expect((await stack.call('GET', '/v1/assets', { token: operator })).status).toBe(200);
    const body = { assets: [asset('aud-web-1', [{ name: 'sudo', version: '1.9.9-1ubuntu2.4' }])] };
    expect((await stack.call('PUT', '/v1/assets', { token: operator, body })).status).toBe(200);

    const entries = await auditUntil('actor=olga&path=/v1/assets', (e) => e.length > 0);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actorName: 'olga',
      actorId: expect.stringMatching(/^u_/),
      method: 'PUT',
      path: '/v1/assets',
      status: 200,
      body,
    });
    expect(Date.now() - Date.parse(entries[0]!.at)).toBeLessThan(60_000);
  });

  it('records refused calls too: 403 (body never read), 400 and 409, each with who tried; a 401 as an unknown caller, without its token or body', async () => {
    expect((await stack.call('POST', '/v1/users', { token: operator, body: { name: 'mallory', roles: ['admin'] } })).status).toBe(403);
    expect((await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: [], priority: 1 } })).status).toBe(400);
    expect((await stack.call('POST', '/v1/users', { token: stack.adminToken, body: { name: 'olga', roles: ['auditor'] } })).status).toBe(
      409,
    );
    expect((await stack.call('POST', '/v1/users', { token: 'pf_nobody', body: { name: 'x', roles: ['admin'] } })).status).toBe(401);

    const refused = await auditUntil('', (e) => e.filter((x) => x.status >= 400).length >= 4);
    const byStatus = Object.fromEntries(refused.filter((x) => x.status >= 400).map((x) => [x.status, x]));
    expect(byStatus[403]).toMatchObject({ actorName: 'olga', method: 'POST', path: '/v1/users', body: null });
    expect(byStatus[400]).toMatchObject({ actorName: 'olga', path: '/v1/patches', body: { advisoryIds: [], priority: 1 } });
    expect(byStatus[409]).toMatchObject({
      actorName: 'admin',
      actorId: 'admin',
      path: '/v1/users',
      body: { name: 'olga', roles: ['auditor'] },
    });
    expect(byStatus[401]).toMatchObject({
      actorId: 'unknown',
      actorName: '(unknown token)',
      method: 'POST',
      path: '/v1/users',
      body: null,
    });
    expect(JSON.stringify(byStatus[401])).not.toContain('pf_nobody');
  });

  it("never stores a token: the new user's token is in the answer, not in the audit", async () => {
    const created = await stack.call('POST', '/v1/users', { token: stack.adminToken, body: { name: 'tokenless', roles: ['reviewer'] } });
    expect(created.status).toBe(201);
    const entries = await auditUntil('actor=admin&path=/v1/users', (e) => e.some((x) => x.status === 201));
    expect(entries.find((x) => x.status === 201)!.body).toEqual({ name: 'tokenless', roles: ['reviewer'] });
    const { rows } = await stack.pool.query('SELECT * FROM audit_log');
    const stored = JSON.stringify(rows);
    for (const secret of [created.body.token, stack.adminToken, operator, auditor]) expect(stored).not.toContain(secret);
  });

  it('stores a body over 64 KiB as its size only', async () => {
    const body = {
      assets: Array.from({ length: 400 }, (_, i) => asset(`aud-bulk-${i}`, [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6' }])),
    };
    const bytes = Buffer.byteLength(JSON.stringify(body));
    expect(bytes).toBeGreaterThan(64 * 1024);
    expect((await stack.call('PUT', '/v1/assets', { token: operator, body })).status).toBe(200);
    const entries = await auditUntil('actor=olga&path=/v1/assets', (e) => e.length >= 2);
    expect(entries[0]).toMatchObject({ status: 200, body: { truncated: true, bytes } });
  });
});

describe('audit_log is append-only in PostgreSQL itself', () => {
  it('refuses UPDATE, DELETE (even of no row) and TRUNCATE, and still takes inserts', async () => {
    const count = async () => Number((await stack.pool.query('SELECT count(*) AS n FROM audit_log')).rows[0].n);
    const before = await count();
    expect(before).toBeGreaterThan(0);
    const refused = (op: string) => ({ code: '42501', message: `audit_log is append-only: ${op} is not allowed` });

    await expect(stack.pool.query("UPDATE audit_log SET status = 200, actor_name = 'nobody'")).rejects.toMatchObject(refused('UPDATE'));
    await expect(stack.pool.query('DELETE FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)')).rejects.toMatchObject(
      refused('DELETE'),
    );
    await expect(stack.pool.query('DELETE FROM audit_log WHERE false')).rejects.toMatchObject(refused('DELETE'));
    await expect(stack.pool.query('TRUNCATE audit_log')).rejects.toMatchObject(refused('TRUNCATE'));
    expect(await count()).toBe(before);
    const { rows } = await stack.pool.query("SELECT count(*) AS n FROM audit_log WHERE actor_name = 'nobody'");
    expect(Number(rows[0].n)).toBe(0);

    await recordAudit(stack.pool, { actorId: 'u_x', actorName: 'sql-test', method: 'POST', path: '/v1/x', status: 201, body: null });
    expect(await count()).toBe(before + 1);
  });
});

describe('GET /v1/audit', () => {
  it('is for auditors and admins only', async () => {
    const res = await stack.call('GET', '/v1/audit', { token: operator });
    expect(res.status).toBe(403);
    expect(res.body.error.details.requiredRoles).toEqual(['auditor', 'admin']);
    expect((await stack.call('GET', '/v1/audit', { token: stack.adminToken })).status).toBe(200);
  });

  it('pages newest first and filters by actor (name or id) and path prefix, taken literally', async () => {
    const all = await stack.call('GET', '/v1/audit', { token: auditor });
    const { total, entries } = all.body;
    expect(total).toBeGreaterThanOrEqual(5);
    expect(entries.map((e: Entry) => e.id)).toEqual([...entries.map((e: Entry) => e.id)].sort((a, b) => b - a));

    const first = await stack.call('GET', '/v1/audit?limit=1', { token: auditor });
    const second = await stack.call('GET', '/v1/audit?limit=1&offset=1', { token: auditor });
    expect(first.body).toMatchObject({ total, limit: 1, offset: 0 });
    expect(first.body.entries[0].id).toBe(entries[0].id);
    expect(second.body.entries[0].id).toBe(entries[1].id);
    expect((await stack.call('GET', `/v1/audit?offset=${total + 5}`, { token: auditor })).body).toMatchObject({ total, entries: [] });

    const olga = entries.find((e: Entry) => e.actorName === 'olga') as Entry;
    const byId = await stack.call('GET', `/v1/audit?actor=${olga.actorId}`, { token: auditor });
    const byName = await stack.call('GET', '/v1/audit?actor=olga', { token: auditor });
    expect(byId.body.total).toBe(byName.body.total);
    expect(byName.body.entries.every((e: Entry) => e.actorName === 'olga')).toBe(true);

    const assets = await stack.call('GET', '/v1/audit?path=/v1/ass', { token: auditor });
    expect(assets.body.total).toBeGreaterThanOrEqual(2);
    expect(assets.body.entries.every((e: Entry) => e.path.startsWith('/v1/ass'))).toBe(true);
    // `_` and `%` are not wildcards here
    expect((await stack.call('GET', '/v1/audit?path=/v1/as_ets', { token: auditor })).body.total).toBe(0);
    expect((await stack.call('GET', '/v1/audit?path=/v1/%25', { token: auditor })).body.total).toBe(0);
  });

  it('refuses bad parameters with 400', async () => {
    for (const query of ['limit=1001', 'limit=0', 'offset=-1', 'path=v1', 'since=yesterday']) {
      const res = await stack.call('GET', `/v1/audit?${query}`, { token: auditor });
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });
});

describe('a failed audit write', () => {
  it('is logged, and neither fails the call nor stops the server', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const app = createApp({
      pool: stack.pool,
      temporal: stack.client,
      taskQueue: stack.taskQueue,
      logger: pino({ level: 'error' }, sink),
      version: 'test',
      updateKey: TEST_KEYS.updates,
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    await stack.pool.query('ALTER TABLE audit_log RENAME TO audit_log_away');
    try {
      const res = await fetch(`${base}/v1/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'unaudited', roles: ['auditor'] }),
      });
      expect(res.status).toBe(201);
      const deadline = Date.now() + 10_000;
      while (lines.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const logged = lines.map((line) => JSON.parse(line));
      expect(logged).toHaveLength(2);
      expect(logged[0]).toMatchObject({ component: 'audit', actor: 'admin', method: 'POST', path: '/v1/users', status: 201 });
      expect(logged[0].msg).toMatch(/could not write the audit record/);
      expect(logged[0].err.message).toMatch(/audit_log/);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await stack.pool.query('ALTER TABLE audit_log_away RENAME TO audit_log');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

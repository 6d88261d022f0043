/**
 * The bearer-token lifecycle on the real API and PostgreSQL (issue 14, item 2): several tokens
 * per user, expiry bounded by the policy, revocation and disabled users answered with 401 at
 * once, the admin guards, the bootstrap admin's rotation across a restart, and every change in
 * the audit trail with no token value in it or in a log line.
 */
import http from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { runner } from 'node-pg-migrate';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/api/app';
import { createDatabaseIfMissing } from '../../src/db/embedded-postgres';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate';
import { ensureBootstrapAdmin, hashToken, newToken } from '../../src/db/users';
import { createLogger } from '../../src/logger';
import { TEST_KEYS } from '../helpers/keys';
import { logger, startTestStack, type TestStack } from '../helpers/servers';

const lines: string[] = [];
let stack: TestStack;
/** The bootstrap admin's working token (rotated by the last tests). */
let admin: string;
const issuedTokens: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  stack = await startTestStack({ worker: false, logger: createLogger('debug', 'test', sink) });
  admin = stack.adminToken;
});
afterAll(() => stack?.stop());

const whoAmI = async (token: string) => (await stack.call('GET', '/v1/tokens/current', { token })).status;

async function createUser(name: string, roles: string[], extra: object = {}) {
  const res = await stack.call('POST', '/v1/users', { token: admin, body: { name, roles, ...extra } });
  expect(res.status).toBe(201);
  issuedTokens.push(res.body.token);
  return res.body as { id: string; token: string; tokenId: string; expiresAt: string };
}

async function issue(userId: string, body: object = {}, token = admin) {
  const res = await stack.call('POST', `/v1/users/${userId}/tokens`, { token, body });
  if (res.status === 201) issuedTokens.push(res.body.token);
  return res;
}

const DAY = 86_400_000;

describe('issuing', () => {
  it('gives a new user a token that expires after the policy lifetime, and another token on request; both work', async () => {
    const before = Date.now();
    const rita = await createUser('rita', ['reviewer']);
    expect(Date.parse(rita.expiresAt) - before).toBeGreaterThanOrEqual(90 * DAY - 1000);
    expect(Date.parse(rita.expiresAt) - Date.now()).toBeLessThanOrEqual(90 * DAY);

    const second = await issue(rita.id, { label: 'laptop', expiresIn: '30d' });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ userId: rita.id, userName: 'rita', label: 'laptop', status: 'active', createdBy: 'admin' });
    expect(second.body.token).toMatch(/^pf_/);
    expect(Math.abs(Date.parse(second.body.expiresAt) - Date.now() - 30 * DAY)).toBeLessThan(60_000);

    expect(await whoAmI(rita.token)).toBe(200);
    expect(await whoAmI(second.body.token)).toBe(200);
    const current = await stack.call('GET', '/v1/tokens/current', { token: second.body.token });
    expect(current.body).toMatchObject({ id: second.body.id, userName: 'rita', label: 'laptop' });
  });

  it('lists metadata only: never a token value or hash', async () => {
    const rita = (await stack.call('GET', '/v1/users', { token: admin })).body.users.find((u: { name: string }) => u.name === 'rita');
    expect(rita).toMatchObject({ roles: ['reviewer'], disabledAt: null });
    const listed = await stack.call('GET', `/v1/users/${rita.id}/tokens`, { token: admin });
    expect(listed.status).toBe(200);
    expect(listed.body.tokens).toHaveLength(2);
    expect(listed.body.tokens[0]).toMatchObject({ label: 'laptop', status: 'active' });
    expect(Object.keys(listed.body.tokens[0]).sort()).toEqual(
      ['createdAt', 'createdBy', 'expiresAt', 'id', 'label', 'revokedAt', 'revokedBy', 'status', 'userId', 'userName'].sort(),
    );
    const text = JSON.stringify(listed.body);
    for (const token of issuedTokens) expect(text).not.toContain(token);
    expect(text).not.toMatch(/hash/i);
  });

  it('enforces access.maxTokenLifetime, for expiresIn and expiresAt, as the policy changes', async () => {
    const { id } = await createUser('max', ['auditor']);
    const tooLong = await issue(id, { expiresIn: '366d' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error).toMatchObject({ code: 'bad_request', details: { maxTokenLifetime: '365d' } });
    expect((await issue(id, { expiresAt: new Date(Date.now() + 366 * DAY).toISOString() })).status).toBe(400);
    expect((await issue(id, { expiresIn: '365d' })).status).toBe(201);
    expect((await issue(id, { expiresIn: '1d', expiresAt: new Date(Date.now() + DAY).toISOString() })).status).toBe(400);
    expect((await issue(id, { expiresIn: 'forever' })).status).toBe(400);
    expect(
      (await stack.call('POST', '/v1/users', { token: admin, body: { name: 'max2', roles: ['auditor'], expiresIn: '400d' } })).status,
    ).toBe(400);

    const policy = (await stack.call('GET', '/v1/policy', { token: admin })).body.policy;
    policy.access = { tokenLifetime: '1d', maxTokenLifetime: '7d' };
    expect((await stack.call('PUT', '/v1/policy', { token: admin, body: policy })).status).toBe(200);
    expect((await issue(id, { expiresIn: '8d' })).status).toBe(400);
    const byDefault = await issue(id);
    expect(byDefault.status).toBe(201);
    expect(Math.abs(Date.parse(byDefault.body.expiresAt) - Date.now() - DAY)).toBeLessThan(60_000);
    policy.access = { tokenLifetime: '90d', maxTokenLifetime: '365d' };
    expect((await stack.call('PUT', '/v1/policy', { token: admin, body: policy })).status).toBe(200);
  });

  it('refuses unknown users (404), disabled ones (409) and bad ids (400)', async () => {
    expect((await issue('u_0000000000000000')).status).toBe(404);
    expect((await stack.call('GET', '/v1/users/u_0000000000000000/tokens', { token: admin })).status).toBe(404);
    expect((await stack.call('DELETE', '/v1/tokens/t_0000000000000000', { token: admin })).status).toBe(404);
    expect((await stack.call('DELETE', '/v1/tokens/nonsense', { token: admin })).body.error.code).toBe('invalid_request');
    const { id } = await createUser('dora', ['auditor']);
    expect((await stack.call('POST', `/v1/users/${id}/disable`, { token: admin })).status).toBe(200);
    expect((await issue(id)).status).toBe(409);
  });
});

describe('tokens that stop working', () => {
  it('a revoked token gets 401 at once; revoking it again changes nothing', async () => {
    const olga = await createUser('olga', ['operator']);
    const other = await issue(olga.id);
    expect(await whoAmI(olga.token)).toBe(200);
    const revoked = await stack.call('DELETE', `/v1/tokens/${olga.tokenId}`, { token: admin });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: olga.tokenId, status: 'revoked', revokedBy: 'admin' });
    expect(await whoAmI(olga.token)).toBe(401);
    expect((await stack.call('GET', '/v1/assets', { token: olga.token })).status).toBe(401);
    expect(await whoAmI(other.body.token)).toBe(200);
    const again = await stack.call('DELETE', `/v1/tokens/${olga.tokenId}`, { token: admin });
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
  });

  it("a user may revoke their own token but not another's (403)", async () => {
    const ulla = await createUser('ulla', ['operator']);
    const vera = await createUser('vera', ['operator']);
    expect((await stack.call('DELETE', `/v1/tokens/${vera.tokenId}`, { token: ulla.token })).status).toBe(403);
    expect(await whoAmI(vera.token)).toBe(200);
    expect((await stack.call('DELETE', `/v1/tokens/${ulla.tokenId}`, { token: ulla.token })).status).toBe(200);
    expect(await whoAmI(ulla.token)).toBe(401);
  });

  it('an expired token gets 401: a tiny lifetime, or expires_at set in the past', async () => {
    const { id } = await createUser('erik', ['auditor']);
    const short = await issue(id, { expiresIn: '1s' });
    expect(await whoAmI(short.body.token)).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await whoAmI(short.body.token)).toBe(401);

    const long = await issue(id);
    expect(await whoAmI(long.body.token)).toBe(200);
    await stack.pool.query(`UPDATE tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, [long.body.id]);
    expect(await whoAmI(long.body.token)).toBe(401);
    const listed = (await stack.call('GET', `/v1/users/${id}/tokens`, { token: admin })).body.tokens;
    expect(listed.map((t: { status: string }) => t.status)).toEqual(['expired', 'expired', 'active']);
  });

  it("a disabled user's tokens get 401 at once; enabling them restores the tokens", async () => {
    const dan = await createUser('dan', ['operator']);
    const second = await issue(dan.id);
    const disabled = await stack.call('POST', `/v1/users/${dan.id}/disable`, { token: admin });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ name: 'dan', disabledBy: 'admin' });
    expect(await whoAmI(dan.token)).toBe(401);
    expect(await whoAmI(second.body.token)).toBe(401);
    const enabled = await stack.call('POST', `/v1/users/${dan.id}/enable`, { token: admin });
    expect(enabled.body).toMatchObject({ name: 'dan', disabledAt: null, disabledBy: null });
    expect(await whoAmI(dan.token)).toBe(200);
    expect(await whoAmI(second.body.token)).toBe(200);
  });
});

describe('who may', () => {
  it('non-admins get 403 on every admin route', async () => {
    const nora = await createUser('nora', ['operator', 'reviewer', 'approver', 'auditor']);
    const calls: [string, string, object?][] = [
      ['POST', `/v1/users/${nora.id}/tokens`, {}],
      ['GET', `/v1/users/${nora.id}/tokens`],
      ['POST', `/v1/users/${nora.id}/disable`],
      ['POST', `/v1/users/${nora.id}/enable`],
      ['POST', '/v1/users', { name: 'x', roles: ['admin'] }],
    ];
    for (const [method, path, body] of calls) {
      const res = await stack.call(method, path, { token: nora.token, body });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    // an auditor may read the users, not their tokens
    expect((await stack.call('GET', '/v1/users', { token: nora.token })).status).toBe(200);
  });

  it('an admin cannot disable themselves, nor revoke the last working admin token', async () => {
    const self = await stack.call('POST', '/v1/users/admin/disable', { token: admin });
    expect(self.status).toBe(409);
    expect(self.body.error.message).toBe('You cannot disable yourself');
    const mine = (await stack.call('GET', '/v1/tokens/current', { token: admin })).body;
    const last = await stack.call('DELETE', `/v1/tokens/${mine.id}`, { token: admin });
    expect(last.status).toBe(409);
    expect(await whoAmI(admin)).toBe(200);

    // a second admin: either may now disable the other, and is then the last one
    const ada = await createUser('ada', ['admin']);
    expect((await stack.call('POST', '/v1/users/admin/disable', { token: ada.token })).status).toBe(200);
    expect(await whoAmI(admin)).toBe(401);
    expect((await stack.call('POST', `/v1/users/${ada.id}/disable`, { token: ada.token })).status).toBe(409);
    expect((await stack.call('DELETE', `/v1/tokens/${ada.tokenId}`, { token: ada.token })).status).toBe(409);
    expect((await stack.call('POST', '/v1/users/admin/enable', { token: ada.token })).status).toBe(200);
    expect(await whoAmI(admin)).toBe(200);
    expect((await stack.call('POST', `/v1/users/${ada.id}/disable`, { token: admin })).status).toBe(200);
  });
});

describe('the bootstrap admin token', () => {
  it('rotates without a restart, and a restart (ensureBootstrapAdmin again) keeps the new one and not the old', async () => {
    const old = admin;
    const oldId = (await stack.call('GET', '/v1/tokens/current', { token: old })).body.id;
    const rotated = await issue('admin', { label: 'admin-token' });
    expect(rotated.status).toBe(201);
    expect((await stack.call('DELETE', `/v1/tokens/${oldId}`, { token: rotated.body.token })).status).toBe(200);
    expect(await whoAmI(old)).toBe(401);
    admin = rotated.body.token;
    expect(await whoAmI(admin)).toBe(200);

    // a start with the old token (PATCHFLOW_ADMIN_TOKEN never updated) does not bring it back ...
    expect(await ensureBootstrapAdmin(stack.pool, old)).toBe('revoked');
    expect(await whoAmI(old)).toBe(401);
    // ... a start with the new one (the rewritten file) keeps it, on a fresh API too
    expect(await ensureBootstrapAdmin(stack.pool, admin)).toBe('active');
    const app = createApp({
      pool: stack.pool,
      temporal: stack.client,
      taskQueue: stack.taskQueue,
      logger: createLogger('silent'),
      version: 'test',
      updateKey: TEST_KEYS.updates,
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const restarted = await fetch(`http://127.0.0.1:${port}/v1/tokens/current`, { headers: { authorization: `Bearer ${admin}` } });
      expect(restarted.status).toBe(200);
      const refused = await fetch(`http://127.0.0.1:${port}/v1/tokens/current`, { headers: { authorization: `Bearer ${old}` } });
      expect(refused.status).toBe(401);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(await ensureBootstrapAdmin(stack.pool, admin)).toBe('active');

    // a token the database never saw (a new PATCHFLOW_ADMIN_TOKEN, or the file removed) replaces it
    const replacement = newToken();
    issuedTokens.push(replacement, old);
    expect(await ensureBootstrapAdmin(stack.pool, replacement)).toBe('installed');
    expect(await whoAmI(replacement)).toBe(200);
    expect(await whoAmI(admin)).toBe(401);
    admin = replacement;
    const tokens = (await stack.call('GET', '/v1/users/admin/tokens', { token: admin })).body.tokens;
    expect(tokens[0]).toMatchObject({ label: 'bootstrap', status: 'active', expiresAt: null, createdBy: 'bootstrap' });
  });
});

describe('the audit trail and the logs', () => {
  it('record every change, refusals included, and never a token value', async () => {
    const deadline = Date.now() + 10_000;
    let entries: { method: string; path: string; status: number; actorName: string }[] = [];
    const expected: [string, RegExp, number][] = [
      ['POST', /^\/v1\/users\/[^/]+\/tokens$/, 201],
      ['POST', /^\/v1\/users\/[^/]+\/tokens$/, 400],
      ['POST', /^\/v1\/users\/[^/]+\/tokens$/, 403],
      ['POST', /^\/v1\/users\/[^/]+\/tokens$/, 404],
      ['POST', /^\/v1\/users\/[^/]+\/tokens$/, 409],
      ['DELETE', /^\/v1\/tokens\/t_/, 200],
      ['DELETE', /^\/v1\/tokens\/t_/, 403],
      ['DELETE', /^\/v1\/tokens\/t_/, 409],
      ['POST', /\/disable$/, 200],
      ['POST', /\/disable$/, 409],
      ['POST', /\/enable$/, 200],
    ];
    const missing = (e: typeof entries) =>
      expected.filter(([method, path, status]) => !e.some((x) => x.method === method && path.test(x.path) && x.status === status));
    while (Date.now() < deadline) {
      entries = (await stack.call('GET', '/v1/audit?limit=1000', { token: admin })).body.entries;
      if (missing(entries).length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(missing(entries)).toEqual([]);
    expect(entries.some((e) => e.path === '/v1/users/admin/disable' && e.actorName === 'ada' && e.status === 200)).toBe(true);

    const { rows } = await stack.pool.query('SELECT * FROM audit_log');
    const stored = JSON.stringify(rows);
    const log = lines.join('\n');
    expect(issuedTokens.length).toBeGreaterThan(10);
    for (const token of [...issuedTokens, stack.adminToken]) {
      expect(stored).not.toContain(token);
      expect(log).not.toContain(token);
    }
    expect(log).toContain('"msg":"token issued"');
    expect(log).toContain('"msg":"token revoked"');
  });
});

describe('the migration', () => {
  it("moves each user's token into tokens: the bootstrap admin's without expiry, the others' the default lifetime from now", async () => {
    const url = new URL(inject('postgresAdminUrl'));
    url.pathname = `/t_${crypto.randomBytes(6).toString('hex')}`;
    await createDatabaseIfMissing(inject('postgresAdminUrl'), url.pathname.slice(1));
    const before = fs.readdirSync(MIGRATIONS_DIR).filter((f) => f < '1763800600000').length;
    await runner({
      databaseUrl: url.href,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      count: before,
      log: () => {},
    });
    const client = new Client({ connectionString: url.href });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO users (id, name, roles, token_hash, created_by) VALUES ('admin', 'admin', '{admin}', $1, 'bootstrap'), ('u_1', 'olga', '{operator}', $2, 'admin')`,
        [hashToken('pf_old-admin'), hashToken('pf_old-olga')],
      );
      await migrate(url.href, logger);
      const { rows } = await client.query(
        `SELECT user_id, label, bootstrap, created_by, expires_at, revoked_at, token_hash FROM tokens ORDER BY user_id`,
      );
      expect(
        rows.map((r) => ({
          ...r,
          token_hash: r.token_hash.equals(hashToken(r.user_id === 'admin' ? 'pf_old-admin' : 'pf_old-olga')),
          expires_at: undefined,
        })),
      ).toEqual([
        {
          user_id: 'admin',
          label: 'bootstrap',
          bootstrap: true,
          created_by: 'bootstrap',
          expires_at: undefined,
          revoked_at: null,
          token_hash: true,
        },
        {
          user_id: 'u_1',
          label: 'migrated',
          bootstrap: false,
          created_by: 'admin',
          expires_at: undefined,
          revoked_at: null,
          token_hash: true,
        },
      ]);
      expect(rows[0].expires_at).toBeNull();
      expect(Math.abs(rows[1].expires_at.getTime() - Date.now() - 90 * DAY)).toBeLessThan(60_000);
      const columns = await client.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'users'`);
      expect(columns.rows.map((c) => c.column_name)).not.toContain('token_hash');
    } finally {
      await client.end();
    }
  });
});

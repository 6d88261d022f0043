/**
 * The smaller refusals of issue 14, item 6, on the real API: auditors write nothing, an
 * exception's lifetime is bounded by the policy, bodies nested too deep or inflating past their
 * limit are refused with a 4xx (never a 500), CSV errors quote little of the bad line, and every
 * 401 is audited without its token.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../src/domain/policy';
import { MAX_BODY_DEPTH, UNAUTHENTICATED_AUDITS_PER_MINUTE } from '../../src/api/route';
import { startTestStack, type TestStack } from '../helpers/servers';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotli = promisify(zlib.brotliCompress);

let stack: TestStack;
const token: Record<string, string> = {};

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  for (const [name, roles] of Object.entries({ opal: ['operator'], carl: ['approver'], aude: ['auditor'] })) {
    token[name] = await stack.user(name, roles);
  }
});
afterAll(async () => {
  await stack?.stop();
});

/** A raw request: bytes in, status and parsed error out. */
async function send(method: string, path: string, body: Buffer | string, headers: Record<string, string>) {
  const res = await fetch(`${stack.baseUrl}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe('auditors write nothing', () => {
  it('refuses an auditor’s feedback (403) before the patch is looked up', async () => {
    const res = await stack.call('POST', '/v1/patches/20261122-00000000/feedback', {
      token: token.aude,
      body: { severity: 'high', message: 'I read it all' },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.details.requiredRoles).toEqual(['operator', 'reviewer', 'approver']);
  });

  it('refuses an auditor every write route of the OpenAPI document', async () => {
    const doc = (await stack.call('GET', '/v1/openapi.json')).body;
    const writes: [string, string][] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) if (method !== 'get') writes.push([method.toUpperCase(), path]);
    }
    // the one self-service write: anyone may revoke a token of their own
    const selfService = ['DELETE /v1/tokens/{id}'];
    expect(writes.length).toBeGreaterThan(10);
    for (const [method, path] of writes.filter(([m, p]) => !selfService.includes(`${m} ${p}`))) {
      const concrete = path.replace(/\{[^}]+\}/g, 'x1');
      const res = await stack.call(method, concrete, { token: token.aude, body: {} });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
  });
});

describe('an exception lasts at most the policy’s exceptionMaxLifetime', () => {
  it('refuses a later expiry with a 400 naming the bound', async () => {
    const policy = { ...DEFAULT_POLICY, governance: { ...DEFAULT_POLICY.governance, exceptionMaxLifetime: '30d' } };
    expect((await stack.call('PUT', '/v1/policy', { token: stack.adminToken, body: policy })).status).toBe(200);
    const expiresAt = new Date(Date.now() + 31 * 86_400_000).toISOString();
    const res = await stack.call('POST', '/v1/patches/20261122-00000000/exceptions', {
      token: token.carl,
      body: { assetId: 'web-01', compensatingControl: 'WAF rule 942', expiresAt },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
    expect(res.body.error.message).toContain('at most 30d');
    expect(res.body.error.details).toEqual({ maxLifetime: '30d' });
    // within the bound the exception goes on to the patch's own checks (here: no such target)
    const within = await stack.call('POST', '/v1/patches/20261122-00000000/exceptions', {
      token: token.carl,
      body: { assetId: 'web-01', compensatingControl: 'WAF rule 942', expiresAt: new Date(Date.now() + 29 * 86_400_000).toISOString() },
    });
    expect(within.status).toBe(400);
    expect(within.body.error.message).toContain('is not a deployment target');
  });
});

describe('request bodies', () => {
  const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const osvNested = (depth: number) =>
    JSON.stringify({ id: 'PF-DEEP-1', modified: '2026-11-01T00:00:00Z', affected: [] }).replace(
      /}$/,
      `,"database_specific":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    );

  it('refuses an OSV record nested 10,000 levels deep with a 400, not a 500', async () => {
    const res = await send('POST', '/v1/feeds/osv', osvNested(10_000), {
      authorization: `Bearer ${token.opal}`,
      'content-type': 'application/json',
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', details: { maxDepth: MAX_BODY_DEPTH } });
  });

  it('takes a body exactly at the limit and refuses one level more, on every kind of route', async () => {
    const auth = { authorization: `Bearer ${token.opal}`, 'content-type': 'application/json' };
    // at the limit, the body reaches validation (which names what is wrong with it)
    const atLimit = await send('PUT', '/v1/assets', nested(MAX_BODY_DEPTH), auth);
    expect(atLimit.status).toBe(400);
    expect(atLimit.body.error.details).not.toEqual({ maxDepth: MAX_BODY_DEPTH });
    for (const [method, path] of [
      ['PUT', '/v1/assets'],
      ['POST', '/v1/feeds/cve'],
      ['POST', '/v1/feeds/kev'],
      ['POST', '/v1/patches'],
    ]) {
      const res = await send(method!, path!, nested(MAX_BODY_DEPTH + 1), auth);
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.error.details).toEqual({ maxDepth: MAX_BODY_DEPTH });
    }
    const policy = await send('PUT', '/v1/policy', `[${nested(100_000)}]`, {
      authorization: `Bearer ${stack.adminToken}`,
      'content-type': 'application/json',
    });
    expect(policy.status).toBe(400);
  });

  it('refuses a compressed body that inflates past the route’s limit (413), in gzip, deflate and br', async () => {
    // 2 MB of JSON from a few kilobytes: over PUT /v1/policy's 1 MB limit once inflated
    const big = JSON.stringify({ ...DEFAULT_POLICY, padding: 'x'.repeat(2 * 1024 * 1024) });
    const small = JSON.stringify(DEFAULT_POLICY);
    for (const [encoding, compress] of [
      ['gzip', gzip],
      ['deflate', deflate],
      ['br', brotli],
    ] as const) {
      const bomb = await compress(big);
      expect(bomb.length).toBeLessThan(20_000);
      const headers = { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json', 'content-encoding': encoding };
      const refused = await send('PUT', '/v1/policy', bomb, headers);
      expect(refused.status, encoding).toBe(413);
      expect(refused.body.error.code).toBe('payload_too_large');
      // a compressed body within the limit is taken
      expect((await send('PUT', '/v1/policy', await compress(small), headers)).status, encoding).toBe(200);
    }
  });

  it('quotes at most a few hundred characters of a bad CSV line', async () => {
    const header = 'id,hostname,environment,os_name,os_version,criticality,exposure,packages';
    const huge = 'p'.repeat(100_000);
    const headers = { authorization: `Bearer ${token.opal}`, 'content-type': 'text/csv' };
    const badPackage = await send(
      'PUT',
      '/v1/assets',
      `${header}\nweb-01,web-01.corp,production,ubuntu,22.04,high,internet,${huge}\n`,
      headers,
    );
    expect(badPackage.status).toBe(400);
    expect(badPackage.body.error.message.length).toBeLessThan(1000);
    expect(badPackage.body.error.message).toContain('(100000 characters)');
    const badQuote = await send(
      'PUT',
      '/v1/assets',
      `${header}\nweb-01,"web-01${huge}"x,production,ubuntu,22.04,high,internet,\n`,
      headers,
    );
    expect(badQuote.status).toBe(400);
    expect(badQuote.body.error.message.length).toBeLessThan(1000);
    const badWindow = await send(
      'PUT',
      '/v1/assets',
      `id,hostname,environment,os_name,os_version,criticality,exposure,maintenance_windows\n${'i'.repeat(5000)},h,production,ubuntu,22.04,high,internet,${huge}\n`,
      headers,
    );
    expect(badWindow.status).toBe(400);
    expect(badWindow.body.error.message.length).toBeLessThan(1000);
  });

  it('names a record with a huge bad id by its first hundred characters only, in the whole answer', async () => {
    const id = 'x'.repeat(100_000);
    const res = await send('PUT', '/v1/assets', JSON.stringify({ assets: [{ id, hostname: 'h' }] }), {
      authorization: `Bearer ${token.opal}`,
      'content-type': 'application/json',
    });
    expect(res.status).toBe(400);
    const answer = JSON.stringify(res.body);
    expect(answer.length).toBeLessThan(5000);
    expect(answer).toContain('(100000 characters)');
  });
});

describe('401s are audited', () => {
  it('records every 401, any method, without the token, the query or a body', async () => {
    const secret = 'pf_not-a-real-token-but-secret';
    expect((await stack.call('GET', '/v1/patches?token=abc', {})).status).toBe(401);
    expect((await stack.call('GET', '/v1/assets/web-01', { token: secret })).status).toBe(401);
    expect((await stack.call('POST', '/v1/patches', { token: secret, body: { advisoryIds: ['X'], title: 'nope' } })).status).toBe(401);
    expect((await stack.call('PUT', '/v1/policy', { headers: { authorization: 'Basic Zm9vOmJhcg==' }, body: {} })).status).toBe(401);
    // the audit is written after the response
    let entries: any[] = [];
    for (let i = 0; i < 50; i++) {
      entries = (await stack.call('GET', '/v1/audit?limit=1000', { token: stack.adminToken })).body.entries.filter(
        (e: any) => e.status === 401,
      );
      if (entries.length >= 4) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seen = entries.map((e) => [e.actorId, e.method, e.path, e.body]).reverse();
    expect(seen).toEqual([
      ['anonymous', 'GET', '/v1/patches', null],
      ['unknown', 'GET', '/v1/assets/web-01', null],
      ['unknown', 'POST', '/v1/patches', null],
      ['unknown', 'PUT', '/v1/policy', null],
    ]);
    expect(entries.every((e) => e.actorName === '(anonymous)' || e.actorName === '(unknown token)')).toBe(true);
    expect(JSON.stringify(entries)).not.toMatch(/not-a-real|Zm9v|abc|nope/);
    // the audit trail filters them like any other actor
    const anonymous = (await stack.call('GET', '/v1/audit?actor=anonymous', { token: stack.adminToken })).body;
    expect(anonymous.entries.map((e: any) => e.path)).toEqual(['/v1/patches']);
  });

  it('records a flood one by one only up to a bound a minute, and counts the rest', async () => {
    const flood = UNAUTHENTICATED_AUDITS_PER_MINUTE + 40;
    const before = (await stack.call('GET', '/v1/audit?actor=unknown', { token: stack.adminToken })).body.total;
    for (let i = 0; i < flood; i++) {
      expect((await stack.call('GET', `/v1/patches/${'x'.repeat(1000)}`, { token: 'pf_wrong' })).status).toBe(401);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = (await stack.call('GET', '/v1/audit?actor=unknown&limit=1', { token: stack.adminToken })).body;
    expect(after.total - before).toBeLessThanOrEqual(UNAUTHENTICATED_AUDITS_PER_MINUTE);
    expect(after.total - before).toBeGreaterThan(0);
    // a long path is kept short
    expect(after.entries[0].path.length).toBeLessThan(300);
  });
});

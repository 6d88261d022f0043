import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorResponse } from '../../src/api/schemas';
import { startTestStack, type TestStack } from '../helpers/servers';

let stack: TestStack;
let operator: string;
let auditor: string;

beforeAll(async () => {
  stack = await startTestStack();
  operator = await stack.user('olga', ['operator']);
  auditor = await stack.user('audrey', ['auditor']);
});
afterAll(() => stack?.stop());

/** Every 4xx carries the error shape of docs/http-api.md, "Errors", with the code we expect. */
function expectError(res: { status: number; body: unknown }, status: number, code: string) {
  expect(res.status).toBe(status);
  const parsed = ErrorResponse.parse(res.body);
  expect(parsed.error.code).toBe(code);
  expect(parsed.error.message.length).toBeGreaterThan(0);
  return parsed.error;
}

describe('health', () => {
  it('answers liveness and readiness with both dependencies checked', async () => {
    expect(await stack.call('GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    const ready = await stack.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { temporal: { ok: true }, postgres: { ok: true } } });
  });
});

describe('users and tokens', () => {
  it('lets the admin create a user whose token then authenticates', async () => {
    const res = await stack.call('POST', '/v1/users', { token: stack.adminToken, body: { name: 'rita', roles: ['reviewer', 'auditor'] } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'rita', roles: ['reviewer', 'auditor'] });
    expect(res.body.id).toMatch(/^u_/);
    expect(res.body.token).toMatch(/^pf_/);
    // the token works: rita may read patches (any role) but not create users
    expectError(await stack.call('POST', '/v1/users', { token: res.body.token, body: { name: 'x', roles: ['admin'] } }), 403, 'forbidden');
  });

  it('stores only a hash of the token', async () => {
    const res = await stack.call('POST', '/v1/users', { token: stack.adminToken, body: { name: 'hashed', roles: ['auditor'] } });
    const { rows } = await stack.pool.query('SELECT t.* FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = $1', ['hashed']);
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows[0], (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    expect(stored).not.toContain(res.body.token);
    expect(rows[0].token_hash).toHaveLength(32);
  });

  it('refuses a duplicate name with 409 and writes nothing', async () => {
    expectError(
      await stack.call('POST', '/v1/users', { token: stack.adminToken, body: { name: 'olga', roles: ['auditor'] } }),
      409,
      'conflict',
    );
    const { rows } = await stack.pool.query('SELECT roles FROM users WHERE name = $1', ['olga']);
    expect(rows).toEqual([{ roles: ['operator'] }]);
  });
});

describe('every bad request gets its 4xx and the error shape, never a 500', () => {
  it('401 without a token, and with an unknown one', async () => {
    expectError(await stack.call('POST', '/v1/patches', { body: { advisoryIds: ['USN-6859-1'] } }), 401, 'unauthenticated');
    expectError(await stack.call('GET', '/v1/patches/20261122-00000000', { token: 'pf_not-a-real-token' }), 401, 'unauthenticated');
    expectError(await stack.call('GET', '/v1/patches/x', { headers: { authorization: 'Basic abc' } }), 401, 'unauthenticated');
  });

  it('403 for the wrong role, naming the roles needed', async () => {
    const err = expectError(
      await stack.call('POST', '/v1/patches', { token: auditor, body: { advisoryIds: ['USN-6859-1'] } }),
      403,
      'forbidden',
    );
    expect(err.details).toMatchObject({ requiredRoles: ['operator'], yourRoles: ['auditor'] });
    expectError(await stack.call('POST', '/v1/users', { token: operator, body: { name: 'eve', roles: ['admin'] } }), 403, 'forbidden');
  });

  it('400 for malformed JSON', async () => {
    const res = await stack.call('POST', '/v1/patches', {
      token: operator,
      rawBody: '{"advisoryIds": ["USN-6859-1"',
      headers: { 'content-type': 'application/json' },
    });
    expectError(res, 400, 'malformed_json');
  });

  it('400 for wrong types, naming the field', async () => {
    const err = expectError(
      await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: 'USN-6859-1', emergency: 'yes' } }),
      400,
      'invalid_request',
    );
    const paths = (err.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['body.advisoryIds', 'body.emergency']));
  });

  it('400 for unknown fields, also inside settings', async () => {
    const top = expectError(
      await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-6859-1'], priority: 1 } }),
      400,
      'invalid_request',
    );
    expect(JSON.stringify(top.details)).toContain('priority');
    expectError(
      await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-6859-1'], settings: { reviewTimout: '1m' } } }),
      400,
      'invalid_request',
    );
    expectError(
      await stack.call('POST', '/v1/users', { token: stack.adminToken, body: { name: 'z', roles: ['auditor'], isAdmin: true } }),
      400,
      'invalid_request',
    );
  });

  it('400 for bad values: empty lists, unknown roles, bad durations', async () => {
    expectError(await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: [] } }), 400, 'invalid_request');
    expectError(
      await stack.call('POST', '/v1/users', { token: stack.adminToken, body: { name: 'z', roles: ['root'] } }),
      400,
      'invalid_request',
    );
    const err = expectError(
      await stack.call('POST', '/v1/patches', { token: operator, body: { advisoryIds: ['USN-6859-1'], settings: { bakeTime: 'soon' } } }),
      400,
      'invalid_request',
    );
    expect(err.message).toContain('body.settings.bakeTime');
  });

  it('413 for a body over the limit', async () => {
    const huge = { advisoryIds: ['USN-6859-1'], title: 'x'.repeat(2 * 1024 * 1024) };
    expectError(await stack.call('POST', '/v1/patches', { token: operator, body: huge }), 413, 'payload_too_large');
  });

  it('415 for a body that is not JSON', async () => {
    const res = await stack.call('POST', '/v1/patches', {
      token: operator,
      rawBody: 'advisoryIds=USN-6859-1',
      headers: { 'content-type': 'text/plain' },
    });
    expectError(res, 415, 'unsupported_media_type');
  });

  it('404 for an unknown route and an unknown patch', async () => {
    expectError(await stack.call('GET', '/v1/nothing-here', { token: operator }), 404, 'not_found');
    expectError(await stack.call('GET', '/v1/patches/20200101-deadbeef', { token: operator }), 404, 'not_found');
    expectError(await stack.call('GET', '/v1/patches/NOT_AN_ID', { token: operator }), 400, 'invalid_request');
  });
});

describe('OpenAPI', () => {
  it('documents every route with the request schemas that validate it', async () => {
    const res = await stack.call('GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const paths = res.body.paths;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/v1/users', '/v1/patches', '/v1/patches/{id}']));
    const createPatch = paths['/v1/patches'].post;
    const schema = createPatch.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(['advisoryIds']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['advisoryIds', 'title', 'emergency', 'strategy', 'settings']));
    expect(Object.keys(createPatch.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '413']));
    expect(paths['/v1/users'].post.security).toEqual([{ bearer: [] }]);
  });
});

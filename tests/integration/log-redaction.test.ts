/**
 * No secret reaches a log line: a real API run on the real servers, logging every request at
 * debug level into memory, is grepped for the bearer tokens, cookie and query-string token it
 * was sent (issue 14, item 1).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { startTestStack, type TestStack } from '../helpers/servers';

const lines: string[] = [];
let stack: TestStack;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  stack = await startTestStack({ logger: createLogger('debug', 'test', sink) });
});
afterAll(async () => {
  await stack?.stop();
});

describe('the logs of a real API run', () => {
  it('name no bearer token, cookie or query-string secret, and show where they were redacted', async () => {
    const operator = await stack.user('olga', ['operator']);
    const auditor = await stack.user('aude', ['auditor']);
    expect((await stack.call('GET', '/v1/patches', { token: operator })).status).toBe(200);
    expect((await stack.call('GET', '/v1/assets', { token: auditor, headers: { cookie: 'session=cookie-secret-4711' } })).status).toBe(200);
    expect((await stack.call('GET', `/v1/patches?token=${operator}`)).status).toBe(401);
    expect((await stack.call('GET', '/v1/patches', { token: 'pf_not-a-real-token-0815' })).status).toBe(401);

    const log = lines.join('\n');
    expect(lines.filter((l) => l.includes('"url":"/v1/patches'))).not.toEqual([]); // the requests were logged
    for (const secret of [stack.adminToken, operator, auditor, 'cookie-secret-4711', 'pf_not-a-real-token-0815']) {
      expect(log).not.toContain(secret);
    }
    expect(log).toContain('"authorization":"[redacted]"');
    expect(log).toContain('"cookie":"[redacted]"');
    expect(log).toContain('"url":"/v1/patches?token=[redacted]"');
  });
});

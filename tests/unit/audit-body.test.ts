/** What the audit trail keeps of a request body (src/db/audit.ts `auditBody`). */
import { describe, expect, it } from 'vitest';
import { AUDIT_BODY_LIMIT, auditBody } from '../../src/db/audit';

describe('auditBody', () => {
  it('keeps a body as sent, and null when none was read', () => {
    const body = { advisoryIds: ['USN-6859-1'], settings: { bakeTime: '30s' } };
    expect(auditBody(body, 60)).toEqual(body);
    expect(auditBody(undefined, undefined)).toBeNull();
    expect(auditBody('id,hostname\nweb-1,web-1.example', 30)).toBe('id,hostname\nweb-1,web-1.example');
  });

  it('stores a body over 64 KiB as its size only', () => {
    expect(auditBody({ title: 'x' }, AUDIT_BODY_LIMIT)).toEqual({ title: 'x' });
    expect(auditBody({ title: 'x'.repeat(70_000) }, 70_012)).toEqual({ truncated: true, bytes: 70_012 });
  });

  it('never keeps secret-looking fields, at any depth', () => {
    expect(auditBody({ name: 'eve', token: 'pf_abc', nested: [{ apiKey: 'k', password: 'p', refresh_token: 't' }] }, 100)).toEqual({
      name: 'eve',
      token: '[redacted]',
      nested: [{ apiKey: '[redacted]', password: '[redacted]', refresh_token: '[redacted]' }],
    });
  });

  it('makes every body storable as jsonb: NULs and lone surrogates replaced, absurd nesting as a size', () => {
    expect(auditBody({ ['a\u0000']: 'b\u0000\ud800c\ud83d\ude00' }, 20)).toEqual({ 'a\ufffd': 'b\ufffd\ufffdc\ud83d\ude00' });
    const deep = JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`);
    expect(auditBody(deep, 10_000)).toEqual({ truncated: true, bytes: 10_000 });
  });
});

import { describe, expect, it } from 'vitest';
import { tokenExpiry } from '../../src/domain/token-expiry';

const DAY = 86_400_000;
const now = new Date('2026-03-01T12:00:00.000Z');
const policy = { tokenLifetime: '90d', maxTokenLifetime: '365d' };
const at = (ms: number) => new Date(now.getTime() + ms);

describe('token expiry', () => {
  it('is the policy lifetime after issue by default', () => {
    expect(tokenExpiry(policy, {}, now)).toEqual({ ok: true, expiresAt: at(90 * DAY) });
    expect(tokenExpiry({ tokenLifetime: '12h', maxTokenLifetime: '1d' }, {}, now)).toEqual({ ok: true, expiresAt: at(12 * 3_600_000) });
  });

  it('follows the issuer: expiresIn or expiresAt, up to the maximum itself', () => {
    expect(tokenExpiry(policy, { expiresIn: '30d' }, now)).toEqual({ ok: true, expiresAt: at(30 * DAY) });
    expect(tokenExpiry(policy, { expiresIn: '1s' }, now)).toEqual({ ok: true, expiresAt: at(1000) });
    expect(tokenExpiry(policy, { expiresIn: '365d' }, now)).toEqual({ ok: true, expiresAt: at(365 * DAY) });
    expect(tokenExpiry(policy, { expiresAt: '2026-03-02T00:00:00+01:00' }, now)).toEqual({
      ok: true,
      expiresAt: new Date('2026-03-01T23:00:00.000Z'),
    });
    expect(tokenExpiry(policy, { expiresAt: at(365 * DAY).toISOString() }, now)).toMatchObject({ ok: true });
  });

  it('refuses a life past maxTokenLifetime, naming the latest time allowed', () => {
    const latest = at(365 * DAY);
    expect(tokenExpiry(policy, { expiresIn: '366d' }, now)).toEqual({ ok: false, message: expect.stringContaining('365d'), latest });
    expect(tokenExpiry(policy, { expiresAt: new Date(latest.getTime() + 1).toISOString() }, now)).toMatchObject({ ok: false, latest });
    expect(tokenExpiry({ tokenLifetime: '1d', maxTokenLifetime: '7d' }, { expiresIn: '2w' }, now)).toMatchObject({ ok: false });
  });

  it('refuses an expiry now or in the past, both options at once, and what is not a duration or a time', () => {
    expect(tokenExpiry(policy, { expiresIn: '0s' }, now)).toMatchObject({ ok: false, message: 'a token must expire in the future' });
    expect(tokenExpiry(policy, { expiresAt: '2026-03-01T11:59:59Z' }, now)).toMatchObject({ ok: false });
    expect(tokenExpiry(policy, { expiresAt: now.toISOString() }, now)).toMatchObject({ ok: false });
    expect(tokenExpiry(policy, { expiresIn: '1d', expiresAt: at(DAY).toISOString() }, now)).toMatchObject({
      ok: false,
      message: 'give expiresIn or expiresAt, not both',
    });
    expect(tokenExpiry(policy, { expiresIn: 'forever' }, now)).toMatchObject({ ok: false });
    expect(tokenExpiry(policy, { expiresAt: 'tomorrow' }, now)).toMatchObject({ ok: false });
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/domain/patch';
import { ROLES } from '../../src/domain/roles';
import {
  checkSignature,
  initialTrust,
  MAX_NONCES,
  refuseKeyList,
  rememberNonce,
  SIGNATURE_WINDOW_MS,
  signUpdate,
  type UpdateSignature,
  type UpdateTrust,
} from '../../src/domain/signed-update';
import { newSigningKey } from '../../src/signing/keys';

const API = newSigningKey();
const OTHER = newSigningKey();
const NOW = Date.parse('2026-11-22T10:00:00Z');
const NONCE = '0123456789abcdef0123456789abcdef';
const carl: Actor = { id: 'user-carl', name: 'carl', roles: ['approver'] };
const decision = { actor: carl, decision: 'approve', comment: 'go' };
const target = { patchId: '20261122-9f2c01ab', update: 'decide' };

const sign = <I extends object>(input: I, overrides: Partial<Parameters<typeof signUpdate>[1]> = {}) =>
  signUpdate(input, { ...target, secretKey: API.secretKey, publicKey: API.publicKey, at: NOW, nonce: NONCE, ...overrides });
const trusting = (...keys: string[]): UpdateTrust => initialTrust(keys);
/** What the workflow receives: the input after Temporal's JSON payload converter. */
const overTheWire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const actorArb = fc.record({
  id: fc.string({ minLength: 1 }),
  name: fc.string({ minLength: 1 }),
  roles: fc.uniqueArray(fc.constantFrom(...ROLES), { minLength: 1 }),
});
const bodyArb = fc.dictionary(
  fc.string({ minLength: 1 }).filter((k) => k !== 'actor' && k !== 'signature' && k !== '__proto__'),
  fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 3 })),
  { maxKeys: 4 },
);
const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));

describe('signed updates', () => {
  it('accepts what the API signed, after the trip through Temporal', () => {
    const signed = overTheWire(sign(decision));
    expect(signed.signature).toMatchObject({ key: API.publicKey, at: '2026-11-22T10:00:00.000Z', nonce: NONCE });
    expect(signed.signature.value).toMatch(/^[0-9a-f]{128}$/);
    expect(checkSignature(signed, target, trusting(API.publicKey), NOW)).toBeUndefined();
    // within the window either way
    expect(checkSignature(signed, target, trusting(API.publicKey), NOW + SIGNATURE_WINDOW_MS)).toBeUndefined();
    expect(checkSignature(signed, target, trusting(API.publicKey), NOW - SIGNATURE_WINDOW_MS)).toBeUndefined();
  });

  it('signs the input without its signature: signing again replaces it, and an optional field left undefined is not signed', () => {
    const resigned = sign(sign(decision), { nonce: 'f'.repeat(32) });
    expect(resigned.signature.nonce).toBe('f'.repeat(32));
    expect(checkSignature(resigned, target, trusting(API.publicKey), NOW)).toBeUndefined();
    const withUndefined = overTheWire(sign({ ...decision, bypassMaintenanceWindows: undefined }));
    expect(checkSignature(withUndefined, target, trusting(API.publicKey), NOW)).toBeUndefined();
  });

  it('refuses, with a reason for each: unsigned, malformed, untrusted, stale, replayed, forged', () => {
    const trust = trusting(API.publicKey);
    const signed = sign(decision);
    const reason = (input: unknown, at = NOW, t = trust) => checkSignature(input, target, t, at)?.reason;
    expect(reason(decision)).toBe('unsigned');
    expect(reason({ ...decision, signature: null })).toBe('unsigned');
    expect(reason(undefined)).toBe('unsigned');
    expect(reason(null)).toBe('unsigned');
    expect(reason({ ...decision, signature: 'abc' })).toBe('malformed');
    expect(reason({ ...decision, signature: { ...signed.signature, key: 'nope' } })).toBe('malformed');
    expect(reason({ ...decision, signature: { ...signed.signature, nonce: 'short' } })).toBe('malformed');
    expect(reason({ ...decision, signature: { ...signed.signature, at: 'yesterday' } })).toBe('malformed');
    expect(reason({ ...decision, signature: { ...signed.signature, value: 'ab' } })).toBe('malformed');
    expect(reason(sign(decision, { secretKey: OTHER.secretKey, publicKey: OTHER.publicKey }))).toBe('untrusted-key');
    expect(reason(signed, NOW, initialTrust([]))).toBe('untrusted-key');
    expect(reason(signed, NOW + SIGNATURE_WINDOW_MS + 1)).toBe('stale');
    expect(reason(signed, NOW - SIGNATURE_WINDOW_MS - 1)).toBe('stale');
    // signed by another key, claiming the trusted one
    const forged = sign(decision, { secretKey: OTHER.secretKey });
    expect(reason(forged)).toBe('bad-signature');
    expect(checkSignature(signed, { ...target, patchId: '20261122-00000000' }, trust, NOW)?.reason).toBe('bad-signature');
    expect(checkSignature(signed, { ...target, update: 'review' }, trust, NOW)?.reason).toBe('bad-signature');

    rememberNonce(trust, signed.signature, NOW);
    expect(reason(signed)).toBe('replayed');
    expect(checkSignature(signed, target, trust, NOW)?.message).toBe('This signed update was already accepted once');
  });

  it('breaks on any change to any signed field', () => {
    const trust = trusting(API.publicKey, OTHER.publicKey);
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.constantFrom('review', 'decide', 'revise', 'cancel', 'rollout', 'trust'),
        actorArb,
        bodyArb,
        // inside the window, with room for the 1 ms the `at` change below adds
        fc.integer({ min: -SIGNATURE_WINDOW_MS + 1, max: SIGNATURE_WINDOW_MS - 1 }),
        hex(32),
        fc.nat({ max: 7 }),
        (patchId, update, actor, body, skew, nonce, which) => {
          const input = { ...body, actor };
          const signed = overTheWire(sign(input, { patchId, update, at: NOW + skew, nonce }));
          const here = { patchId, update };
          expect(checkSignature(signed, here, trust, NOW)).toBeUndefined();

          const sig = signed.signature;
          const other = (s: string) => (s.endsWith('x') ? `${s}y` : `${s}x`);
          const changed: [unknown, { patchId: string; update: string }][] = [
            [signed, { patchId: other(patchId), update }],
            [signed, { patchId, update: other(update) }],
            [{ ...signed, actor: { ...actor, id: other(actor.id) } }, here],
            [{ ...signed, actor: { ...actor, name: other(actor.name) } }, here],
            [{ ...signed, actor: { ...actor, roles: [...actor.roles.filter((r) => r !== 'admin'), 'admin'].reverse() } }, here],
            [{ ...signed, extra: 'field' }, here],
            [{ ...signed, signature: { ...sig, at: new Date(Date.parse(sig.at) + 1).toISOString() } }, here],
            [{ ...signed, signature: { ...sig, nonce: sig.nonce === NONCE ? 'f'.repeat(32) : NONCE } }, here],
            [{ ...signed, signature: { ...sig, key: sig.key === API.publicKey ? OTHER.publicKey : API.publicKey } }, here],
          ];
          const [input2, target2] = changed[which]!;
          // the roles change is no change when the actor already held exactly [admin]
          if (which === 4 && JSON.stringify((input2 as typeof signed).actor.roles) === JSON.stringify(actor.roles)) return;
          expect(checkSignature(input2, target2, trust, NOW)?.reason).toBe('bad-signature');
          for (const [key, value] of Object.entries(body)) {
            const altered = { ...signed, [key]: typeof value === 'string' ? other(value) : JSON.stringify(value) };
            expect(checkSignature(altered, here, trust, NOW)?.reason).toBe('bad-signature');
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps only the nonces inside the window, and refuses more than MAX_NONCES in it', () => {
    const trust = trusting(API.publicKey);
    const sig = (nonce: number, at: number): UpdateSignature => ({
      key: API.publicKey,
      at: new Date(at).toISOString(),
      nonce: nonce.toString(16).padStart(32, '0'),
      value: '0'.repeat(128),
    });
    rememberNonce(trust, sig(1, NOW - 2 * SIGNATURE_WINDOW_MS), NOW - 2 * SIGNATURE_WINDOW_MS);
    rememberNonce(trust, sig(2, NOW), NOW);
    rememberNonce(trust, sig(3, NOW + 1), NOW + 1);
    expect(Object.keys(trust.nonces)).toEqual([sig(2, NOW).nonce, sig(3, NOW).nonce]);

    for (let n = 10; n < MAX_NONCES + 8; n++) trust.nonces[sig(n, NOW).nonce] = NOW;
    expect(Object.keys(trust.nonces)).toHaveLength(MAX_NONCES);
    expect(checkSignature(sign(decision), target, trust, NOW)?.reason).toBe('too-many');
    // once they leave the window they no longer count
    const later = NOW + SIGNATURE_WINDOW_MS + 1;
    expect(checkSignature(sign(decision, { at: later }), target, trust, later)).toBeUndefined();
  });

  it('checks a list of keys to trust', () => {
    expect(refuseKeyList([API.publicKey, OTHER.publicKey])).toBeUndefined();
    expect(refuseKeyList([])).toBe('A patch trusts at least one key');
    expect(refuseKeyList('abc')).toBe('A patch trusts at least one key');
    expect(refuseKeyList([API.publicKey, API.publicKey])).toBe('Keys must not repeat');
    expect(refuseKeyList([API.publicKey.toUpperCase()])).toContain('64 lowercase hex digits');
    expect(refuseKeyList(Array.from({ length: 17 }, () => newSigningKey().publicKey))).toBe('A patch trusts at most 16 keys');
  });

  it('a patch started before signed updates trusts no key at all (null), one started now its list', () => {
    expect(initialTrust(undefined)).toEqual({ keys: null, nonces: {} });
    expect(initialTrust([API.publicKey])).toEqual({ keys: [API.publicKey], nonces: {} });
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/domain/duration';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

describe('duration strings', () => {
  it('reads the examples of the spec', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
  });

  it('refuses what is not a number with a unit', () => {
    for (const bad of ['', 'soon', '15', '-5m', '5 minutes', 'm', '1e3s', '2h30m']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('is the number times its unit, for any number and unit', () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.constantFrom(...(Object.keys(UNIT_MS) as (keyof typeof UNIT_MS)[])), (n, unit) => {
        expect(parseDuration(`${n}${unit}`)).toBe(n * UNIT_MS[unit]);
      }),
    );
  });
});

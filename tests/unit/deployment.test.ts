import { describe, expect, it } from 'vitest';
import { mayStartNow } from '../../src/domain/deployment';

describe('mayStartNow: a queued host starts only while its window leaves enough of itself', () => {
  const window = { opensAt: '2026-12-05T01:00:00Z', closesAt: '2026-12-05T05:00:00Z', startBy: '2026-12-05T04:30:00Z' };
  const at = (iso: string) => Date.parse(iso);

  it('starts inside the window until startBy, not before it opens nor after', () => {
    expect(mayStartNow(window, at('2026-12-05T00:59:59Z'))).toBe(false);
    expect(mayStartNow(window, at('2026-12-05T01:00:00Z'))).toBe(true);
    expect(mayStartNow(window, at('2026-12-05T04:30:00Z'))).toBe(true);
    // queued at 01:00 behind other hosts, its turn comes at 04:40: 20 minutes left, too few
    expect(mayStartNow(window, at('2026-12-05T04:40:00Z'))).toBe(false);
    expect(mayStartNow(window, at('2026-12-05T06:00:00Z'))).toBe(false);
  });

  it('always starts in a window that never closes, never without one', () => {
    expect(mayStartNow({ opensAt: '2026-12-05T01:00:00Z', closesAt: null, startBy: null }, at('2027-06-01T00:00:00Z'))).toBe(true);
    expect(mayStartNow(null, at('2026-12-05T02:00:00Z'))).toBe(false);
  });

  it('takes a window recorded before startBy existed as open until it closes', () => {
    const old = { opensAt: '2026-12-05T01:00:00Z', closesAt: '2026-12-05T05:00:00Z' };
    expect(mayStartNow(old, at('2026-12-05T04:59:00Z'))).toBe(true);
    expect(mayStartNow(old, at('2026-12-05T05:00:01Z'))).toBe(false);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupCaps, nextPatchWindow, planWaves, wavesLowerBound, type PlanTarget } from '../../src/domain/planner';

const CRIT = ['low', 'medium', 'high', 'critical'] as const;
const EXPO = ['isolated', 'internal', 'internet'] as const;

/** A fleet: hosts with random criticality and exposure, a share of them in clusters of 1–8. */
const fleet = fc
  .array(
    fc.record({
      criticality: fc.constantFrom(...CRIT),
      exposure: fc.constantFrom(...EXPO),
      group: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
    }),
    { minLength: 0, maxLength: 250 },
  )
  .map((hosts) =>
    hosts.map((h, i): PlanTarget => ({
      id: `h${String(i).padStart(3, '0')}`,
      criticality: h.criticality,
      exposure: h.exposure,
      redundancyGroup: h.group === undefined ? null : `g${h.group}`,
    })),
  );
const options = fc.record({
  strategy: fc.constantFrom('least-critical-first' as const, 'risk-first' as const),
  waveSize: fc.integer({ min: 1, max: 60 }),
  maxPerGroupPerWave: fc.integer({ min: 1, max: 4 }),
});

describe('planWaves', () => {
  it('puts every target in exactly one wave, within wave size and group caps, never a whole cluster at once', () => {
    fc.assert(
      fc.property(fleet, options, (targets, opts) => {
        const waves = planWaves(targets, opts);
        const placed = waves.flatMap((w) => w.assets);
        expect(placed.sort()).toEqual(targets.map((t) => t.id).sort());
        const byId = new Map(targets.map((t) => [t.id, t]));
        const caps = groupCaps(targets, opts.maxPerGroupPerWave);
        const sizes = new Map<string, number>();
        for (const t of targets) if (t.redundancyGroup) sizes.set(t.redundancyGroup, (sizes.get(t.redundancyGroup) ?? 0) + 1);
        for (const wave of waves) {
          expect(wave.assets.length).toBeGreaterThan(0);
          expect(wave.assets.length).toBeLessThanOrEqual(opts.waveSize);
          const perGroup = new Map<string, number>();
          for (const id of wave.assets) {
            const group = byId.get(id)!.redundancyGroup;
            if (group) perGroup.set(group, (perGroup.get(group) ?? 0) + 1);
          }
          for (const [group, count] of perGroup) {
            expect(count).toBeLessThanOrEqual(Math.min(opts.maxPerGroupPerWave, caps.get(group)!));
            if (sizes.get(group)! >= 2) expect(count).toBeLessThan(sizes.get(group)!);
          }
        }
        expect(waves.map((w) => w.index)).toEqual(waves.map((_, i) => i));
      }),
      { numRuns: 300 },
    );
  });

  it('stays close to the lower bound on the number of waves', () => {
    fc.assert(
      fc.property(fleet, options, (targets, opts) => {
        const bound = wavesLowerBound(targets, opts);
        expect(planWaves(targets, opts).length).toBeLessThanOrEqual(Math.ceil(bound * 1.25));
      }),
      { numRuns: 300 },
    );
  });

  it('reaches the bound when the waves are full to the last slot (every host in a cluster)', () => {
    const criticalities = ['low', 'medium', 'high', 'critical'] as const;
    const exposures = ['internal', 'internet', 'isolated'] as const;
    const targets: PlanTarget[] = Array.from({ length: 9900 }, (_, n) => ({
      id: `h${String(n).padStart(5, '0')}`,
      criticality: criticalities[n % 4]!,
      exposure: exposures[n % 3]!,
      redundancyGroup: `c${Math.floor(n / 6)}`,
    }));
    const options = { strategy: 'least-critical-first' as const, waveSize: 1980, maxPerGroupPerWave: 2 };
    const waves = planWaves(targets, options);
    expect(waves.map((w) => w.assets.length)).toEqual([1980, 1980, 1980, 1980, 1980]);
    expect(waves.length).toBe(wavesLowerBound(targets, options));
  });

  it('orders waves by the strategy when no cluster pulls a host elsewhere', () => {
    const rank = (t: PlanTarget) => [CRIT.indexOf(t.criticality), EXPO.indexOf(t.exposure)] as const;
    const before = (a: readonly number[], b: readonly number[]) => a[0]! < b[0]! || (a[0] === b[0] && a[1]! <= b[1]!);
    fc.assert(
      fc.property(fleet, options, (targets, opts) => {
        const plain = targets.map((t) => ({ ...t, redundancyGroup: null }));
        const byId = new Map(plain.map((t) => [t.id, t]));
        const waves = planWaves(plain, opts).map((w) => w.assets.map((id) => rank(byId.get(id)!)));
        for (let i = 0; i + 1 < waves.length; i++) {
          const last = waves[i]!.at(-1)!;
          const next = waves[i + 1]![0]!;
          if (opts.strategy === 'least-critical-first') expect(before(last, next)).toBe(true);
          else expect(before(next, last)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('spreads a cluster: three web nodes with one per wave, the riskiest first under risk-first', () => {
    const targets: PlanTarget[] = [
      { id: 'web-1', criticality: 'high', exposure: 'internet', redundancyGroup: 'web' },
      { id: 'web-2', criticality: 'high', exposure: 'internet', redundancyGroup: 'web' },
      { id: 'web-3', criticality: 'high', exposure: 'internet', redundancyGroup: 'web' },
      { id: 'db-1', criticality: 'critical', exposure: 'internal', redundancyGroup: 'db' },
      { id: 'db-2', criticality: 'critical', exposure: 'internal', redundancyGroup: 'db' },
      { id: 'batch-1', criticality: 'low', exposure: 'isolated' },
    ];
    const waves = planWaves(targets, { strategy: 'risk-first', waveSize: 10, maxPerGroupPerWave: 1 });
    expect(waves.map((w) => w.assets)).toEqual([
      ['db-1', 'web-1'],
      ['db-2', 'web-2'],
      ['web-3', 'batch-1'],
    ]);
    expect(wavesLowerBound(targets, { waveSize: 10, maxPerGroupPerWave: 1 })).toBe(3);
    // two per wave allowed, but never the whole cluster: two waves, web split 1 + 2, db 1 + 1
    expect(planWaves(targets, { strategy: 'risk-first', waveSize: 10, maxPerGroupPerWave: 2 }).map((w) => w.assets)).toEqual([
      ['db-1', 'web-1'],
      ['db-2', 'web-2', 'web-3', 'batch-1'],
    ]);
  });
});

describe('nextPatchWindow', () => {
  const berlin = {
    timezone: 'Europe/Berlin',
    maintenanceWindows: [{ days: ['sat' as const, 'sun' as const], start: '01:00', end: '05:00' }],
  };

  it('opens at the next window in the host’s own time zone', () => {
    // Thursday 2026-11-19 12:00 UTC → Saturday 01:00 Berlin (UTC+1) = Saturday 00:00 UTC
    const next = nextPatchWindow(berlin, new Date('2026-11-19T12:00:00Z'), [], false)!;
    expect(next.start.toISOString()).toBe('2026-11-21T00:00:00.000Z');
    expect(next.end.toISOString()).toBe('2026-11-21T04:00:00.000Z');
  });

  it('is now when inside a window, and any time for a host without windows', () => {
    const inside = nextPatchWindow(berlin, new Date('2026-11-21T02:30:00Z'), [], false)!;
    expect(inside.start.toISOString()).toBe('2026-11-21T02:30:00.000Z');
    const anytime = nextPatchWindow({ timezone: 'UTC', maintenanceWindows: [] }, new Date('2026-11-19T12:00:00Z'), [], false)!;
    expect(anytime.start.toISOString()).toBe('2026-11-19T12:00:00.000Z');
  });

  it('runs a window across midnight into the next day, and finds it open after midnight', () => {
    const night = { timezone: 'America/New_York', maintenanceWindows: [{ days: ['wed' as const], start: '22:00', end: '02:00' }] };
    // Thursday 01:00 New York (UTC-5) = Thursday 06:00 UTC: still in Wednesday's window
    const open = nextPatchWindow(night, new Date('2026-11-19T06:00:00Z'), [], false)!;
    expect(open.start.toISOString()).toBe('2026-11-19T06:00:00.000Z');
    expect(open.end.toISOString()).toBe('2026-11-19T07:00:00.000Z');
  });

  it('skips change freezes, cuts a window where a freeze begins, and the emergency bypass ignores both', () => {
    const freeze = [{ start: '2026-11-20T00:00:00Z', end: '2026-11-23T00:00:00Z', reason: 'Black Friday' }];
    const next = nextPatchWindow(berlin, new Date('2026-11-19T12:00:00Z'), freeze, false)!;
    expect(next.start.toISOString()).toBe('2026-11-28T00:00:00.000Z');
    const cut = nextPatchWindow(
      berlin,
      new Date('2026-11-19T12:00:00Z'),
      [{ start: '2026-11-21T02:00:00Z', end: '2026-11-21T09:00:00Z' }],
      false,
    )!;
    expect([cut.start.toISOString(), cut.end.toISOString()]).toEqual(['2026-11-21T00:00:00.000Z', '2026-11-21T02:00:00.000Z']);
    const bypass = nextPatchWindow(berlin, new Date('2026-11-19T12:00:00Z'), freeze, true)!;
    expect(bypass.start.toISOString()).toBe('2026-11-19T12:00:00.000Z');
  });

  it('leaves out what is too short: the end of an open window, a stretch before a freeze', () => {
    const HALF_HOUR = 30 * 60_000;
    // Saturday 04:45 Berlin (03:45 UTC): 15 minutes of the window left, so the next one (Sunday 01:00 Berlin)
    const late = nextPatchWindow(berlin, new Date('2026-11-21T03:45:00Z'), [], false, HALF_HOUR)!;
    expect(late.start.toISOString()).toBe('2026-11-22T00:00:00.000Z');
    // with 90 minutes left (03:30 Berlin) it starts now
    const early = nextPatchWindow(berlin, new Date('2026-11-21T02:30:00Z'), [], false, HALF_HOUR)!;
    expect(early.start.toISOString()).toBe('2026-11-21T02:30:00.000Z');
    // a freeze from 00:20 UTC leaves 20 minutes before it; the window goes on after it ends at 01:00 UTC
    const freeze = [{ start: '2026-11-21T00:20:00Z', end: '2026-11-21T01:00:00Z' }];
    const after = nextPatchWindow(berlin, new Date('2026-11-20T12:00:00Z'), freeze, false, HALF_HOUR)!;
    expect([after.start.toISOString(), after.end.toISOString()]).toEqual(['2026-11-21T01:00:00.000Z', '2026-11-21T04:00:00.000Z']);
  });

  it('counts what is left of a window in real time across a DST change', () => {
    // Sunday 2026-03-29 01:00–04:00 Berlin: clocks jump from 02:00 to 03:00, so the window lasts 2 hours
    const sunday = { timezone: 'Europe/Berlin', maintenanceWindows: [{ days: ['sun' as const], start: '01:00', end: '04:00' }] };
    const window = nextPatchWindow(sunday, new Date('2026-03-28T12:00:00Z'), [], false, 2 * 3_600_000)!;
    expect([window.start.toISOString(), window.end.toISOString()]).toEqual(['2026-03-29T00:00:00.000Z', '2026-03-29T02:00:00.000Z']);
    // asking for more than those 2 hours skips to the next Sunday's full 3 hours (summer time: 01:00 Berlin = 23:00 UTC)
    const longer = nextPatchWindow(sunday, new Date('2026-03-28T12:00:00Z'), [], false, 2.5 * 3_600_000)!;
    expect(longer.start.toISOString()).toBe('2026-04-04T23:00:00.000Z');
  });

  it('always leaves at least the minimum of its window (property)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2026-01-01'), max: new Date('2027-12-31'), noInvalidDate: true }),
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Sydney'),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 240 }),
        (from, timezone, startHour, hours, minMinutes) => {
          const host = {
            timezone,
            maintenanceWindows: [
              {
                days: ['sat' as const],
                start: `${String(startHour).padStart(2, '0')}:00`,
                end: `${String((startHour + hours) % 24).padStart(2, '0')}:00`,
              },
            ],
          };
          const next = nextPatchWindow(host, from, [], false, minMinutes * 60_000);
          if (next === undefined) return; // the window is never that long
          expect(next.end.getTime() - next.start.getTime()).toBeGreaterThanOrEqual(minMinutes * 60_000);
          expect(next.start.getTime()).toBeGreaterThanOrEqual(from.getTime());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never opens inside a freeze or outside a window (property)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2026-01-01'), max: new Date('2027-12-31'), noInvalidDate: true }),
        fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kolkata', 'America/Los_Angeles', 'Australia/Sydney'),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 30 }),
        (from, timezone, startHour, hours, freezeDays) => {
          const host = {
            timezone,
            maintenanceWindows: [
              {
                days: ['tue' as const, 'sat' as const],
                start: `${String(startHour).padStart(2, '0')}:00`,
                end: `${String((startHour + hours) % 24).padStart(2, '0')}:00`,
              },
            ],
          };
          const freeze = { start: from.toISOString(), end: new Date(from.getTime() + freezeDays * 86_400_000).toISOString() };
          const next = nextPatchWindow(host, from, [freeze], false);
          expect(next).toBeDefined();
          expect(next!.start.getTime()).toBeGreaterThanOrEqual(Math.max(from.getTime(), Date.parse(freeze.end)));
          expect(next!.end.getTime()).toBeGreaterThan(next!.start.getTime());
          // the start lies inside a Tuesday or Saturday window in the host's zone
          const local = new Intl.DateTimeFormat('en-GB', {
            timeZone: timezone,
            weekday: 'short',
            hour: '2-digit',
            hour12: false,
          }).formatToParts(next!.start);
          const hour = Number(local.find((p) => p.type === 'hour')!.value) % 24;
          const inWindow = (hour - startHour + 24) % 24 < hours;
          expect(inWindow).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

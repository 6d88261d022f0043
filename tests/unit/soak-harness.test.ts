/**
 * The six-months harness checked on its own (tests/helpers/fleet.ts, zoned-time.ts,
 * window-audit.ts, soak.ts): the fleet, the scenario's calendar, and the window audit, whose
 * windows must agree with the planner's while sharing none of its code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextPatchWindow } from '../../src/domain/planner';
import { generateFleet, ROLES, scenarioStart, SITES, soakPolicy, yearEndFreeze } from '../helpers/fleet';
import { DAY, HOUR, soakScenario } from '../helpers/soak';
import { stepsToAudit, windowViolations, type HostWindows, type TimedStep } from '../helpers/window-audit';
import { describeLocal, localTime, offsetChanges, windowContaining, zonedInstant } from '../helpers/zoned-time';

const site = (name: string) => SITES.find((s) => s.name === name)!;
const at = (iso: string) => Date.parse(iso);

describe('zoned time with Intl', () => {
  it('reads wall clocks and finds the instants they name, across clock changes', () => {
    expect(localTime(at('2028-03-12T06:59:00Z'), 'America/New_York')).toMatchObject({ hour: 1, minute: 59, weekday: 'sun' });
    expect(localTime(at('2028-03-12T07:00:00Z'), 'America/New_York')).toMatchObject({ hour: 3, minute: 0, weekday: 'sun' });
    expect(zonedInstant('America/New_York', 2028, 3, 11, 22, 0)).toBe(at('2028-03-12T03:00:00Z'));
    expect(zonedInstant('America/New_York', 2028, 3, 12, 6, 0)).toBe(at('2028-03-12T10:00:00Z'));
    expect(zonedInstant('Europe/Berlin', 2027, 10, 31, 5, 0)).toBe(at('2027-10-31T04:00:00Z'));
    expect(zonedInstant('Asia/Tokyo', 2027, 12, 18, 0, 0)).toBe(at('2027-12-17T15:00:00Z'));
    expect(describeLocal(at('2027-11-07T05:30:00Z'), 'America/New_York')).toBe('Sun 2027-11-07 01:30 America/New_York (UTC-4)');
    expect(describeLocal(at('2027-11-07T06:30:00Z'), 'America/New_York')).toBe('Sun 2027-11-07 01:30 America/New_York (UTC-5)');
  });

  it('finds the clock changes of a zone', () => {
    const changes = offsetChanges('America/New_York', at('2027-10-20T09:00:00Z'), at('2028-04-20T09:00:00Z'));
    expect(changes.map((c) => [new Date(c.at).toISOString(), c.before / HOUR, c.after / HOUR])).toEqual([
      ['2027-11-07T06:00:00.000Z', -4, -5],
      ['2028-03-12T07:00:00.000Z', -5, -4],
    ]);
    expect(
      offsetChanges('Europe/Berlin', at('2027-10-20T00:00:00Z'), at('2028-04-20T00:00:00Z')).map((c) => new Date(c.at).toISOString()),
    ).toEqual(['2027-10-31T01:00:00.000Z', '2028-03-26T01:00:00.000Z']);
    expect(offsetChanges('Asia/Tokyo', at('2027-01-01T00:00:00Z'), at('2028-01-01T00:00:00Z'))).toEqual([]);
  });

  it('a window over a clock change is an hour longer or shorter', () => {
    const length = (zone: string, windows: HostWindows['maintenanceWindows'], iso: string) => {
      const w = windowContaining(at(iso), zone, windows)!;
      return (w.closesAt - w.opensAt) / HOUR;
    };
    const nyc = site('nyc');
    const fra = site('fra');
    expect(length(nyc.timezone, nyc.maintenanceWindows, '2027-10-31T03:00:00Z')).toBe(8);
    expect(length(nyc.timezone, nyc.maintenanceWindows, '2027-11-07T03:00:00Z')).toBe(9); // clocks go back at 02:00
    expect(length(nyc.timezone, nyc.maintenanceWindows, '2028-03-12T03:00:00Z')).toBe(7); // clocks go forward at 02:00
    expect(length(fra.timezone, fra.maintenanceWindows, '2027-10-30T22:00:00Z')).toBe(7);
    expect(length(fra.timezone, fra.maintenanceWindows, '2028-03-25T23:00:00Z')).toBe(5);
    const spring = windowContaining(at('2028-03-12T09:45:00Z'), nyc.timezone, nyc.maintenanceWindows)!;
    expect([spring.date, new Date(spring.opensAt).toISOString(), new Date(spring.closesAt).toISOString()]).toEqual([
      '2028-03-11',
      '2028-03-12T03:00:00.000Z',
      '2028-03-12T10:00:00.000Z',
    ]);
    expect(windowContaining(at('2028-03-12T10:30:00Z'), nyc.timezone, nyc.maintenanceWindows)).toBeUndefined();
  });

  it('agrees with the planner (luxon) on every site, at any instant of two years', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SITES), fc.integer({ min: at('2027-01-01T00:00:00Z'), max: at('2029-01-01T00:00:00Z') }), (s, t) => {
        const mine = windowContaining(t, s.timezone, s.maintenanceWindows);
        const planner = nextPatchWindow({ timezone: s.timezone, maintenanceWindows: s.maintenanceWindows }, new Date(t), [], false)!;
        const open = planner.start.getTime() === t;
        expect(mine !== undefined).toBe(open);
        if (mine) expect(mine.closesAt).toBe(planner.end.getTime());
        else expect(windowContaining(planner.start.getTime(), s.timezone, s.maintenanceWindows)?.opensAt).toBe(planner.start.getTime());
      }),
      { numRuns: 400 },
    );
  });
});

describe('the window audit', () => {
  const nyc = site('nyc');
  const hosts = new Map<string, HostWindows>([
    ['nyc-1', { timezone: nyc.timezone, maintenanceWindows: nyc.maintenanceWindows }],
    ['anytime', { timezone: 'UTC', maintenanceWindows: [] }],
  ]);
  const rules = { changeFreezes: [yearEndFreeze(new Date('2027-10-20T09:00:00Z'))], minWindowRemainingMs: 30 * 60_000 };
  const step = (assetId: string, iso: string, stepName = 'precheck', attempt = 1): TimedStep => ({
    assetId,
    attempt,
    step: stepName,
    at: iso,
  });
  const problems = (steps: TimedStep[]) => windowViolations(steps, hosts, rules).map((v) => [v.assetId, v.at, v.problem]);

  it('passes steps inside a window with enough of it left', () => {
    expect(
      problems([
        step('nyc-1', '2028-03-12T03:00:00.000Z'),
        step('nyc-1', '2028-03-12T09:30:00.000Z'),
        step('anytime', '2028-02-01T12:00:00.000Z'),
      ]),
    ).toEqual([]);
  });

  it('flags a step outside the windows, in a freeze, or too late in the window (the window shortened by the spring change)', () => {
    const flagged = problems([
      step('nyc-1', '2028-03-08T15:00:00.000Z'),
      step('nyc-1', '2027-12-19T04:00:00.000Z'),
      step('anytime', '2028-01-01T12:00:00.000Z'),
      // 06:00 EDT is 10:00 UTC that night; 09:45 leaves 15 minutes (with the winter offset it would seem to leave 75)
      step('nyc-1', '2028-03-12T09:45:00.000Z'),
      step('nyc-2', '2028-03-12T04:00:00.000Z'),
    ]);
    expect(flagged).toEqual([
      ['nyc-1', '2028-03-08T15:00:00.000Z', 'outside every maintenance window'],
      [
        'nyc-1',
        '2027-12-19T04:00:00.000Z',
        expect.stringMatching(/^inside the change freeze 2027-12-18T00:00:00\+09:00 – 2028-01-04T00:00:00-05:00/),
      ],
      ['anytime', '2028-01-01T12:00:00.000Z', expect.stringMatching(/^inside the change freeze/)],
      [
        'nyc-1',
        '2028-03-12T09:45:00.000Z',
        'only 15 min of the window left (at least 30 min needed; it closes at 2028-03-12T10:00:00.000Z)',
      ],
      ['nyc-2', '2028-03-12T04:00:00.000Z', 'not a host of the fleet'],
    ]);
  });

  it('a freeze that begins inside a window ends it early', () => {
    const cut = { changeFreezes: [{ start: '2028-03-12T04:00:00Z', end: '2028-03-20T00:00:00Z' }], minWindowRemainingMs: 30 * 60_000 };
    const v = windowViolations([step('nyc-1', '2028-03-12T03:45:00.000Z'), step('nyc-1', '2028-03-12T03:15:00.000Z')], hosts, cut);
    expect(v.map((x) => [x.at, x.problem])).toEqual([
      [
        '2028-03-12T03:45:00.000Z',
        'only 15 min of the window left (at least 30 min needed; it is cut by a freeze at 2028-03-12T04:00:00.000Z)',
      ],
    ]);
  });

  it('audits the start of each pipeline attempt and every install, not rollbacks, tests or verification', () => {
    const records = [
      step('a', 't1', 'precheck'),
      step('a', 't1', 'backup'),
      step('a', 't1', 'install'),
      step('a', 't2', 'rollback'),
      step('a', 't3', 'precheck', 2),
      step('a', 't3', 'install', 2),
      step('a', 't4', 'test', 2),
      step('b', 't5', 'verify'),
    ];
    expect(stepsToAudit(records).map((r) => `${r.assetId}/${r.attempt}/${r.step}`)).toEqual([
      'a/1/precheck',
      'a/1/install',
      'a/2/precheck',
      'a/2/install',
    ]);
  });
});

describe('the fleet', () => {
  it('has every site and role in the lab and the pilot, production in groups of at most three of one site and role', () => {
    for (const size of [30, 40, 1000]) {
      const fleet = generateFleet({ size });
      expect(fleet.assets).toHaveLength(size);
      expect(new Set(fleet.assets.map((a) => a.id)).size).toBe(size);
      expect(fleet.lab.length + fleet.pilot.length + fleet.production.length).toBe(size);
      for (const ring of [fleet.lab, fleet.pilot]) {
        const hosts = ring.map((id) => fleet.byId.get(id)!);
        expect(new Set(hosts.map((a) => a.role))).toEqual(new Set(ROLES));
        expect(new Set(hosts.map((a) => a.timezone))).toEqual(new Set(SITES.map((s) => s.timezone)));
      }
      const groups = new Map<string, string[]>();
      for (const id of fleet.production) {
        const a = fleet.byId.get(id)!;
        groups.set(a.redundancyGroup!, [...(groups.get(a.redundancyGroup!) ?? []), id]);
      }
      for (const members of groups.values()) {
        expect(members.length).toBeLessThanOrEqual(3);
        expect(new Set(members.map((id) => `${fleet.byId.get(id)!.timezone}/${fleet.byId.get(id)!.role}`)).size).toBe(1);
      }
      for (const a of fleet.assets) {
        const s = fleet.siteOf.get(a.id)!;
        expect(a).toMatchObject({ timezone: s.timezone, maintenanceWindows: s.maintenanceWindows, connector: 'simulated' });
        expect(a.simulation).toMatchObject({ installMs: 0, unreachable: false, failInstall: false });
        expect(a.packages.find((p) => p.name === 'openssh-server')?.version).toBe(s.openssh.installed);
        expect(a.compensatingControls).toHaveLength(1);
      }
    }
    const big = generateFleet({ size: 1000 });
    expect([big.lab.length, big.pilot.length, big.production.length]).toEqual([10, 30, 960]);
  });
});

describe('the scenario', () => {
  it('opens on 20 October and meets the clock changes and the year-end freeze within six months', () => {
    expect(scenarioStart(at('2026-12-02T08:00:00Z')).toISOString()).toBe('2027-10-20T09:00:00.000Z');
    expect(scenarioStart(at('2027-03-01T00:00:00Z')).toISOString()).toBe('2027-10-20T09:00:00.000Z');
    const start = new Date('2027-10-20T09:00:00Z');
    expect(soakPolicy(start).rollout.changeFreezes).toEqual([
      {
        start: '2027-12-18T00:00:00+09:00',
        end: '2028-01-04T00:00:00-05:00',
        reason: expect.stringContaining('year-end') as string,
      },
    ]);
    const scenario = soakScenario(generateFleet({ size: 30 }), start);
    expect(scenario.cast.back.dstChange.toISOString()).toBe('2028-03-12T07:00:00.000Z');
    expect(localTime(scenario.cast.back.at.getTime(), 'America/New_York').weekday).toBe('wed');
    expect(scenario.cast.deferred.until.getTime() - start.getTime()).toBe(80 * DAY);
    expect(scenario.cast.deferred.until.getTime()).toBeLessThan(start.getTime() + 90 * DAY); // at the latest the recommended deadline
    const unreachable = scenario.assets.filter((a) => a.simulation?.unreachable).map((a) => a.id);
    expect(unreachable.sort()).toEqual([scenario.cast.neverBack, scenario.cast.back.assetId].sort());
    expect(scenario.fleet.siteOf.get(scenario.cast.neverBack)!.name).toBe('nyc');
    expect(scenario.fleet.siteOf.get(scenario.cast.excepted.assetId)!.name).toBe('fra');
    expect(scenario.fleet.siteOf.get(scenario.cast.deferred.assetId)!.name).toBe('tyo');
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AT_RISK_FRACTION,
  complianceView,
  hostCompliance,
  SLA_STATUSES,
  summarize,
  worstSla,
  type ComplianceFacts,
  type HostSlaFacts,
  type SlaStatus,
} from '../../src/domain/compliance';
import { HOST_STATUSES } from '../../src/domain/deployment';

const H = 3_600_000;
const T0 = Date.parse('2026-03-02T00:00:00Z');
const at = (hours: number) => new Date(T0 + hours * H);
const iso = (hours: number) => at(hours).toISOString();

/** An emergency opened at T0: recommended after 12 h, maximum after 24 h. */
const facts = (over: Partial<HostSlaFacts> = {}): HostSlaFacts => ({
  status: 'pending',
  openedAt: iso(0),
  recommendedDeadline: iso(12),
  maximumDeadline: iso(24),
  finishedAt: null,
  exceptionExpiresAt: null,
  deferredUntil: null,
  breachRecorded: false,
  ...over,
});

describe('hostCompliance', () => {
  it('moves an open host from on-time to at-risk at the documented fraction, and to breached past the maximum', () => {
    expect(AT_RISK_FRACTION).toBe(0.75);
    expect(hostCompliance(facts(), at(8.99))).toEqual({ compliant: false, basis: 'open', sla: 'on-time' });
    expect(hostCompliance(facts(), at(9)).sla).toBe('at-risk');
    expect(hostCompliance(facts({ status: 'failed' }), at(13)).sla).toBe('at-risk');
    expect(hostCompliance(facts(), at(24)).sla).toBe('at-risk');
    expect(hostCompliance(facts(), at(24.01)).sla).toBe('breached');
  });

  it('counts installed and skipped hosts as compliant, late ones as breached', () => {
    expect(hostCompliance(facts({ status: 'installed', finishedAt: iso(2) }), at(100))).toEqual({
      compliant: true,
      basis: 'patched',
      sla: 'on-time',
    });
    expect(hostCompliance(facts({ status: 'skipped', finishedAt: iso(1) }), at(30)).sla).toBe('on-time');
    expect(hostCompliance(facts({ status: 'installed', finishedAt: iso(30) }), at(31)).sla).toBe('breached');
    expect(hostCompliance(facts({ status: 'skipped', finishedAt: iso(30) }), at(31)).sla).toBe('on-time');
    expect(hostCompliance(facts({ status: 'installed', finishedAt: iso(3), breachRecorded: true }), at(31)).sla).toBe('breached');
  });

  it('covers an excepted host until its exception expires, then it is non-compliant again', () => {
    const excepted = facts({ status: 'excepted', exceptionExpiresAt: iso(48) });
    expect(hostCompliance(excepted, at(30))).toEqual({ compliant: true, basis: 'excepted', sla: 'on-time' });
    expect(hostCompliance(excepted, at(48))).toEqual({ compliant: false, basis: 'exception-expired', sla: 'breached' });
    // an exception that ends before the recommended deadline leaves the host on its ordinary clock
    const short = facts({ status: 'excepted', exceptionExpiresAt: iso(2) });
    expect(hostCompliance(short, at(3))).toEqual({ compliant: false, basis: 'exception-expired', sla: 'on-time' });
    // an exception covers a failed host as well
    expect(hostCompliance(facts({ status: 'failed', exceptionExpiresAt: iso(48) }), at(30)).compliant).toBe(true);
    // status `excepted` without an exception on record covers nothing
    expect(hostCompliance(facts({ status: 'excepted' }), at(1))).toEqual({ compliant: false, basis: 'open', sla: 'on-time' });
  });

  it('keeps a deferred host on time until its deferral ends, never past the recommended deadline', () => {
    const deferred = facts({ status: 'deferred', deferredUntil: iso(11) });
    expect(hostCompliance(deferred, at(10))).toEqual({ compliant: false, basis: 'deferred', sla: 'on-time' });
    expect(hostCompliance(deferred, at(11))).toEqual({ compliant: false, basis: 'open', sla: 'at-risk' });
    const tooLong = facts({ status: 'deferred', deferredUntil: iso(20) });
    expect(hostCompliance(tooLong, at(11.9)).sla).toBe('on-time');
    expect(hostCompliance(tooLong, at(12)).sla).toBe('at-risk');
    // a short deferral does not move the ordinary threshold earlier
    expect(hostCompliance(facts({ deferredUntil: iso(1) }), at(0.5)).sla).toBe('on-time');
  });

  it('treats a recorded breach as breached whatever the clock says', () => {
    expect(hostCompliance(facts({ status: 'failed', breachRecorded: true }), at(1)).sla).toBe('breached');
  });

  const arbitraryFacts = fc
    .record({
      status: fc.constantFrom(...HOST_STATUSES),
      recommended: fc.integer({ min: 1, max: 2000 }),
      extra: fc.integer({ min: 0, max: 2000 }),
      finished: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null }),
      exception: fc.option(fc.integer({ min: -100, max: 5000 }), { nil: null }),
      deferral: fc.option(fc.integer({ min: -100, max: 5000 }), { nil: null }),
      breach: fc.boolean(),
    })
    .map((r) =>
      facts({
        status: r.status,
        recommendedDeadline: iso(r.recommended),
        maximumDeadline: iso(r.recommended + r.extra),
        finishedAt: r.finished === null ? null : iso(r.finished),
        exceptionExpiresAt: r.exception === null ? null : iso(r.exception),
        deferredUntil: r.deferral === null ? null : iso(r.deferral),
        breachRecorded: r.breach,
      }),
    );
  const hour = fc.double({ min: -10, max: 6000, noNaN: true });
  const rank = (s: SlaStatus) => SLA_STATUSES.indexOf(s);

  it('never gets better as time passes (property)', () => {
    fc.assert(
      fc.property(arbitraryFacts, hour, hour, (f, a, b) => {
        const [early, late] = a <= b ? [a, b] : [b, a];
        expect(rank(hostCompliance(f, at(late)).sla)).toBeGreaterThanOrEqual(rank(hostCompliance(f, at(early)).sla));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with the definitions: compliant hosts are never at risk, open ones past the maximum are breached, deferrals only help (property)', () => {
    fc.assert(
      fc.property(arbitraryFacts, hour, (f, h) => {
        const now = at(h);
        const c = hostCompliance(f, now);
        const exceptionInForce = f.exceptionExpiresAt !== null && Date.parse(f.exceptionExpiresAt) > now.getTime();
        expect(c.compliant).toBe(f.status === 'installed' || f.status === 'skipped' || exceptionInForce);
        if (c.compliant) expect(c.sla).not.toBe('at-risk');
        if (!c.compliant && now.getTime() > Date.parse(f.maximumDeadline)) expect(c.sla).toBe('breached');
        if (f.breachRecorded) expect(c.sla).toBe('breached');
        if (
          !c.compliant &&
          !f.breachRecorded &&
          now.getTime() < Date.parse(f.openedAt) + AT_RISK_FRACTION * (Date.parse(f.recommendedDeadline) - Date.parse(f.openedAt))
        ) {
          expect(c.sla).toBe('on-time');
        }
        expect(rank(c.sla)).toBeLessThanOrEqual(rank(hostCompliance({ ...f, deferredUntil: null }, now).sla));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('summaries', () => {
  it('counts hosts and picks the worst status', () => {
    expect(worstSla([])).toBeNull();
    expect(worstSla(['on-time', 'breached', 'at-risk'])).toBe('breached');
    expect(summarize([])).toEqual({
      hosts: 0,
      compliant: 0,
      nonCompliant: 0,
      compliantPercent: null,
      sla: { 'on-time': 0, 'at-risk': 0, breached: 0 },
      worst: null,
    });
    expect(
      summarize([
        { compliant: true, basis: 'patched', sla: 'on-time' },
        { compliant: false, basis: 'open', sla: 'at-risk' },
        { compliant: true, basis: 'excepted', sla: 'on-time' },
      ]),
    ).toEqual({
      hosts: 3,
      compliant: 2,
      nonCompliant: 1,
      compliantPercent: 66.7,
      sla: { 'on-time': 2, 'at-risk': 1, breached: 0 },
      worst: 'at-risk',
    });
  });

  const row = (assetId: string, patchId: string, priority: 1 | 2 | 3 | 4, over: Partial<ComplianceFacts> = {}): ComplianceFacts => ({
    assetId,
    patchId,
    title: `patch ${patchId}`,
    priority,
    emergency: priority === 1,
    ring: 'production',
    status: 'pending',
    reason: null,
    openedAt: iso(0),
    deadlines: { recommended: iso(12 * priority), maximum: iso(24 * priority) },
    finishedAt: null,
    exception: null,
    deferral: null,
    breach: null,
    ...over,
  });
  const rows = [
    row('web-1', 'p1', 1, { status: 'installed', finishedAt: iso(1) }),
    row('web-2', 'p1', 1, { status: 'failed', reason: 'disk full' }),
    row('web-2', 'p2', 2),
    row('db-1', 'p2', 2, { status: 'excepted', exception: { compensatingControl: 'WAF rule', expiresAt: iso(100) } }),
    row('db-2', 'p1', 1, { status: 'unreachable', breach: { reason: 'unreachable' } }),
  ];

  it('groups by asset, patch and priority, filters by SLA status and pages the assets', () => {
    const view = complianceView(rows, at(10), { page: { limit: 100, offset: 0 } });
    expect(view.asOf).toBe(iso(10));
    expect(view.totalAssets).toBe(4);
    expect(view.assets.map((a) => [a.assetId, a.compliant, a.sla])).toEqual([
      ['db-1', true, 'on-time'],
      ['db-2', false, 'breached'],
      ['web-1', true, 'on-time'],
      ['web-2', false, 'at-risk'],
    ]);
    const web2 = view.assets.find((a) => a.assetId === 'web-2')!;
    expect(web2.patches.map((p) => [p.patchId, p.status, p.reason, p.sla, p.basis])).toEqual([
      ['p1', 'failed', 'disk full', 'at-risk', 'open'],
      ['p2', 'pending', null, 'on-time', 'open'],
    ]);
    expect(view.patches.map((p) => [p.patchId, p.hosts, p.compliant, p.worst])).toEqual([
      ['p1', 3, 1, 'breached'],
      ['p2', 2, 1, 'on-time'],
    ]);
    expect(view.priorities.map((p) => [p.priority, p.name, p.hosts, p.sla])).toEqual([
      [1, 'emergency', 3, { 'on-time': 1, 'at-risk': 1, breached: 1 }],
      [2, 'critical', 2, { 'on-time': 2, 'at-risk': 0, breached: 0 }],
    ]);
    expect(view.totals).toMatchObject({ hosts: 5, compliant: 2, nonCompliant: 3, compliantPercent: 40 });

    const breached = complianceView(rows, at(10), { sla: 'breached', page: { limit: 100, offset: 0 } });
    expect(breached.assets.map((a) => a.assetId)).toEqual(['db-2']);
    expect(breached.totals.hosts).toBe(1);
    expect(breached.priorities.map((p) => p.priority)).toEqual([1]);

    const paged = complianceView(rows, at(10), { page: { limit: 2, offset: 1 } });
    expect(paged.totalAssets).toBe(4);
    expect(paged.assets.map((a) => a.assetId)).toEqual(['db-2', 'web-1']);
    expect(paged.totals.hosts).toBe(5);
  });
});

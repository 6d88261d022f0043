import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, PolicySchema } from '../../src/domain/policy';
import { assessPriority, type AffectedFacts, type CveFacts } from '../../src/domain/priority';

const NOW = new Date('2026-11-22T12:00:00Z');

const hosts = (overrides: Partial<AffectedFacts> = {}): AffectedFacts => ({
  count: 3,
  highestCriticality: 'medium',
  internetFacing: 0,
  allIsolated: false,
  controlsOnAll: [],
  ...overrides,
});
const cve = (id: string, score?: number, kev?: CveFacts['kev']): CveFacts => ({
  id,
  ...(score === undefined ? {} : { cvss: { score, version: '3.1', source: 'cna' } }),
  ...(kev ? { kev } : {}),
});
const KEV_FUTURE = { dateAdded: '2026-11-01', dueDate: '2026-11-22', ransomware: 'Known' };

describe('priority policy', () => {
  it('the default policy satisfies its own schema and the deadline table of the spec', () => {
    expect(PolicySchema.parse(DEFAULT_POLICY)).toEqual(DEFAULT_POLICY);
    const p4 = assessPriority(DEFAULT_POLICY, [cve('CVE-1', 2.0)], hosts(), NOW);
    expect(p4.priority).toBe(4);
    expect(p4.deadlines).toEqual({ recommended: '2027-02-20T12:00:00.000Z', maximum: '2027-05-21T12:00:00.000Z' });
  });

  it('a known-exploited remote code execution on internet-facing critical hosts is an emergency', () => {
    const result = assessPriority(
      DEFAULT_POLICY,
      [cve('CVE-2024-38475', 9.1, { dateAdded: '2025-05-01', dueDate: '2027-01-01', ransomware: 'Unknown' })],
      hosts({ highestCriticality: 'critical', internetFacing: 2 }),
      NOW,
    );
    expect(result.priority).toBe(1);
    expect(result.reasons).toEqual([
      'Highest CVSS base score is 9.1 (CVE-2024-38475, CVSS v3.1 from the CVE record (CNA))',
      'CVE-2024-38475 is known to be exploited (CISA KEV, added 2025-05-01)',
      '3 affected assets; most critical: critical; 2 internet-facing',
      'Known exploitation with internet-facing or critical assets affected, or a critical score: emergency',
      'Priority 1 (emergency): patch by 2026-11-23T00:00:00.000Z, at the latest 2026-11-23T12:00:00.000Z',
    ]);
  });

  it('a low-score local issue on isolated hosts is low', () => {
    const result = assessPriority(DEFAULT_POLICY, [cve('CVE-2024-7347', 4.7)], hosts({ allIsolated: true }), NOW);
    expect(result.priority).toBe(4);
    expect(result.reasons).toContain('Only isolated assets are affected: lowered one level to low');
  });

  it('a KEV due date earlier than the maximum deadline wins, and says so', () => {
    const result = assessPriority(DEFAULT_POLICY, [cve('CVE-9', 7.5, KEV_FUTURE)], hosts(), NOW);
    expect(result.priority).toBe(2);
    expect(result.deadlines.maximum).toBe('2026-11-22T23:59:59.000Z');
    expect(result.deadlines.recommended).toBe('2026-11-22T23:59:59.000Z');
    expect(result.reasons).toContain(
      "CISA KEV due date for CVE-9 (2026-11-22) is earlier than the policy's 14d, so it is the maximum deadline",
    );
    expect(result.reasons.join('\n')).toContain('with known ransomware use');
  });

  it('compensating controls on every host lower it one level, naming them', () => {
    const result = assessPriority(
      DEFAULT_POLICY,
      [cve('CVE-2', 7.5)],
      hosts({ internetFacing: 1, highestCriticality: 'high', controlsOnAll: ['WAF rule 942'] }),
      NOW,
    );
    expect(result.priority).toBe(3);
    expect(result.reasons).toContain('Compensating controls on every affected asset (WAF rule 942): lowered one level to important');
  });

  it('a wide impact raises it, but never to emergency on its own', () => {
    expect(assessPriority(DEFAULT_POLICY, [cve('CVE-3', 5.0)], hosts({ count: 400 }), NOW).priority).toBe(2);
    expect(assessPriority(DEFAULT_POLICY, [cve('CVE-3', 9.5)], hosts({ count: 400 }), NOW).priority).toBe(2);
  });

  it('without any score it is important until reviewed', () => {
    const result = assessPriority(DEFAULT_POLICY, [cve('CVE-4')], hosts(), NOW);
    expect(result.priority).toBe(3);
    expect(result.reasons[0]).toBe('No CVSS score is known for these CVEs; treated as important until reviewed');
  });

  const facts = fc.record({
    count: fc.integer({ min: 1, max: 500 }),
    highestCriticality: fc.constantFrom('low', 'medium', 'high', 'critical' as const),
    internetFacing: fc.integer({ min: 0, max: 5 }),
    allIsolated: fc.boolean(),
    controlsOnAll: fc.constantFrom<string[][]>([], ['WAF']),
  });
  const score = fc.double({ min: 0, max: 10, noNaN: true });

  it('known exploitation never lowers the priority (smaller number is more urgent)', () => {
    fc.assert(
      fc.property(score, facts, (s, f) => {
        const plain = assessPriority(DEFAULT_POLICY, [cve('C', s)], f, NOW).priority;
        const exploited = assessPriority(DEFAULT_POLICY, [cve('C', s, KEV_FUTURE)], f, NOW).priority;
        expect(exploited).toBeLessThanOrEqual(plain);
      }),
    );
  });

  it('a higher score never lowers the priority', () => {
    fc.assert(
      fc.property(score, score, facts, (a, b, f) => {
        const [low, high] = a < b ? [a, b] : [b, a];
        expect(assessPriority(DEFAULT_POLICY, [cve('C', high)], f, NOW).priority).toBeLessThanOrEqual(
          assessPriority(DEFAULT_POLICY, [cve('C', low)], f, NOW).priority,
        );
      }),
    );
  });

  it('always answers 1 to 4, with reasons and recommended ≤ maximum', () => {
    fc.assert(
      fc.property(fc.option(score, { nil: undefined }), fc.boolean(), facts, (s, exploited, f) => {
        const result = assessPriority(DEFAULT_POLICY, [cve('C', s, exploited ? KEV_FUTURE : undefined)], f, NOW);
        expect([1, 2, 3, 4]).toContain(result.priority);
        expect(result.reasons.length).toBeGreaterThanOrEqual(3);
        expect(Date.parse(result.deadlines.recommended)).toBeLessThanOrEqual(Date.parse(result.deadlines.maximum));
      }),
    );
  });
});

/**
 * Compliance against the SLA (docs/process.md, steps 8–9): whether a host is covered by a patch now, and
 * where it stands against the patch's deadlines. Pure: `now` is always an argument.
 */
import { z } from 'zod';
import { COMPLIANT, HOST_STATUSES, type HostStatus } from './deployment';
import { ENVIRONMENTS } from './patch';
import { Priority, PRIORITY_NAMES } from './policy';

export const SLA_STATUSES = ['on-time', 'at-risk', 'breached'] as const;
export type SlaStatus = (typeof SLA_STATUSES)[number];
const slaStatus = z.enum(SLA_STATUSES);
const count = z.number().int();
const time = z.string().describe('ISO 8601');

/**
 * A host not yet compliant is at risk once this fraction of the time from opening the patch to its
 * recommended deadline has passed: after 9 of an emergency's 12 hours, after 5¼ of a critical's 7 days.
 */
export const AT_RISK_FRACTION = 0.75;

/** What a host's compliance with one patch is judged from. Times are ISO 8601. */
export interface HostSlaFacts {
  status: HostStatus;
  openedAt: string;
  recommendedDeadline: string;
  maximumDeadline: string;
  /** When the host's last attempt finished: for an installed host, when it became compliant. */
  finishedAt: string | null;
  /** The latest expiry of the host's exceptions, if it has any. */
  exceptionExpiresAt: string | null;
  /** The latest end of the host's deferrals, if it has any. */
  deferredUntil: string | null;
  /** The host is in `sla_breaches`. */
  breachRecorded: boolean;
}

/**
 * Why a host is (non-)compliant: `patched` (installed, or skipped as already fixed), `excepted`
 * (an exception in force), `exception-expired`, `deferred` (a deferral in force), `open`.
 */
export const ComplianceBasis = z.enum(['patched', 'excepted', 'exception-expired', 'deferred', 'open']);
export type ComplianceBasis = z.infer<typeof ComplianceBasis>;

export const HostCompliance = z.object({ compliant: z.boolean(), basis: ComplianceBasis, sla: slaStatus });
export type HostCompliance = z.infer<typeof HostCompliance>;

const ms = (iso: string) => Date.parse(iso);

/**
 * A compliant host is `on-time`, or `breached` when a breach was recorded for it or it was installed
 * after the maximum deadline without ever having an exception (a skipped host was fixed before we
 * looked). A non-compliant host is `breached` past the maximum deadline (or once recorded),
 * `at-risk` from AT_RISK_FRACTION of the way to the recommended deadline (or from the end of a
 * deferral in force, never later than the recommended deadline), else `on-time`.
 */
export function hostCompliance(facts: HostSlaFacts, now: Date): HostCompliance {
  const t = now.getTime();
  const recommended = ms(facts.recommendedDeadline);
  const maximum = ms(facts.maximumDeadline);
  const exceptionInForce = facts.exceptionExpiresAt !== null && ms(facts.exceptionExpiresAt) > t;

  if (COMPLIANT.includes(facts.status) || exceptionInForce) {
    const late =
      facts.status === 'installed' && facts.finishedAt !== null && facts.exceptionExpiresAt === null && ms(facts.finishedAt) > maximum;
    return {
      compliant: true,
      basis: COMPLIANT.includes(facts.status) ? 'patched' : 'excepted',
      sla: facts.breachRecorded || late ? 'breached' : 'on-time',
    };
  }

  const deferralInForce = facts.deferredUntil !== null && ms(facts.deferredUntil) > t;
  const basis: ComplianceBasis = facts.exceptionExpiresAt !== null ? 'exception-expired' : deferralInForce ? 'deferred' : 'open';
  if (facts.breachRecorded || t > maximum) return { compliant: false, basis, sla: 'breached' };
  const opened = ms(facts.openedAt);
  let riskFrom = opened + AT_RISK_FRACTION * (recommended - opened);
  if (deferralInForce) riskFrom = Math.min(recommended, Math.max(riskFrom, ms(facts.deferredUntil!)));
  return { compliant: false, basis, sla: t >= riskFrom ? 'at-risk' : 'on-time' };
}

const SEVERITY: Record<SlaStatus, number> = { 'on-time': 0, 'at-risk': 1, breached: 2 };

/** The worst of SLA statuses; null for none. */
export function worstSla(statuses: Iterable<SlaStatus>): SlaStatus | null {
  let worst: SlaStatus | null = null;
  for (const s of statuses) if (worst === null || SEVERITY[s] > SEVERITY[worst]) worst = s;
  return worst;
}

export const ComplianceSummary = z.object({
  hosts: count,
  compliant: count,
  nonCompliant: count,
  compliantPercent: z.number().nullable().describe('compliant hosts in percent, one decimal; null without hosts'),
  sla: z.record(slaStatus, count),
  worst: slaStatus.nullable().describe('the worst SLA status among the hosts; null without hosts'),
});
export type ComplianceSummary = z.infer<typeof ComplianceSummary>;

export function summarize(hosts: readonly HostCompliance[]): ComplianceSummary {
  const sla: Record<SlaStatus, number> = { 'on-time': 0, 'at-risk': 0, breached: 0 };
  let compliant = 0;
  for (const h of hosts) {
    sla[h.sla] += 1;
    if (h.compliant) compliant += 1;
  }
  return {
    hosts: hosts.length,
    compliant,
    nonCompliant: hosts.length - compliant,
    compliantPercent: hosts.length === 0 ? null : Math.round((compliant / hosts.length) * 1000) / 10,
    sla,
    worst: worstSla(hosts.map((h) => h.sla)),
  };
}

const Deadlines = z.object({ recommended: time, maximum: time });

/** One patch of an asset in `GET /v1/compliance`: the host's record in that patch and how it is judged. */
export const ComplianceEntry = z.object({
  patchId: z.string(),
  title: z.string(),
  priority: Priority,
  ring: z.enum(ENVIRONMENTS),
  status: z.enum(HOST_STATUSES),
  reason: z.string().nullable(),
  deadlines: Deadlines,
  /** The host's longest-lasting exception and deferral, and its recorded breach. */
  exception: z.object({ compensatingControl: z.string(), expiresAt: time }).nullable(),
  deferral: z.object({ until: time, reason: z.string() }).nullable(),
  breach: z.object({ reason: z.string() }).nullable(),
  ...HostCompliance.shape,
});
export type ComplianceEntry = z.infer<typeof ComplianceEntry>;

/** One host in one deployed patch, as `GET /v1/compliance` reads it: the entry's record, before it is judged. */
export type ComplianceFacts = Omit<ComplianceEntry, keyof HostCompliance> & {
  assetId: string;
  emergency: boolean;
  openedAt: string;
  finishedAt: string | null;
};

export const slaFacts = (row: ComplianceFacts): HostSlaFacts => ({
  status: row.status,
  openedAt: row.openedAt,
  recommendedDeadline: row.deadlines.recommended,
  maximumDeadline: row.deadlines.maximum,
  finishedAt: row.finishedAt,
  exceptionExpiresAt: row.exception?.expiresAt ?? null,
  deferredUntil: row.deferral?.until ?? null,
  breachRecorded: row.breach !== null,
});

export const AssetCompliance = z.object({
  assetId: z.string(),
  compliant: z.boolean().describe('compliant with every patch listed'),
  sla: slaStatus,
  patches: z.array(ComplianceEntry),
});
export type AssetCompliance = z.infer<typeof AssetCompliance>;

export const ComplianceView = z
  .object({
    asOf: time,
    atRiskFraction: z.number().describe('share of the time to the recommended deadline after which an open host is at risk'),
    totals: ComplianceSummary,
    totalAssets: count.describe('assets matching (`assets` is one page of them)'),
    assets: z.array(AssetCompliance),
    patches: z.array(
      ComplianceSummary.extend({
        patchId: z.string(),
        title: z.string(),
        priority: Priority,
        emergency: z.boolean(),
        deadlines: Deadlines,
      }),
    ),
    priorities: z.array(ComplianceSummary.extend({ priority: Priority, name: z.string() })),
  })
  .meta({ id: 'ComplianceView' });
export type ComplianceView = z.infer<typeof ComplianceView>;

/**
 * Compliance by asset, patch and priority from one row per (host, patch). `sla` keeps only the
 * rows of that status (the summaries count what is listed); `page` cuts the asset list only.
 */
export function complianceView(
  rows: readonly ComplianceFacts[],
  now: Date,
  options: { sla?: SlaStatus; page: { limit: number; offset: number } },
): ComplianceView {
  const judged = rows
    .map((row) => ({ row, c: hostCompliance(slaFacts(row), now) }))
    .filter(({ c }) => options.sla === undefined || c.sla === options.sla);

  const byAsset = new Map<string, ComplianceEntry[]>();
  const byPatch = new Map<string, { row: ComplianceFacts; hosts: HostCompliance[] }>();
  const byPriority = new Map<Priority, HostCompliance[]>();
  for (const { row, c } of judged) {
    const { patchId, title, priority, ring, status, reason, deadlines, exception, deferral, breach } = row;
    push(byAsset, row.assetId, { patchId, title, priority, ring, status, reason, deadlines, exception, deferral, breach, ...c });
    const patch = byPatch.get(row.patchId) ?? { row, hosts: [] };
    patch.hosts.push(c);
    byPatch.set(row.patchId, patch);
    push(byPriority, row.priority, c);
  }

  const assets = [...byAsset.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([assetId, entries]) => ({
      assetId,
      compliant: entries.every((e) => e.compliant),
      sla: worstSla(entries.map((e) => e.sla))!,
      patches: entries,
    }));
  return {
    asOf: now.toISOString(),
    atRiskFraction: AT_RISK_FRACTION,
    totals: summarize(judged.map(({ c }) => c)),
    totalAssets: assets.length,
    assets: assets.slice(options.page.offset, options.page.offset + options.page.limit),
    patches: [...byPatch.values()]
      .sort((a, b) => a.row.priority - b.row.priority || (a.row.patchId < b.row.patchId ? -1 : 1))
      .map(({ row, hosts }) => ({
        patchId: row.patchId,
        title: row.title,
        priority: row.priority,
        emergency: row.emergency,
        deadlines: row.deadlines,
        ...summarize(hosts),
      })),
    priorities: [...byPriority.entries()]
      .sort(([a], [b]) => a - b)
      .map(([priority, hosts]) => ({ priority, name: PRIORITY_NAMES[priority], ...summarize(hosts) })),
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

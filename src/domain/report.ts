/**
 * The postmortem and compliance report of a patch (docs/process.md, step 11, `GET /v1/patches/:id/report`):
 * built from the workflow's status and the deployment records, rendered as JSON, Markdown or CSV.
 * Pure: the time of the report is an argument.
 */
import { z } from 'zod';
import { ComplianceSummary, hostCompliance, SLA_STATUSES, summarize, type HostCompliance } from './compliance';
import { HOST_STATUSES, type HostStatus } from './deployment';
import { HostRecord } from './host-record';
import { ENVIRONMENTS, PHASES, STATES, type Environment } from './patch';
import { Feedback, LabReport, Postmortem, type PatchStatus } from './patch-status';
import { Priority, PRIORITY_NAMES } from './policy';

/** A `patch_deployments` row: the patch as deployment recorded it. */
export interface DeploymentInfo {
  patchId: string;
  title: string;
  priority: Priority;
  emergency: boolean;
  openedAt: string;
  deadlines: { recommended: string; maximum: string };
  startedAt: string;
  finishedAt: string | null;
  outcome: string | null;
}

const count = z.number().int();
const time = z.string().describe('ISO 8601');

export const ExceptionRecord = z.object({
  assetId: z.string(),
  compensatingControl: z.string(),
  expiresAt: time,
  approvedBy: z.string(),
  at: time,
});
export type ExceptionRecord = z.infer<typeof ExceptionRecord>;

export const DeferralRecord = z.object({ assetId: z.string(), until: time, reason: z.string(), requestedBy: z.string(), at: time });
export type DeferralRecord = z.infer<typeof DeferralRecord>;

export const BreachRecord = z.object({ assetId: z.string(), reason: z.string(), at: time });
export type BreachRecord = z.infer<typeof BreachRecord>;

export interface ReportInput {
  /** The workflow's status; null when the workflow is gone (past the namespace's retention). */
  status: PatchStatus | null;
  deployment: DeploymentInfo;
  /** Every host of the patch, in ring, wave and rollout order. */
  hosts: HostRecord[];
  exceptions: ExceptionRecord[];
  deferrals: DeferralRecord[];
  breaches: BreachRecord[];
}

export const HostLine = HostRecord.pick({ assetId: true, ring: true, wave: true, status: true, reason: true, attempts: true });
export type HostLine = z.infer<typeof HostLine>;

/** One line of the report's timeline: a phase, decision, action or record, with who did it. */
export const ReportEvent = z.object({ at: time, type: z.string(), actor: z.string().nullable(), summary: z.string() });
export type ReportEvent = z.infer<typeof ReportEvent>;

export const PatchReport = z
  .object({
    generatedAt: time,
    final: z.boolean().describe('the patch has an outcome; otherwise this is its state at generatedAt'),
    patch: z.object({
      id: z.string(),
      title: z.string(),
      advisoryIds: z.array(z.string()),
      cves: z.array(z.string()),
      emergency: z.boolean(),
      priority: Priority,
      priorityName: z.string(),
      priorityReasons: z.array(z.string()),
      requestedBy: z.string().nullable(),
      requestedAt: time.nullable(),
      phase: z.enum(PHASES).nullable().describe('null once the workflow is past retention'),
      state: z.enum(STATES).nullable(),
    }),
    outcome: z.string().nullable(),
    sla: z
      .object({
        openedAt: time,
        recommendedDeadline: time,
        maximumDeadline: time,
        deploymentStartedAt: time,
        deploymentFinishedAt: time.nullable(),
        compliantAt: time.nullable().describe('when the last host became compliant; null while one is not'),
        timeToPatchMs: count.nullable(),
        met: z
          .enum(['recommended', 'maximum', 'missed'])
          .nullable()
          .describe('the deadline it was met by, missed, or null while still open'),
      })
      .describe('time to patch against the SLA'),
    compliance: ComplianceSummary,
    phases: z.array(z.object({ phase: z.enum(PHASES), enteredAt: time, leftAt: time.nullable(), durationMs: count.nullable() })),
    hosts: count,
    counts: z.record(z.enum(HOST_STATUSES), count),
    waves: z
      .array(z.object({ ring: z.enum(ENVIRONMENTS), wave: count.nullable(), hosts: count, counts: z.record(z.string(), count) }))
      .describe('lab, pilot, then each production wave; counts of the statuses present'),
    failures: z.array(HostLine).describe('hosts whose patch failed, was rolled back, or that could not be reached'),
    stragglers: z
      .array(HostLine.extend({ sla: z.enum(SLA_STATUSES) }))
      .describe('hosts not compliant and not deferred that the rollout has been at (or left behind)'),
    exceptions: z.array(ExceptionRecord.extend({ inForce: z.boolean() })),
    deferrals: z.array(DeferralRecord.extend({ inForce: z.boolean() })),
    breaches: z.array(BreachRecord),
    lab: LabReport.nullable().describe('the lab test findings'),
    feedback: z.array(Feedback),
    postmortem: Postmortem.nullable(),
    timeline: z.array(ReportEvent).describe('every phase, decision, action and record, oldest first, with who did it'),
  })
  .meta({ id: 'PatchReport' });
export type PatchReport = z.infer<typeof PatchReport>;

const FAILURES: readonly HostStatus[] = ['failed', 'rolled-back', 'unreachable'];

/** As the workflow's straggler list words it. */
function stragglerReason(h: HostRecord): string {
  if (h.status === 'excepted') return 'exception expired';
  if (h.status === 'deferred') return 'deferral ended';
  return h.reason ?? (h.status === 'pending' ? 'not deployed yet' : h.status);
}
const UNDER_WAY: readonly HostStatus[] = ['pending', 'in-progress', 'rebooting'];

const ms = (iso: string) => Date.parse(iso);
const line = (h: HostRecord): HostLine => ({
  assetId: h.assetId,
  ring: h.ring,
  wave: h.wave,
  status: h.status,
  reason: h.reason,
  attempts: h.attempts,
});

/** The record of each asset that lasts longest (any exception or deferral in force covers the host). */
function longestByAsset<T extends { assetId: string }>(records: T[], end: (r: T) => string): Map<string, T> {
  const longest = new Map<string, T>();
  for (const r of records) {
    const seen = longest.get(r.assetId);
    if (!seen || ms(end(r)) > ms(end(seen))) longest.set(r.assetId, r);
  }
  return longest;
}
const longestExceptions = (input: ReportInput) => longestByAsset(input.exceptions, (e) => e.expiresAt);

/** Each host's compliance and SLA status at `now`. */
export function judgeHosts(input: ReportInput, now: Date): Map<string, HostCompliance> {
  const exceptions = longestExceptions(input);
  const deferrals = longestByAsset(input.deferrals, (d) => d.until);
  const breached = new Set(input.breaches.map((b) => b.assetId));
  const { deployment } = input;
  return new Map(
    input.hosts.map((h) => [
      h.assetId,
      hostCompliance(
        {
          status: h.status,
          openedAt: deployment.openedAt,
          recommendedDeadline: deployment.deadlines.recommended,
          maximumDeadline: deployment.deadlines.maximum,
          finishedAt: h.finishedAt,
          exceptionExpiresAt: exceptions.get(h.assetId)?.expiresAt ?? null,
          deferredUntil: deferrals.get(h.assetId)?.until ?? null,
          breachRecorded: breached.has(h.assetId),
        },
        now,
      ),
    ]),
  );
}

export function buildReport(input: ReportInput, now: Date): PatchReport {
  const { status, deployment, hosts } = input;
  const judged = judgeHosts(input, now);
  // the workflow's word first: deployment may have finished while the patch is in its postmortem
  const outcome: string | null = status ? status.outcome : deployment.outcome;
  const finishedDeployment = deployment.finishedAt !== null || outcome !== null;

  const counts = Object.fromEntries(HOST_STATUSES.map((s) => [s, 0])) as Record<HostStatus, number>;
  const waves: PatchReport['waves'] = [];
  for (const h of hosts) {
    counts[h.status] += 1;
    let wave = waves.find((w) => w.ring === h.ring && w.wave === h.wave);
    if (!wave) {
      wave = { ring: h.ring, wave: h.wave, hosts: 0, counts: {} };
      waves.push(wave);
    }
    wave.hosts += 1;
    wave.counts[h.status] = (wave.counts[h.status] ?? 0) + 1;
  }
  const ringOrder = (r: Environment) => ['lab', 'pilot', 'production'].indexOf(r);
  waves.sort((a, b) => ringOrder(a.ring) - ringOrder(b.ring) || (a.wave ?? -1) - (b.wave ?? -1));

  const stragglers = hosts.flatMap((h) => {
    const c = judged.get(h.assetId)!;
    if (c.compliant || c.basis === 'deferred' || (UNDER_WAY.includes(h.status) && !finishedDeployment)) return [];
    return [{ ...line(h), reason: stragglerReason(h), sla: c.sla }];
  });

  const exceptions = input.exceptions.map((e) => ({ ...e, inForce: ms(e.expiresAt) > now.getTime() }));
  return {
    generatedAt: now.toISOString(),
    final: outcome !== null,
    patch: {
      id: deployment.patchId,
      title: status?.title ?? deployment.title,
      advisoryIds: status?.advisoryIds ?? [],
      cves: status?.cves ?? [],
      emergency: status?.emergency ?? deployment.emergency,
      priority: deployment.priority,
      priorityName: PRIORITY_NAMES[deployment.priority],
      priorityReasons: status?.priorityReasons ?? [],
      requestedBy: status?.requestedBy ?? null,
      requestedAt: status?.requestedAt ?? null,
      phase: status?.phase ?? null,
      state: status?.state ?? null,
    },
    outcome,
    sla: slaOf(input, judged, now),
    compliance: summarize([...judged.values()]),
    phases: phasesOf(status, now),
    hosts: hosts.length,
    counts,
    waves,
    failures: hosts.filter((h) => FAILURES.includes(h.status)).map(line),
    stragglers,
    exceptions,
    deferrals: input.deferrals.map((d) => ({ ...d, inForce: ms(d.until) > now.getTime() })),
    breaches: input.breaches,
    lab: status?.lab ?? null,
    feedback: status?.feedback ?? [],
    postmortem: status?.postmortem ?? null,
    timeline: timelineOf(input),
  };
}

function slaOf(input: ReportInput, judged: Map<string, HostCompliance>, now: Date): PatchReport['sla'] {
  const { deployment } = input;
  const exceptions = longestExceptions(input);
  let compliantAt: number | null = input.hosts.length > 0 ? 0 : null;
  for (const h of input.hosts) {
    const c = judged.get(h.assetId)!;
    const at = !c.compliant ? null : c.basis === 'excepted' ? exceptions.get(h.assetId)!.at : h.finishedAt;
    if (at === null || compliantAt === null) {
      compliantAt = null;
      break;
    }
    compliantAt = Math.max(compliantAt, ms(at));
  }
  const recommended = ms(deployment.deadlines.recommended);
  const maximum = ms(deployment.deadlines.maximum);
  let met: PatchReport['sla']['met'] = null;
  if (input.breaches.length > 0) met = 'missed';
  else if (compliantAt !== null) met = compliantAt <= recommended ? 'recommended' : compliantAt <= maximum ? 'maximum' : 'missed';
  else if (now.getTime() > maximum) met = 'missed';
  return {
    openedAt: deployment.openedAt,
    recommendedDeadline: deployment.deadlines.recommended,
    maximumDeadline: deployment.deadlines.maximum,
    deploymentStartedAt: deployment.startedAt,
    deploymentFinishedAt: deployment.finishedAt,
    compliantAt: compliantAt === null ? null : new Date(compliantAt).toISOString(),
    timeToPatchMs: compliantAt === null ? null : compliantAt - ms(deployment.openedAt),
    met,
  };
}

/** Each phase entered with how long it lasted; the current one up to `now`, `completed` without a duration. */
function phasesOf(status: PatchStatus | null, now: Date): PatchReport['phases'] {
  const entered = status?.phases ?? [];
  return entered.map(({ phase, at }, i) => {
    const next = entered[i + 1];
    const end = next ? ms(next.at) : phase === 'completed' ? null : now.getTime();
    return { phase, enteredAt: at, leftAt: next?.at ?? null, durationMs: end === null ? null : end - ms(at) };
  });
}

function timelineOf({ status, deployment, exceptions, deferrals, breaches }: ReportInput): ReportEvent[] {
  const entries: ReportEvent[] = [];
  const add = (at: string, type: string, actor: string | null, summary: string) => entries.push({ at, type, actor, summary });
  if (status) {
    add(status.requestedAt, 'opened', status.requestedBy, status.title);
    for (const p of status.phases) add(p.at, 'phase', null, `entered ${p.phase}`);
    for (const r of status.reviews) {
      add(r.at, 'review', r.reviewer, `${r.verdict}${r.priority ? ` (proposes priority ${r.priority})` : ''}: ${r.comment}`);
    }
    for (const d of status.decisions) add(d.at, 'decision', d.approver, `${d.decision}: ${d.comment}`);
    for (const a of status.actions) add(a.at, 'rollout-action', a.by, a.action + (a.comment ? `: ${a.comment}` : ''));
    for (const l of status.lateness) add(l.at, l.level, null, `${l.phase}: ${l.message}`);
    for (const f of status.feedback) add(f.at, 'feedback', f.by, `${f.severity}${f.assetId ? ` on ${f.assetId}` : ''}: ${f.message}`);
    if (status.halt)
      add(status.halt.at, 'halt', null, `${status.halt.phase}: ${status.halt.reason} (decided by the ${status.halt.decidedBy})`);
    if (status.cancelled) add(status.cancelled.at, 'cancelled', status.cancelled.by, status.cancelled.comment);
    if (status.postmortem) add(status.postmortem.at, 'postmortem', status.postmortem.by, status.postmortem.lessonsLearned);
  }
  add(deployment.startedAt, 'deployment-started', null, `priority ${deployment.priority}`);
  if (deployment.finishedAt) add(deployment.finishedAt, 'deployment-finished', null, deployment.outcome ?? 'finished');
  for (const e of exceptions) add(e.at, 'exception', e.approvedBy, `${e.assetId} until ${e.expiresAt}: ${e.compensatingControl}`);
  for (const d of deferrals) add(d.at, 'deferral', d.requestedBy, `${d.assetId} until ${d.until}: ${d.reason}`);
  for (const b of breaches) add(b.at, 'sla-breach', null, `${b.assetId}: ${b.reason}`);
  // a stable sort: same-time entries keep the order above
  return entries.sort((a, b) => ms(a.at) - ms(b.at));
}

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** `2d 3h`, `4m 5s`, `750ms`: the two largest units. */
export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.max(0, Math.round(milliseconds))}ms`;
  const first = UNITS.findIndex(([, size]) => milliseconds >= size);
  const [unit, size] = UNITS[first]!;
  const major = Math.floor(milliseconds / size);
  const next = UNITS[first + 1];
  const minor = next ? Math.floor((milliseconds - major * size) / next[1]) : 0;
  return minor > 0 ? `${major}${unit} ${minor}${next![0]}` : `${major}${unit}`;
}

/** A Markdown table cell: one line, no table breaks, no raw HTML. */
type CellValue = string | number | boolean | null | undefined;
const cell = (value: CellValue) =>
  value === null || value === undefined || value === ''
    ? '–'
    : String(value)
        .replace(/\\/g, '\\\\')
        .replace(/\|/g, '\\|')
        .replace(/</g, '&lt;')
        .replace(/\r?\n|\r/g, ' ');

function table(header: string[], rows: CellValue[][]): string[] {
  if (rows.length === 0) return ['None.'];
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

/** Waves are numbered from 0, as everywhere in the API. */
const waveName = (ring: Environment, wave: number | null) => (wave === null ? ring : `${ring} wave ${wave}`);

export function renderMarkdown(report: PatchReport): string {
  const { patch, sla, compliance } = report;
  const state = report.final ? `**${report.outcome}**` : `in progress${patch.phase ? ` (phase ${patch.phase}, ${patch.state})` : ''}`;
  const met = { recommended: 'within the recommended deadline', maximum: 'within the maximum deadline only', missed: 'SLA missed' };
  const out: string[] = [
    `# Patch report: ${cell(patch.title)} (${patch.id})`,
    '',
    `- Outcome: ${state}`,
    `- Priority: ${patch.priority} (${patch.priorityName})${patch.emergency ? ', emergency patch' : ''}${patch.priorityReasons.length ? ` — ${cell(patch.priorityReasons.join('; '))}` : ''}`,
    `- Advisories: ${cell(patch.advisoryIds.join(', '))}; CVEs: ${cell(patch.cves.join(', '))}`,
    `- Requested by ${cell(patch.requestedBy)} at ${cell(patch.requestedAt)}`,
    `- Deadlines: recommended ${sla.recommendedDeadline}, maximum ${sla.maximumDeadline}`,
    `- Time to patch: ${sla.timeToPatchMs === null ? 'not every host is compliant yet' : formatDuration(sla.timeToPatchMs)}${sla.met ? ` (${met[sla.met]})` : ''}`,
    `- Compliance: ${compliance.compliant} of ${compliance.hosts} hosts (${compliance.compliantPercent ?? '–'}%); on time ${compliance.sla['on-time']}, at risk ${compliance.sla['at-risk']}, breached ${compliance.sla.breached}`,
    `- Generated at ${report.generatedAt}`,
    '',
    '## Phases',
    '',
    ...table(
      ['phase', 'entered', 'left', 'duration'],
      report.phases.map((p) => [p.phase, p.enteredAt, p.leftAt, p.durationMs === null ? null : formatDuration(p.durationMs)]),
    ),
    '',
    '## Hosts by status',
    '',
    ...table(
      ['status', 'hosts'],
      HOST_STATUSES.filter((s) => report.counts[s] > 0).map((s) => [s, report.counts[s]]),
    ),
    '',
    '## Waves',
    '',
    ...table(
      ['wave', 'hosts', 'statuses'],
      report.waves.map((w) => [
        waveName(w.ring, w.wave),
        w.hosts,
        Object.entries(w.counts)
          .map(([s, n]) => `${s} ${n}`)
          .join(', '),
      ]),
    ),
    '',
    '## Failures',
    '',
    ...table(hostHeader, report.failures.map(hostRow)),
    '',
    '## Stragglers',
    '',
    ...table(
      [...hostHeader, 'SLA'],
      report.stragglers.map((s) => [...hostRow(s), s.sla]),
    ),
    '',
    '## Exceptions',
    '',
    ...table(
      ['asset', 'compensating control', 'expires', 'in force', 'approved by', 'at'],
      report.exceptions.map((e) => [e.assetId, e.compensatingControl, e.expiresAt, e.inForce ? 'yes' : 'no', e.approvedBy, e.at]),
    ),
    '',
    '## Deferrals',
    '',
    ...table(
      ['asset', 'until', 'in force', 'reason', 'requested by', 'at'],
      report.deferrals.map((d) => [d.assetId, d.until, d.inForce ? 'yes' : 'no', d.reason, d.requestedBy, d.at]),
    ),
    '',
    '## SLA breaches',
    '',
    ...table(
      ['asset', 'reason', 'at'],
      report.breaches.map((b) => [b.assetId, b.reason, b.at]),
    ),
    '',
    '## Feedback',
    '',
    ...table(
      ['at', 'by', 'phase', 'severity', 'asset', 'message'],
      report.feedback.map((f) => [f.at, f.by, f.phase, f.severity, f.assetId, f.message]),
    ),
    '',
    '## Lessons learned',
    '',
    ...(report.postmortem
      ? [
          report.postmortem.lessonsLearned,
          '',
          ...report.postmortem.actions.map((a) => `- [ ] ${cell(a)}`),
          '',
          `— ${report.postmortem.by}, ${report.postmortem.at}`,
        ]
      : ['Not written yet.']),
    '',
    '## Timeline',
    '',
    ...table(
      ['at', 'event', 'by', 'details'],
      report.timeline.map((t) => [t.at, t.type, t.actor, t.summary]),
    ),
    '',
  ];
  return out.join('\n');
}

const hostHeader = ['asset', 'wave', 'status', 'reason', 'attempts'];
const hostRow = (h: HostLine) => [h.assetId, waveName(h.ring, h.wave), h.status, h.reason, h.attempts];

export const CSV_COLUMNS = ['asset', 'ring', 'wave', 'status', 'reason', 'attempts', 'started', 'finished', 'sla'] as const;

/**
 * One RFC 4180 field. A text starting like a spreadsheet formula (`=`, `+`, `-`, `@`) gets a
 * leading `'` so opening the file never runs it.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A header row, then one row per host; CRLF line ends; `wave` empty outside production. */
export function renderCsv(input: ReportInput, now: Date): string {
  const judged = judgeHosts(input, now);
  const rows = input.hosts.map((h) =>
    [h.assetId, h.ring, h.wave, h.status, h.reason, h.attempts, h.startedAt, h.finishedAt, judged.get(h.assetId)!.sla]
      .map(csvField)
      .join(','),
  );
  return [CSV_COLUMNS.join(','), ...rows].map((r) => `${r}\r\n`).join('');
}

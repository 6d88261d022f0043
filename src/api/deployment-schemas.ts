/**
 * The zod schemas of the deployment views: per-host records, the patch report and compliance.
 * They validate the queries and document the answers in `GET /v1/openapi.json`.
 */
import { z } from 'zod';
import { SLA_STATUSES } from '../domain/compliance';
import { HOST_STATUSES, PIPELINE_STEPS } from '../domain/deployment';
import { ENVIRONMENTS, PHASES, STATES } from '../domain/patch';
import { PatchIdParam } from './schemas';

/** A whole number in a query string: digits only (no `''`, `1e3` or `0x10` sneaking through coercion). */
const whole = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const page = {
  limit: whole(1, 1000).default(100).describe('page size, 1 to 1000'),
  offset: whole(0, 1_000_000_000).default(0),
};

export const HostsQuery = z.strictObject({
  status: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(HOST_STATUSES)).min(1))
    .optional()
    .describe(`one status or several, comma-separated: ${HOST_STATUSES.join(', ')}`),
  ring: z.enum(ENVIRONMENTS).optional(),
  wave: whole(0, 10_000).optional().describe('a production wave, from 0'),
  ...page,
  steps: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('true: each host with its step records'),
});

export const ReportQuery = z.strictObject({
  format: z.enum(['json', 'md', 'csv']).default('json').describe('json, md (text/markdown) or csv (text/csv, one row per host)'),
});

export const ComplianceQuery = z.strictObject({
  asset: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'an asset id')
    .optional(),
  patch: PatchIdParam.shape.id.optional(),
  priority: z
    .enum(['1', '2', '3', '4'])
    .transform((p) => Number(p) as 1 | 2 | 3 | 4)
    .optional(),
  sla: z.enum(SLA_STATUSES).optional(),
  ...page,
});

const count = z.number().int();
const time = z.string().describe('ISO 8601');
const statusCounts = z.record(z.enum(HOST_STATUSES), count);

export const HostRecord = z.object({
  assetId: z.string(),
  ring: z.enum(ENVIRONMENTS),
  wave: count.nullable().describe('production wave from 0; null for lab and pilot'),
  status: z.enum(HOST_STATUSES),
  reason: z.string().nullable(),
  attempts: count,
  changed: z.boolean().describe("this patch's versions are on the host now"),
  previousVersions: z.record(z.string(), z.string()).nullable(),
  startedAt: time.nullable(),
  finishedAt: time.nullable(),
  steps: z
    .array(
      z.object({
        attempt: count,
        step: z.enum(PIPELINE_STEPS),
        ok: z.boolean(),
        detail: z.string(),
        changes: z.array(z.object({ name: z.string(), from: z.string().nullable(), to: z.string().nullable() })).optional(),
        at: time,
      }),
    )
    .optional()
    .describe('with steps=true'),
});

export const HostsPage = z.object({
  hosts: z.array(HostRecord),
  total: count.describe('hosts matching the filters'),
  limit: count,
  offset: count,
  counts: statusCounts.describe('hosts of the whole patch by status'),
});

const Summary = z.object({
  hosts: count,
  compliant: count,
  nonCompliant: count,
  compliantPercent: z.number().nullable(),
  sla: z.record(z.enum(SLA_STATUSES), count),
  worst: z.enum(SLA_STATUSES).nullable(),
});

const Deadlines = z.object({ recommended: time, maximum: time });

const HostLine = z.object({
  assetId: z.string(),
  ring: z.enum(ENVIRONMENTS),
  wave: count.nullable(),
  status: z.enum(HOST_STATUSES),
  reason: z.string().nullable(),
  attempts: count,
});

export const PatchReport = z.object({
  generatedAt: time,
  final: z.boolean().describe('the patch has an outcome; otherwise this is its state at generatedAt'),
  patch: z.object({
    id: z.string(),
    title: z.string(),
    advisoryIds: z.array(z.string()),
    cves: z.array(z.string()),
    emergency: z.boolean(),
    priority: count,
    priorityName: z.string(),
    priorityReasons: z.array(z.string()),
    requestedBy: z.string().nullable(),
    requestedAt: time.nullable(),
    phase: z.enum(PHASES).nullable().describe('null once the workflow is past retention'),
    state: z.enum(STATES).nullable(),
  }),
  outcome: z.string().nullable(),
  sla: z.object({
    openedAt: time,
    recommendedDeadline: time,
    maximumDeadline: time,
    deploymentStartedAt: time,
    deploymentFinishedAt: time.nullable(),
    compliantAt: time.nullable().describe('when the last host became compliant; null while one is not'),
    timeToPatchMs: count.nullable(),
    met: z.enum(['recommended', 'maximum', 'missed']).nullable(),
  }),
  compliance: Summary,
  phases: z.array(z.object({ phase: z.enum(PHASES), enteredAt: time, leftAt: time.nullable(), durationMs: count.nullable() })),
  hosts: count,
  counts: statusCounts,
  waves: z.array(z.object({ ring: z.enum(ENVIRONMENTS), wave: count.nullable(), hosts: count, counts: z.record(z.string(), count) })),
  failures: z.array(HostLine),
  stragglers: z.array(HostLine.extend({ sla: z.enum(SLA_STATUSES) })),
  exceptions: z.array(
    z.object({
      assetId: z.string(),
      compensatingControl: z.string(),
      expiresAt: time,
      approvedBy: z.string(),
      at: time,
      inForce: z.boolean(),
    }),
  ),
  deferrals: z.array(
    z.object({ assetId: z.string(), until: time, reason: z.string(), requestedBy: z.string(), at: time, inForce: z.boolean() }),
  ),
  breaches: z.array(z.object({ assetId: z.string(), reason: z.string(), at: time })),
  lab: z.record(z.string(), z.unknown()).nullable().describe('the lab test findings'),
  feedback: z.array(z.record(z.string(), z.unknown())),
  postmortem: z.object({ lessonsLearned: z.string(), actions: z.array(z.string()), by: z.string(), at: time }).nullable(),
  timeline: z.array(z.object({ at: time, type: z.string(), actor: z.string().nullable(), summary: z.string() })),
});

const ComplianceEntry = z.object({
  patchId: z.string(),
  title: z.string(),
  priority: count,
  ring: z.enum(ENVIRONMENTS),
  status: z.enum(HOST_STATUSES),
  reason: z.string().nullable(),
  deadlines: Deadlines,
  exception: z.object({ compensatingControl: z.string(), expiresAt: time }).nullable(),
  deferral: z.object({ until: time, reason: z.string() }).nullable(),
  breach: z.object({ reason: z.string() }).nullable(),
  compliant: z.boolean(),
  basis: z.enum(['patched', 'excepted', 'exception-expired', 'deferred', 'open']),
  sla: z.enum(SLA_STATUSES),
});

export const ComplianceView = z.object({
  asOf: time,
  atRiskFraction: z.number().describe('share of the time to the recommended deadline after which an open host is at risk'),
  totals: Summary,
  totalAssets: count,
  assets: z.array(z.object({ assetId: z.string(), compliant: z.boolean(), sla: z.enum(SLA_STATUSES), patches: z.array(ComplianceEntry) })),
  patches: z.array(
    Summary.extend({ patchId: z.string(), title: z.string(), priority: count, emergency: z.boolean(), deadlines: Deadlines }),
  ),
  priorities: z.array(Summary.extend({ priority: count, name: z.string() })),
});

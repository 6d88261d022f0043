/**
 * The zod schemas of the deployment views' queries and of the hosts page. The answers' shapes
 * (host records, the patch report, compliance) are the domain's own schemas.
 */
import { z } from 'zod';
import { SLA_STATUSES } from '../domain/compliance';
import { HOST_STATUSES } from '../domain/deployment';
import { HostRecord } from '../domain/host-record';
import { ENVIRONMENTS } from '../domain/patch';
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

const statusCounts = z.record(z.enum(HOST_STATUSES), z.number().int());

export const HostsPage = z.object({
  hosts: z.array(HostRecord),
  total: z.number().int().describe('hosts matching the filters'),
  limit: z.number().int(),
  offset: z.number().int(),
  counts: statusCounts.describe('hosts of the whole patch by status'),
});

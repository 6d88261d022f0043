/**
 * What the per-host pipeline records (`GET /v1/patches/:id/hosts`, the report), each shape
 * declared once as a zod schema; the type is inferred from it and the API documents with it.
 *
 * The workflow imports this module for its types only: zod stays out of the workflow bundle.
 */
import { z } from 'zod';
import { HOST_STATUSES, PIPELINE_STEPS } from './deployment';
import { ENVIRONMENTS } from './patch';

const count = z.number().int();
const time = z.string().describe('ISO 8601');

/** One package's version on a host before and after a step (null: not installed). */
export const PackageChange = z.object({ name: z.string(), from: z.string().nullable(), to: z.string().nullable() });
export type PackageChange = z.infer<typeof PackageChange>;

/** One step of one attempt, as a connector reports it. */
export const StepRecord = z.object({
  step: z.enum(PIPELINE_STEPS),
  ok: z.boolean(),
  detail: z.string(),
  changes: z.array(PackageChange).optional(),
  at: time,
});
export type StepRecord = z.infer<typeof StepRecord>;

/** One row of `GET /v1/patches/:id/hosts`. */
export const HostRecord = z
  .object({
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
      .array(StepRecord.extend({ attempt: count }))
      .optional()
      .describe('with steps=true'),
  })
  .meta({ id: 'HostRecord' });
export type HostRecord = z.infer<typeof HostRecord>;

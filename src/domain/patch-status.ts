/**
 * The status every reader of a patch sees (`GET /v1/patches/:id`, answered by the workflow's
 * query) and the settings a patch is opened with, each declared once as a zod schema: the type is
 * inferred from it, and the API validates and documents with the same object.
 *
 * The workflow imports this module for its types only (`import type`): zod stays out of the
 * workflow bundle.
 */
import { z } from 'zod';
import { AWAITING, DECISIONS } from './governance';
import { ENVIRONMENTS, OUTCOMES, PHASES, ROLLOUT_ACTIONS, SEVERITIES, STATES, STRATEGIES, VERDICTS } from './patch';
import { duration, MaxFailures } from './policy';

const count = z.number().int();
const phase = z.enum(PHASES);
const verdict = z.enum(VERDICTS);
const severity = z.enum(SEVERITIES);

/**
 * Per-patch overrides of policy. Durations are strings such as `500ms`, `30s`, `15m`, `2h`, `7d`
 * so a test can run the whole lifecycle in seconds.
 */
export const PatchSettings = z
  .strictObject({
    reviewersRequired: z.number().int().min(1).max(10).optional(),
    reviewTimeout: duration.optional(),
    approvalTimeout: duration.optional(),
    scopeRecheckInterval: duration.optional().describe('After approval, how often the scope is evaluated again'),
    bakeTime: duration.optional(),
    pilotBakeTime: duration.optional(),
    monitoringWindow: duration.optional(),
    stragglerRetryInterval: duration.optional(),
    productionWaves: z.number().int().min(1).max(100).optional(),
    maxConcurrent: z.number().int().min(1).optional(),
    maxPerGroupPerWave: z.number().int().min(1).optional(),
    maxFailures: MaxFailures.optional(),
  })
  .meta({ id: 'PatchSettings', description: 'Per-patch overrides of policy' });
export type PatchSettings = z.infer<typeof PatchSettings>;

/** The review and approval terms of one evaluation of a patch. */
export const GovernanceTerms = z.object({
  fastTrack: z.boolean(),
  reviewersRequired: count,
  reviewTimeout: z.string(),
  approvalTimeout: z.string(),
  scopeRecheckInterval: z.string(),
});
export type GovernanceTerms = z.infer<typeof GovernanceTerms>;

/** The rollout settings an approval covers: the policy's defaults with the patch's overrides. */
export const RolloutPlanSettings = z
  .object({
    strategy: z.enum(STRATEGIES),
    productionWaves: count,
    maxConcurrent: count,
    maxPerGroupPerWave: count,
    maxFailures: z.union([count, z.string()]),
    bakeTime: z.string(),
    pilotBakeTime: z.string(),
    monitoringWindow: z.string(),
    stragglerRetryInterval: z.string(),
  })
  .describe('The rollout settings the approval covers');
export type RolloutPlanSettings = z.infer<typeof RolloutPlanSettings>;

export const Review = z.object({
  reviewer: z.string(),
  verdict,
  priority: z.number().int().optional().describe('A priority the reviewer proposes instead of the assessed one; the comment says why'),
  comment: z.string(),
  at: z.string(),
  round: count.describe('The evaluation reviewed: 1, then one more per revision'),
});
export type Review = z.infer<typeof Review>;

export const Decision = z.object({
  approver: z.string(),
  decision: z.enum(DECISIONS),
  comment: z.string(),
  at: z.string(),
  bypassMaintenanceWindows: z.boolean().optional(),
});
export type Decision = z.infer<typeof Decision>;

/** A person's act, as it was recorded: who, when, why. */
export const Act = z.object({ by: z.string(), at: z.string(), comment: z.string() });
export type Act = z.infer<typeof Act>;

/** Reminders and escalations of late reviews or approvals. */
export const Lateness = z.object({ phase, level: z.enum(['reminder', 'escalation']), at: z.string(), message: z.string() });
export type Lateness = z.infer<typeof Lateness>;

export const WaveStatus = z.object({
  index: count,
  ring: z.enum(ENVIRONMENTS),
  assets: z.array(z.string()),
  status: z.string(),
  counts: z.record(z.string(), count),
});
export type WaveStatus = z.infer<typeof WaveStatus>;

export const Straggler = z.object({ assetId: z.string(), reason: z.string(), attempts: count });
export type Straggler = z.infer<typeof Straggler>;

/** The lab phase's findings (docs/process.md, step 4). */
export const LabReport = z.object({
  tests: z.array(
    z.object({
      assetId: z.string(),
      role: z.string().nullable(),
      checks: z.array(z.object({ check: z.string(), ok: z.boolean(), detail: z.string() })),
    }),
  ),
  rollbackProof: z.object({ assetId: z.string(), ok: z.boolean(), detail: z.string() }).nullable(),
  uncoveredRoles: z.array(z.string()).describe('Roles of pilot and production hosts with no lab host'),
  failures: z.array(z.string()).describe("What failed: each needs an approver's deploy-anyway, hold or cancel"),
});
export type LabReport = z.infer<typeof LabReport>;

/** Why the patch stopped and who must decide. */
export const Halt = z
  .object({
    phase,
    reason: z.string(),
    at: z.string(),
    decidedBy: z.enum(['approver', 'operator']),
  })
  .describe('Why the patch stopped and who decides: an approver after the lab (deploy-anyway, hold or cancel), an operator otherwise');
export type Halt = z.infer<typeof Halt>;

export const Feedback = z.object({
  by: z.string(),
  assetId: z.string().optional(),
  severity,
  message: z.string(),
  at: z.string(),
  phase,
});
export type Feedback = z.infer<typeof Feedback>;

export const Postmortem = z.object({ lessonsLearned: z.string(), actions: z.array(z.string()), by: z.string(), at: z.string() });
export type Postmortem = z.infer<typeof Postmortem>;

/** The status shape of `GET /v1/patches/:id` (docs/http-api.md), answered by the workflow's query. */
export const PatchStatus = z
  .object({
    id: z.string(),
    workflowId: z.string(),
    title: z.string(),
    advisoryIds: z.array(z.string()),
    cves: z.array(z.string()),
    emergency: z.boolean(),
    strategy: z.enum(STRATEGIES).nullable(),
    requestedBy: z.string(),
    requestedAt: z.string(),
    phase,
    state: z.enum(STATES),
    outcome: z.enum(OUTCOMES).nullable(),
    priority: z.number().int().min(1).max(4).nullable(),
    priorityReasons: z.array(z.string()),
    deadlines: z.object({ recommended: z.string(), maximum: z.string() }).nullable(),
    reviews: z.array(Review),
    decisions: z.array(Decision),
    targets: z.record(z.enum(ENVIRONMENTS), count),
    waves: z.array(WaveStatus),
    hosts: z.record(z.string(), count),
    stragglers: z.array(Straggler),
    settings: PatchSettings,
    revision: count.describe('The evaluation under review: 1, then one more per revision'),
    awaiting: z.enum(AWAITING).describe('Who or what the patch waits for'),
    governance: GovernanceTerms.nullable(),
    plan: RolloutPlanSettings.nullable(),
    returned: Act.nullable().describe("A reviewer's reject: the patch waits for the operator to revise or cancel"),
    hold: Act.nullable(),
    approval: Act.extend({ scopeDigest: z.string(), priority: count, bypassMaintenanceWindows: z.boolean() })
      .nullable()
      .describe('The approval in force and the scope it covers'),
    approvalInvalidated: z
      .object({ at: z.string(), reasons: z.array(z.string()) })
      .nullable()
      .describe('Why the last approval stopped holding, when it did'),
    lateness: z.array(Lateness),
    cancelled: Act.nullable(),
    phases: z
      .array(z.object({ phase, at: z.string() }))
      .describe('When each phase was entered, in order (a phase entered twice appears twice)'),
    lab: LabReport.nullable(),
    halt: Halt.nullable(),
    actions: z
      .array(z.object({ action: z.enum(ROLLOUT_ACTIONS), by: z.string(), at: z.string(), comment: z.string().optional() }))
      .describe('The rollout actions operators took'),
    feedback: z.array(Feedback),
    exceptions: z.array(
      z.object({ assetId: z.string(), compensatingControl: z.string(), expiresAt: z.string(), approvedBy: z.string(), at: z.string() }),
    ),
    deferrals: z.array(z.object({ assetId: z.string(), until: z.string(), reason: z.string(), by: z.string(), at: z.string() })),
    breaches: z
      .array(z.object({ assetId: z.string(), reason: z.string() }))
      .describe('Hosts still non-compliant, not excepted, at the maximum deadline'),
    deadlinesPassed: z
      .array(z.object({ deadline: z.enum(['recommended', 'maximum']), at: z.string(), message: z.string() }))
      .describe(
        'The deadlines that passed while the patch was open: an escalation at the recommended one, the SLA breaches at the maximum',
      ),
    waitingForInfrastructure: z
      .object({ since: z.string(), reason: z.string() })
      .nullable()
      .describe("Hosts are waiting out an outage of patchflow's own database (not a host failure); null otherwise"),
    postmortem: Postmortem.nullable(),
    deployment: z
      .object({ startedAt: z.string().nullable(), finishedAt: z.string().nullable() })
      .describe('When the patch started changing hosts and when it finished (for time to patch)'),
  })
  .meta({ id: 'PatchStatus' });
export type PatchStatus = z.infer<typeof PatchStatus>;

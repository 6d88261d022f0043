/**
 * The zod schemas of the HTTP API. The same objects validate requests and generate
 * `GET /v1/openapi.json`, so the document cannot drift from what the server accepts.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ENVIRONMENTS, OUTCOMES, PHASES, ROLLOUT_ACTIONS, STATES, STRATEGIES } from '../domain/patch';
import { ROLES } from '../domain/roles';
import { AWAITING, DECISIONS } from '../domain/governance';
import { duration, MaxFailures } from '../domain/policy';

// Lets zod-to-openapi read these schemas; must run before any schema below is built.
extendZodWithOpenApi(z);

export const ErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

export const Role = z.enum(ROLES);

export const CreateUserRequest = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'letters, digits and . _ @ - only, at most 64 characters'),
  roles: z
    .array(Role)
    .min(1)
    .refine((roles) => new Set(roles).size === roles.length, 'roles must not repeat'),
});

export const CreatedUser = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(Role),
  token: z.string().describe('The bearer token. It is shown once; only its hash is stored.'),
});

export const PatchSettings = z
  .strictObject({
    reviewersRequired: z.number().int().min(1).max(10).optional(),
    reviewTimeout: duration.optional(),
    approvalTimeout: duration.optional(),
    scopeRecheckInterval: duration.optional(),
    bakeTime: duration.optional(),
    pilotBakeTime: duration.optional(),
    monitoringWindow: duration.optional(),
    stragglerRetryInterval: duration.optional(),
    productionWaves: z.number().int().min(1).max(100).optional(),
    maxConcurrent: z.number().int().min(1).optional(),
    maxPerGroupPerWave: z.number().int().min(1).optional(),
    maxFailures: MaxFailures.optional(),
  })
  .describe('Per-patch overrides of policy');

export const AdvisoryId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{1,99}$/, 'an advisory id such as USN-6859-1, GHSA-jfh8-c2jp-5v3q or CVE-2024-6387');

export const CreatePatchRequest = z.strictObject({
  advisoryIds: z
    .array(AdvisoryId)
    .min(1)
    .max(100)
    .refine((ids) => new Set(ids).size === ids.length, 'advisory ids must not repeat'),
  title: z.string().trim().min(1).max(200).optional(),
  emergency: z.boolean().default(false),
  strategy: z.enum(STRATEGIES).optional(),
  settings: PatchSettings.default({}),
});

export const CreatedPatch = z.object({ id: z.string(), workflowId: z.string() });

export const PatchIdParam = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'not a patch id'),
});

const count = z.number().int();

const Act = z.object({ by: z.string(), at: z.string(), comment: z.string() });

export const PatchStatus = z.object({
  id: z.string(),
  workflowId: z.string(),
  title: z.string(),
  advisoryIds: z.array(z.string()),
  cves: z.array(z.string()),
  emergency: z.boolean(),
  strategy: z.enum(STRATEGIES).nullable(),
  requestedBy: z.string(),
  requestedAt: z.string(),
  phase: z.enum(PHASES),
  state: z.enum(STATES),
  outcome: z.enum(OUTCOMES).nullable(),
  priority: z.number().int().min(1).max(4).nullable(),
  priorityReasons: z.array(z.string()),
  deadlines: z.object({ recommended: z.string(), maximum: z.string() }).nullable(),
  reviews: z.array(
    z.object({
      reviewer: z.string(),
      verdict: z.enum(['approve', 'reject']),
      priority: z.number().int().optional(),
      comment: z.string(),
      at: z.string(),
      round: count,
    }),
  ),
  decisions: z.array(
    z.object({
      approver: z.string(),
      decision: z.enum(DECISIONS),
      comment: z.string(),
      at: z.string(),
      bypassMaintenanceWindows: z.boolean().optional(),
    }),
  ),
  targets: z.record(z.enum(ENVIRONMENTS), count),
  waves: z.array(
    z.object({
      index: count,
      ring: z.enum(ENVIRONMENTS),
      assets: z.array(z.string()),
      status: z.string(),
      counts: z.record(z.string(), count),
    }),
  ),
  hosts: z.record(z.string(), count),
  stragglers: z.array(z.object({ assetId: z.string(), reason: z.string(), attempts: count })),
  settings: PatchSettings,
  revision: count.describe('The evaluation under review: 1, then one more per revision'),
  awaiting: z.enum(AWAITING),
  governance: z
    .object({
      fastTrack: z.boolean(),
      reviewersRequired: count,
      reviewTimeout: z.string(),
      approvalTimeout: z.string(),
      scopeRecheckInterval: z.string(),
    })
    .nullable(),
  plan: z.record(z.string(), z.unknown()).nullable().describe('The rollout settings the approval covers'),
  returned: Act.nullable().describe("A reviewer's reject: the patch waits for the operator to revise or cancel"),
  hold: Act.nullable(),
  approval: Act.extend({ scopeDigest: z.string(), priority: count, bypassMaintenanceWindows: z.boolean() }).nullable(),
  approvalInvalidated: z.object({ at: z.string(), reasons: z.array(z.string()) }).nullable(),
  lateness: z.array(z.object({ phase: z.enum(PHASES), level: z.enum(['reminder', 'escalation']), at: z.string(), message: z.string() })),
  cancelled: Act.nullable(),
  phases: z.array(z.object({ phase: z.enum(PHASES), at: z.string() })).describe('When each phase was entered, in order'),
  lab: z
    .object({
      tests: z.array(
        z.object({
          assetId: z.string(),
          role: z.string().nullable(),
          checks: z.array(z.object({ check: z.string(), ok: z.boolean(), detail: z.string() })),
        }),
      ),
      rollbackProof: z.object({ assetId: z.string(), ok: z.boolean(), detail: z.string() }).nullable(),
      uncoveredRoles: z.array(z.string()),
      failures: z.array(z.string()),
    })
    .nullable(),
  halt: z
    .object({ phase: z.enum(PHASES), reason: z.string(), at: z.string(), decidedBy: z.enum(['approver', 'operator']) })
    .nullable()
    .describe('Why the patch stopped and who decides: an approver after the lab, an operator otherwise'),
  actions: z.array(z.object({ action: z.enum(ROLLOUT_ACTIONS), by: z.string(), at: z.string(), comment: z.string().optional() })),
  feedback: z.array(
    z.object({
      by: z.string(),
      assetId: z.string().optional(),
      severity: z.enum(['low', 'high']),
      message: z.string(),
      at: z.string(),
      phase: z.enum(PHASES),
    }),
  ),
  exceptions: z.array(
    z.object({ assetId: z.string(), compensatingControl: z.string(), expiresAt: z.string(), approvedBy: z.string(), at: z.string() }),
  ),
  deferrals: z.array(z.object({ assetId: z.string(), until: z.string(), reason: z.string(), by: z.string(), at: z.string() })),
  breaches: z.array(z.object({ assetId: z.string(), reason: z.string() })),
  postmortem: z.object({ lessonsLearned: z.string(), actions: z.array(z.string()), by: z.string(), at: z.string() }).nullable(),
  deployment: z.object({ startedAt: z.string().nullable(), finishedAt: z.string().nullable() }),
});

const comment = z.string().trim().min(1).max(4000);

export const ReviewRequest = z.strictObject({
  verdict: z.enum(['approve', 'reject']),
  priority: z.number().int().min(1).max(4).optional().describe('A different priority the reviewer proposes; the comment says why'),
  comment,
});

export const DecisionRequest = z.strictObject({
  decision: z.enum(DECISIONS),
  comment,
  bypassMaintenanceWindows: z.boolean().optional().describe('With approve: allow emergency work outside maintenance windows'),
});

export const RevisionRequest = z.strictObject({
  comment,
  advisoryIds: CreatePatchRequest.shape.advisoryIds.optional(),
  emergency: z.boolean().optional(),
  settings: PatchSettings.optional(),
});

export const CancelRequest = z.strictObject({ reason: comment });

export const RolloutRequest = z.strictObject({ action: z.enum(ROLLOUT_ACTIONS), comment: comment.optional() });

const assetId = z.string().min(1).max(200);
const futureInstant = z.iso.datetime({ offset: true }).refine((at) => Date.parse(at) > Date.now(), 'must be in the future');

export const ExceptionRequest = z.strictObject({
  assetId,
  compensatingControl: comment.describe('What protects the host while it stays unpatched'),
  expiresAt: futureInstant.describe('When the exception ends and the host is non-compliant again'),
});

export const DeferralRequest = z.strictObject({
  assetId,
  until: futureInstant.describe("At the latest the patch's recommended deadline"),
  reason: comment,
});

export const FeedbackRequest = z.strictObject({
  assetId: assetId.optional(),
  severity: z.enum(['low', 'high']),
  message: comment,
});

export const PostmortemRequest = z.strictObject({
  lessonsLearned: comment,
  actions: z.array(z.string().trim().min(1).max(1000)).max(100),
});

export const Health = z.object({ status: z.string() });
export const Readiness = z.object({
  status: z.enum(['ready', 'not-ready']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), error: z.string().optional() })),
});

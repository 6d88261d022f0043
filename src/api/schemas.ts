/**
 * The zod schemas of the HTTP API. The same objects validate requests and generate
 * `GET /v1/openapi.json`, so the document cannot drift from what the server accepts.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ROLLOUT_ACTIONS, STRATEGIES } from '../domain/patch';
import { PatchSettings } from '../domain/patch-status';
import { ROLES } from '../domain/roles';
import { DECISIONS } from '../domain/governance';

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

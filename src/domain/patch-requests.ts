/**
 * What people send to open and steer a patch, as zod schemas: the API validates the request
 * bodies with them, and each workflow update's input is the body plus the authenticated actor
 * (`UpdateInput` in patch.ts), so a field added here reaches the workflow's types at once.
 *
 * The workflow imports this module for its types only: zod stays out of the workflow bundle.
 */
import { z } from 'zod';
import { DECISIONS } from './governance';
import { ROLLOUT_ACTIONS, SEVERITIES, STRATEGIES, VERDICTS } from './patch';
import { PatchSettings } from './patch-status';

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

const comment = z.string().trim().min(1).max(4000);

export const ReviewRequest = z.strictObject({
  verdict: z.enum(VERDICTS),
  priority: z.number().int().min(1).max(4).optional().describe('A different priority the reviewer proposes; the comment says why'),
  comment,
});
export type ReviewRequest = z.output<typeof ReviewRequest>;

export const DecisionRequest = z.strictObject({
  decision: z.enum(DECISIONS),
  comment,
  bypassMaintenanceWindows: z.boolean().optional().describe('With approve: allow emergency work outside maintenance windows'),
});
export type DecisionRequest = z.output<typeof DecisionRequest>;

export const RevisionRequest = z.strictObject({
  comment,
  advisoryIds: CreatePatchRequest.shape.advisoryIds.optional(),
  emergency: z.boolean().optional(),
  settings: PatchSettings.optional(),
});
export type RevisionRequest = z.output<typeof RevisionRequest>;

export const CancelRequest = z.strictObject({ reason: comment });
export type CancelRequest = z.output<typeof CancelRequest>;

export const RolloutRequest = z.strictObject({ action: z.enum(ROLLOUT_ACTIONS), comment: comment.optional() });
export type RolloutRequest = z.output<typeof RolloutRequest>;

const assetId = z.string().min(1).max(200);
const futureInstant = z.iso.datetime({ offset: true }).refine((at) => Date.parse(at) > Date.now(), 'must be in the future');

export const ExceptionRequest = z.strictObject({
  assetId,
  compensatingControl: comment.describe('What protects the host while it stays unpatched'),
  expiresAt: futureInstant.describe('When the exception ends and the host is non-compliant again'),
});
export type ExceptionRequest = z.output<typeof ExceptionRequest>;

export const DeferralRequest = z.strictObject({
  assetId,
  until: futureInstant.describe("At the latest the patch's recommended deadline"),
  reason: comment,
});
export type DeferralRequest = z.output<typeof DeferralRequest>;

export const FeedbackRequest = z.strictObject({
  assetId: assetId.optional(),
  severity: z.enum(SEVERITIES),
  message: comment,
});
export type FeedbackRequest = z.output<typeof FeedbackRequest>;

export const PostmortemRequest = z.strictObject({
  lessonsLearned: comment,
  actions: z.array(z.string().trim().min(1).max(1000)).max(100),
});
export type PostmortemRequest = z.output<typeof PostmortemRequest>;

export const TrustRequest = z.strictObject({
  keys: z
    .array(z.string().regex(/^[0-9a-f]{64}$/, 'an Ed25519 public key: 64 lowercase hex digits'))
    .min(1)
    .max(16)
    .refine((keys) => new Set(keys).size === keys.length, 'keys must not repeat')
    .describe('Every public key whose signed updates the patch accepts from now on (the list replaces the current one)'),
  comment,
});
export type TrustRequest = z.output<typeof TrustRequest>;

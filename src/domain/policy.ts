/**
 * The policy document (`GET/PUT /v1/policy`): deadlines and priority thresholds (docs/process.md,
 * step 1), the governance rules of review and approval (steps 2–3), the rollout defaults a
 * patch's plan starts from (step 6), the notification webhooks and the bearer tokens' lifetimes. Sections added after the
 * first release default, so every stored version still parses.
 */
import { z } from 'zod';
import { parseDuration } from './duration';

export const duration = z.string().refine((s) => parseDuration(s) !== undefined, 'a duration such as 500ms, 30s, 15m, 2h or 7d');
const Deadline = z.strictObject({ recommended: duration, maximum: duration });

export const PRIORITY_NAMES = { 1: 'emergency', 2: 'critical', 3: 'important', 4: 'low' } as const;
export const Priority = z.literal([1, 2, 3, 4]);
export type Priority = z.infer<typeof Priority>;

export const NOTIFICATION_EVENTS = [
  'review-requested',
  'approval-requested',
  'escalation',
  'hold',
  'rollout-halted',
  'sla-at-risk',
  'completed',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export const MaxFailures = z.union([
  z.number().int().min(0),
  z.string().regex(/^\d{1,3}(\.\d+)?%$/, 'a count or a percentage such as 10%'),
]);

const ReviewTerms = z.strictObject({
  /** Distinct reviewers needed, none the requester. */
  reviewersRequired: z.number().int().min(1).max(10),
  /** Reviews still missing after this: a reminder; after twice this: an escalation. */
  reviewTimeout: duration,
  /** The same for the approval. */
  approvalTimeout: duration,
});

const GovernanceSchema = ReviewTerms.extend({
  /** Emergencies and priority 1: fewer reviewers and shorter timers, still an approver. */
  fastTrack: ReviewTerms,
  /** After approval, how often the scope is evaluated again (and always before production). */
  scopeRecheckInterval: duration,
  /** An exception to a patch is granted for at most this long. */
  exceptionMaxLifetime: duration.default('365d'),
});

const RolloutSchema = z.strictObject({
  /** Production is cut into this many waves (more when redundancy groups need it). */
  productionWaves: z.number().int().min(1).max(100).default(5),
  maxConcurrent: z.number().int().min(1),
  maxPerGroupPerWave: z.number().int().min(1),
  maxFailures: MaxFailures,
  bakeTime: duration,
  pilotBakeTime: duration,
  monitoringWindow: duration,
  stragglerRetryInterval: duration,
  /** Global change freezes: no host is changed inside one unless the approval allowed an emergency bypass. */
  changeFreezes: z
    .array(
      z.strictObject({
        start: z.iso.datetime({ offset: true }),
        end: z.iso.datetime({ offset: true }),
        reason: z.string().max(500).optional(),
      }),
    )
    .max(100)
    .default([]),
  /** Low-severity feedback reports that halt a pilot or monitoring window (one high-severity report always does). */
  feedbackThreshold: z.number().int().min(1).default(3),
  /** A host starts only while this much of its window is left: time for the install and a reboot. */
  minWindowRemaining: duration.default('30m'),
});

const NotificationsSchema = z.strictObject({
  /** JSON POSTs with a Slack-compatible `text`; `events` limits what a receiver gets (default all). */
  webhooks: z
    .array(z.strictObject({ url: z.url({ protocol: /^https?$/ }), events: z.array(z.enum(NOTIFICATION_EVENTS)).min(1).optional() }))
    .max(20),
  /**
   * Webhooks may reach loopback, private, link-local and metadata addresses only on these hosts
   * (names or IP literals, exactly as they appear in the webhook URL).
   */
  allowedInternalHosts: z
    .array(
      z
        .string()
        .min(1)
        .max(253)
        .regex(/^[A-Za-z0-9.:[\]_-]+$/, 'a host name or an IP address'),
    )
    .max(50)
    .default([]),
});

const AccessSchema = z.strictObject({
  /** A bearer token expires this long after it was issued, unless its issuer chose a shorter or longer life. */
  tokenLifetime: duration.default('90d'),
  /** The longest life a token may be given. */
  maxTokenLifetime: duration.default('365d'),
});
export const DEFAULT_ACCESS: z.output<typeof AccessSchema> = { tokenLifetime: '90d', maxTokenLifetime: '365d' };

export const DEFAULT_GOVERNANCE: z.output<typeof GovernanceSchema> = {
  reviewersRequired: 2,
  reviewTimeout: '1d',
  approvalTimeout: '1d',
  fastTrack: { reviewersRequired: 1, reviewTimeout: '1h', approvalTimeout: '1h' },
  scopeRecheckInterval: '15m',
  exceptionMaxLifetime: '365d',
};

export const DEFAULT_ROLLOUT: z.output<typeof RolloutSchema> = {
  productionWaves: 5,
  maxConcurrent: 10,
  maxPerGroupPerWave: 1,
  maxFailures: '10%',
  bakeTime: '1h',
  pilotBakeTime: '4h',
  monitoringWindow: '24h',
  stragglerRetryInterval: '1h',
  changeFreezes: [],
  feedbackThreshold: 3,
  minWindowRemaining: '30m',
};

export const PolicySchema = z
  .strictObject({
    deadlines: z.strictObject({ '1': Deadline, '2': Deadline, '3': Deadline, '4': Deadline }),
    priority: z.strictObject({
      /** CVSS at or above this is critical; with known exploitation or internet-facing critical hosts, an emergency. */
      emergencyCvss: z.number().min(0).max(10),
      /** CVSS at or above this is critical when internet-facing high/critical hosts are affected, else important. */
      criticalCvss: z.number().min(0).max(10),
      /** CVSS at or above this is important; below it, low. */
      importantCvss: z.number().min(0).max(10),
      /** This many affected assets or more raises the priority one level (never to emergency on its own). */
      wideImpactAssets: z.number().int().min(1),
      /** Only isolated hosts affected and no known exploitation: one level lower. */
      isolatedLowers: z.boolean(),
      /** Compensating controls on every affected host: one level lower. */
      compensatingControlsLower: z.boolean(),
    }),
    governance: GovernanceSchema.default(DEFAULT_GOVERNANCE),
    rollout: RolloutSchema.default(DEFAULT_ROLLOUT),
    notifications: NotificationsSchema.default({ webhooks: [], allowedInternalHosts: [] }),
    access: AccessSchema.default(DEFAULT_ACCESS),
  })
  .superRefine((policy, ctx) => {
    const { emergencyCvss, criticalCvss, importantCvss } = policy.priority;
    if (!(emergencyCvss >= criticalCvss && criticalCvss >= importantCvss)) {
      ctx.addIssue({ code: 'custom', path: ['priority'], message: 'emergencyCvss ≥ criticalCvss ≥ importantCvss' });
    }
    for (const p of ['1', '2', '3', '4'] as const) {
      const d = policy.deadlines[p];
      if (parseDuration(d.recommended)! > parseDuration(d.maximum)!) {
        ctx.addIssue({ code: 'custom', path: ['deadlines', p], message: 'recommended must not be later than maximum' });
      }
    }
    if (parseDuration(policy.access.tokenLifetime)! > parseDuration(policy.access.maxTokenLifetime)!) {
      ctx.addIssue({ code: 'custom', path: ['access', 'tokenLifetime'], message: 'must not be longer than maxTokenLifetime' });
    }
  });
export type Policy = z.output<typeof PolicySchema>;

/**
 * The defaults: the deadline table of docs/process.md, "Durations and policy"; thresholds from
 * CVSS's own severity bands.
 */
export const DEFAULT_POLICY: Policy = {
  deadlines: {
    '1': { recommended: '12h', maximum: '24h' },
    '2': { recommended: '7d', maximum: '14d' },
    '3': { recommended: '30d', maximum: '60d' },
    '4': { recommended: '90d', maximum: '180d' },
  },
  priority: {
    emergencyCvss: 9.0,
    criticalCvss: 7.0,
    importantCvss: 4.0,
    wideImpactAssets: 50,
    isolatedLowers: true,
    compensatingControlsLower: true,
  },
  governance: DEFAULT_GOVERNANCE,
  rollout: DEFAULT_ROLLOUT,
  notifications: { webhooks: [], allowedInternalHosts: [] },
  access: DEFAULT_ACCESS,
};

import type { Awaiting, DecisionKind, GovernanceTerms, RolloutPlanSettings } from './governance';
import type { Role } from './roles';

/**
 * The patch as the product speaks of it (PRODUCT §2, §3): phases, states, outcomes, the request
 * that opens a patch and the status every reader sees. Pure types and constants, no I/O, so the
 * workflow bundle, the activities and the API all share them.
 */

export const PHASES = [
  'assessment',
  'peer-review',
  'approval',
  'testing',
  'pilot',
  'rollout',
  'verification',
  'monitoring',
  'postmortem',
  'completed',
] as const;
export type Phase = (typeof PHASES)[number];

export const STATES = ['running', 'waiting', 'paused', 'halted', 'on-hold', 'done'] as const;
export type State = (typeof STATES)[number];

export const OUTCOMES = ['completed', 'not-applicable', 'rejected', 'cancelled', 'aborted', 'rolled-back'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const STRATEGIES = ['least-critical-first', 'risk-first'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const ENVIRONMENTS = ['lab', 'pilot', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/**
 * Per-patch overrides of policy. Durations are strings such as `500ms`, `30s`, `15m`, `2h`, `7d`
 * so a test can run the whole lifecycle in seconds.
 */
export interface PatchSettings {
  reviewersRequired?: number;
  reviewTimeout?: string;
  approvalTimeout?: string;
  /** After approval, how often the scope is evaluated again. */
  scopeRecheckInterval?: string;
  bakeTime?: string;
  pilotBakeTime?: string;
  monitoringWindow?: string;
  stragglerRetryInterval?: string;
  productionWaves?: number;
  maxConcurrent?: number;
  maxPerGroupPerWave?: number;
  maxFailures?: number | string;
}

/** Who did something, as the API authenticated them; recorded in the workflow history. */
export interface Actor {
  id: string;
  name: string;
  roles: Role[];
}

/** The workflow's input: everything known when an operator opens the patch. */
export interface PatchRequest {
  id: string;
  title: string;
  advisoryIds: string[];
  emergency: boolean;
  strategy?: Strategy;
  settings: PatchSettings;
  requestedBy: Actor;
  requestedAt: string;
}

export interface Review {
  reviewer: string;
  verdict: 'approve' | 'reject';
  /** A priority the reviewer proposes instead of the assessed one; the comment says why. */
  priority?: number;
  comment: string;
  at: string;
  /** The evaluation reviewed: 1, then one more per revision. */
  round: number;
}

export interface Decision {
  approver: string;
  decision: DecisionKind;
  comment: string;
  at: string;
  bypassMaintenanceWindows?: boolean;
}

/** A person's act, as it was recorded: who, when, why. */
export interface Act {
  by: string;
  at: string;
  comment: string;
}

/** Reminders and escalations of late reviews or approvals. */
export interface Lateness {
  phase: Phase;
  level: 'reminder' | 'escalation';
  at: string;
  message: string;
}

/** The inputs of the workflow's updates; the API adds the authenticated actor. */
export interface ReviewInput {
  actor: Actor;
  verdict: 'approve' | 'reject';
  priority?: number;
  comment: string;
}

export interface DecisionInput {
  actor: Actor;
  decision: DecisionKind;
  comment: string;
  bypassMaintenanceWindows?: boolean;
}

export interface RevisionInput {
  actor: Actor;
  comment: string;
  advisoryIds?: string[];
  emergency?: boolean;
  settings?: PatchSettings;
}

export interface CancelInput {
  actor: Actor;
  reason: string;
}

export interface WaveStatus {
  index: number;
  ring: Environment;
  assets: string[];
  status: string;
  counts: Record<string, number>;
}

export interface Straggler {
  assetId: string;
  reason: string;
  attempts: number;
}

export const ROLLOUT_ACTIONS = ['pause', 'resume', 'abort', 'rollback', 'retry-stragglers'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

export interface RolloutInput {
  actor: Actor;
  action: RolloutAction;
  comment?: string;
}

export interface ExceptionInput {
  actor: Actor;
  assetId: string;
  compensatingControl: string;
  expiresAt: string;
}

export interface DeferralInput {
  actor: Actor;
  assetId: string;
  until: string;
  reason: string;
}

export interface FeedbackInput {
  actor: Actor;
  assetId?: string;
  severity: 'low' | 'high';
  message: string;
}

export interface PostmortemInput {
  actor: Actor;
  lessonsLearned: string;
  actions: string[];
}

/** The lab phase's findings (PRODUCT §2 step 4). */
export interface LabReport {
  tests: { assetId: string; role: string | null; checks: { check: string; ok: boolean; detail: string }[] }[];
  rollbackProof: { assetId: string; ok: boolean; detail: string } | null;
  /** Roles of pilot and production hosts with no lab host. */
  uncoveredRoles: string[];
  /** What failed: each needs an approver's deploy-anyway, hold or cancel. */
  failures: string[];
}

/** Why the patch stopped and who must decide. */
export interface Halt {
  phase: Phase;
  reason: string;
  at: string;
  /** `approver`: deploy-anyway, hold or cancel (lab); `operator`: resume, abort or rollback. */
  decidedBy: 'approver' | 'operator';
}

/** The status shape of `GET /v1/patches/:id` (PRODUCT §3), answered by the workflow's query. */
export interface PatchStatus {
  id: string;
  workflowId: string;
  title: string;
  advisoryIds: string[];
  cves: string[];
  emergency: boolean;
  strategy: Strategy | null;
  requestedBy: string;
  requestedAt: string;
  phase: Phase;
  state: State;
  outcome: Outcome | null;
  priority: number | null;
  priorityReasons: string[];
  deadlines: { recommended: string; maximum: string } | null;
  reviews: Review[];
  decisions: Decision[];
  targets: Record<Environment, number>;
  waves: WaveStatus[];
  hosts: Record<string, number>;
  stragglers: Straggler[];
  settings: PatchSettings;
  /** The evaluation under review: 1, then one more per revision. */
  revision: number;
  /** Who or what the patch waits for. */
  awaiting: Awaiting;
  governance: GovernanceTerms | null;
  plan: RolloutPlanSettings | null;
  /** A reviewer's reject: the patch is back with the operator (revise or cancel). */
  returned: Act | null;
  hold: Act | null;
  /** The approval in force and the scope it covers. */
  approval: (Act & { scopeDigest: string; priority: number; bypassMaintenanceWindows: boolean }) | null;
  /** Why the last approval stopped holding, when it did. */
  approvalInvalidated: { at: string; reasons: string[] } | null;
  lateness: Lateness[];
  cancelled: Act | null;
  /** When each phase was entered, in order (a phase entered twice appears twice). */
  phases: { phase: Phase; at: string }[];
  lab: LabReport | null;
  halt: Halt | null;
  /** The rollout actions operators took. */
  actions: { action: RolloutAction; by: string; at: string; comment?: string }[];
  feedback: { by: string; assetId?: string; severity: 'low' | 'high'; message: string; at: string; phase: Phase }[];
  exceptions: { assetId: string; compensatingControl: string; expiresAt: string; approvedBy: string; at: string }[];
  deferrals: { assetId: string; until: string; reason: string; by: string; at: string }[];
  /** Hosts still non-compliant, not excepted, at the maximum deadline. */
  breaches: { assetId: string; reason: string }[];
  postmortem: { lessonsLearned: string; actions: string[]; by: string; at: string } | null;
  /** When the patch started changing hosts and when it finished (for time to patch). */
  deployment: { startedAt: string | null; finishedAt: string | null };
}

export const workflowIdFor = (patchId: string) => `patch-${patchId}`;

export function initialStatus(request: PatchRequest): PatchStatus {
  return {
    id: request.id,
    workflowId: workflowIdFor(request.id),
    title: request.title,
    advisoryIds: request.advisoryIds,
    cves: [],
    emergency: request.emergency,
    strategy: request.strategy ?? null,
    requestedBy: request.requestedBy.name,
    requestedAt: request.requestedAt,
    phase: 'assessment',
    state: 'running',
    outcome: null,
    priority: null,
    priorityReasons: [],
    deadlines: null,
    reviews: [],
    decisions: [],
    targets: { lab: 0, pilot: 0, production: 0 },
    waves: [],
    hosts: {},
    stragglers: [],
    settings: request.settings,
    revision: 1,
    awaiting: 'nothing',
    governance: null,
    plan: null,
    returned: null,
    hold: null,
    approval: null,
    approvalInvalidated: null,
    lateness: [],
    cancelled: null,
    phases: [{ phase: 'assessment', at: request.requestedAt }],
    lab: null,
    halt: null,
    actions: [],
    feedback: [],
    exceptions: [],
    deferrals: [],
    breaches: [],
    postmortem: null,
    deployment: { startedAt: null, finishedAt: null },
  };
}

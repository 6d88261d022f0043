import type {
  CancelRequest,
  DecisionRequest,
  DeferralRequest,
  ExceptionRequest,
  FeedbackRequest,
  PostmortemRequest,
  ReviewRequest,
  RevisionRequest,
  RolloutRequest,
  TrustRequest,
} from './patch-requests';
import type { PatchSettings, PatchStatus } from './patch-status';
import type { Role } from './roles';
import type { UpdateSignature } from './signed-update';

/**
 * The patch as the product speaks of it (docs/process.md, docs/http-api.md): phases, states,
 * outcomes, the request that opens a patch, the inputs of its updates and its first status (the
 * status's shape is in patch-status.ts). Pure types and constants, no I/O and no zod, so the
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
  /**
   * The public keys whose signed updates the patch accepts (the API's own, src/api/patch-start.ts);
   * absent in a patch started before signed updates, which accepts unsigned ones.
   */
  trustedKeys?: string[];
}

/** A reviewer's verdict on an evaluation. */
export const VERDICTS = ['approve', 'reject'] as const;
/** How bad a reported problem is: `high` halts a pilot or monitoring window at once. */
export const SEVERITIES = ['low', 'high'] as const;
export const ROLLOUT_ACTIONS = ['pause', 'resume', 'abort', 'rollback', 'retry-stragglers'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

/**
 * The input of a workflow update: what the person sent (patch-requests.ts), who they are, as the
 * API authenticated them, and the API's signature over both (src/domain/signed-update.ts; only a
 * patch started before signed updates takes one without).
 */
export type UpdateInput<Body> = Body & { actor: Actor; signature?: UpdateSignature };
export type ReviewInput = UpdateInput<ReviewRequest>;
export type DecisionInput = UpdateInput<DecisionRequest>;
export type RevisionInput = UpdateInput<RevisionRequest>;
export type CancelInput = UpdateInput<CancelRequest>;
export type RolloutInput = UpdateInput<RolloutRequest>;
export type ExceptionInput = UpdateInput<ExceptionRequest>;
export type DeferralInput = UpdateInput<DeferralRequest>;
export type FeedbackInput = UpdateInput<FeedbackRequest>;
export type PostmortemInput = UpdateInput<PostmortemRequest>;
export type TrustInput = UpdateInput<TrustRequest>;

/**
 * What a workflow update answers: where the patch stands right after it. Small and of fixed size,
 * so each decision adds the same few bytes to the history however long the status has grown; the
 * API reads the whole status with the query afterwards.
 */
export interface UpdateAck {
  phase: Phase;
  state: State;
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
    deadlinesPassed: [],
    waitingForInfrastructure: null,
    postmortem: null,
    deployment: { startedAt: null, finishedAt: null },
  };
}

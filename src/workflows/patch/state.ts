/**
 * Everything a patch workflow knows, in one serializable object: the status every reader sees,
 * the evaluation in force, the decisions people sent that the current step has not acted on yet,
 * the rollout's progress and every timer's deadline. A run that continues as new hands it to the
 * next run, which carries on at `step` (docs/temporal.md, "History size and continue-as-new").
 */
import type { DeploymentPlan, WaveSelector } from '../../domain/deployment';
import type { Actor, Outcome, PatchRequest, RevisionInput } from '../../domain/patch';
import type { PatchStatus } from '../../domain/patch-status';
import { initialTrust, type UpdateTrust } from '../../domain/signed-update';
import type { AssessmentResult } from '../../services/assessment';

/**
 * Where the patch stands in its process. Each step either acts and names the next step, or waits
 * (for people, a timer or a wave) and may be entered again by the next run after a continue-as-new.
 */
export const STEPS = [
  'assessment',
  'review',
  'reviews',
  'returned',
  'revise',
  'approval',
  'decision',
  'lab',
  'lab-tests',
  'lab-decision',
  'scope-check',
  'pilot',
  'pilot-bake',
  'production',
  'production-bake',
  'wave',
  'halted',
  'bake',
  'verification',
  'stragglers',
  'verify-again',
  'monitoring',
  'postmortem',
  'postmortem-wait',
  'stopped',
  'cancelled',
  'closed',
] as const;
export type Step = (typeof STEPS)[number];

/** The decisions people sent that a step acts on when it wakes. */
export interface Pending {
  /** The change board's approve or reject. */
  decision?: 'approve' | 'reject';
  revision?: RevisionInput;
  cancellation?: { actor: Actor; reason: string };
  /** An operator's abort or rollback of the rollout. */
  stop?: 'abort' | 'rollback';
  /** An operator's resume after a halt. */
  resume?: boolean;
  retryStragglers?: boolean;
  /** An approver's deploy-anyway after a failed lab. */
  deployAnyway?: boolean;
}

/** A wave the `wave` step runs as a child workflow, and the step after it. */
export interface WaveOrder {
  selector: WaveSelector;
  /** Budget failures tolerated; null: no budget. */
  budget: number | null;
  /** Its entry in `status.waves`; null for straggler retries, which have none. */
  statusIndex: number | null;
  then: Step;
}

/** A bake (pilot, between waves, monitoring): until when, and whether the scope is evaluated again meanwhile. */
export interface Bake {
  until: string;
  /** The next scope evaluation; null when this bake does not evaluate it. */
  nextRecheckAt: string | null;
  then: Step;
}

export interface RolloutState {
  plan: DeploymentPlan;
  /** Hosts are being changed (lab to monitoring): revisions are refused, a cancel stops like an abort. */
  changingHosts: boolean;
  /** Wave children started so far (their ids end with this count). */
  waveRuns: number;
  /** The workflow's attempt at the hosts: 1, then one more per straggler retry. */
  attempt: number;
  /** Feedback reports before this index were already answered (a halt or an earlier phase). */
  feedbackFrom: number;
  /** The next production wave, an index into `plan.waves`. */
  productionWave: number;
  wave: WaveOrder | null;
  bake: Bake | null;
  /** Where an operator's resume takes a halted rollout, and whether earlier feedback is then answered. */
  resumeTo: { step: Step; answersFeedback: boolean } | null;
  /** When the stragglers are retried next. */
  nextRetryAt: string | null;
  /** When the lab decision evaluates the scope again. */
  nextRecheckAt: string | null;
  /** Deferrals still running, by asset. */
  deferredUntil: Record<string, string>;
  /** How the deployment ended, for the postmortem. */
  outcome: Outcome;
}

export interface PatchState {
  /** The request as revised so far (the workflow's input is the one the operator opened). */
  request: PatchRequest;
  status: PatchStatus;
  /** The evaluation in force; null until the first assessment. */
  evaluation: AssessmentResult | null;
  step: Step;
  /** Reviewer ids of the current round, and of every round (none of them may approve). */
  reviewers: { round: string[]; ever: string[] };
  pending: Pending;
  /** The reminders of the current wait for people: the next one, and how many were sent. */
  reminders: { nextAt: string; sent: number } | null;
  rollout: RolloutState | null;
  /**
   * The keys whose signed updates the patch accepts (from the request, then rotated by `trust`)
   * and the nonces it accepted inside the signature window.
   */
  trust: UpdateTrust;
  /** This run of the workflow: 1, then one more per continue-as-new. */
  run: number;
}

export function initialState(request: PatchRequest, status: PatchStatus): PatchState {
  return {
    request,
    status,
    evaluation: null,
    step: 'assessment',
    reviewers: { round: [], ever: [] },
    pending: {},
    reminders: null,
    rollout: null,
    trust: initialTrust(request.trustedKeys),
    run: 1,
  };
}

/**
 * The state a continued run starts from. A run of a patch from before signed updates handed
 * over no `trust`: it gets its request's (none, for such a patch).
 */
export function carriedState(request: PatchRequest, carried: Omit<PatchState, 'trust'> & { trust?: UpdateTrust }): PatchState {
  return { ...carried, trust: carried.trust ?? initialTrust(request.trustedKeys), run: carried.run + 1 };
}

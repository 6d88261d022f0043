/**
 * Peer review and approval (docs/process.md, steps 2–3): who may decide what, and when. Pure rules,
 * used by the workflow's update validators (so a refused decision leaves no trace in the
 * history) and by unit tests.
 */
import { parseDuration } from './duration';
import type { Policy, Priority } from './policy';
import type { Actor, Environment, Phase, RolloutAction, State, Strategy } from './patch';
import type { GovernanceTerms, RolloutPlanSettings } from './patch-status';
import type { Role } from './roles';

/**
 * Emergencies and priority 1 take the fast track. A patch's own settings may ask for more
 * reviewers than the policy, never fewer (the requester must not be able to weaken the review
 * of their own change), and may set its own timers.
 */
export function governanceTerms(
  policy: Policy,
  request: {
    emergency: boolean;
    settings: { reviewersRequired?: number; reviewTimeout?: string; approvalTimeout?: string; scopeRecheckInterval?: string };
  },
  priority: Priority,
): GovernanceTerms {
  const fastTrack = request.emergency || priority === 1;
  const base = fastTrack ? policy.governance.fastTrack : policy.governance;
  return {
    fastTrack,
    reviewersRequired: Math.max(base.reviewersRequired, request.settings.reviewersRequired ?? 0),
    reviewTimeout: request.settings.reviewTimeout ?? base.reviewTimeout,
    approvalTimeout: request.settings.approvalTimeout ?? base.approvalTimeout,
    scopeRecheckInterval: request.settings.scopeRecheckInterval ?? policy.governance.scopeRecheckInterval,
  };
}

export function rolloutPlanSettings(
  policy: Policy,
  request: { emergency: boolean; strategy?: Strategy; settings: Partial<Omit<RolloutPlanSettings, 'strategy'>> },
  knownExploited: boolean,
): RolloutPlanSettings {
  const defaults = policy.rollout;
  const s = request.settings;
  return {
    strategy: request.strategy ?? (request.emergency || knownExploited ? 'risk-first' : 'least-critical-first'),
    productionWaves: s.productionWaves ?? defaults.productionWaves,
    maxConcurrent: s.maxConcurrent ?? defaults.maxConcurrent,
    maxPerGroupPerWave: s.maxPerGroupPerWave ?? defaults.maxPerGroupPerWave,
    maxFailures: s.maxFailures ?? defaults.maxFailures,
    bakeTime: s.bakeTime ?? defaults.bakeTime,
    pilotBakeTime: s.pilotBakeTime ?? defaults.pilotBakeTime,
    monitoringWindow: s.monitoringWindow ?? defaults.monitoringWindow,
    stragglerRetryInterval: s.stragglerRetryInterval ?? defaults.stragglerRetryInterval,
  };
}

/**
 * What an approval covers. `digest` hashes all of it; the parts say what changed. Computed by
 * the assessment activity (the workflow sandbox has no hashing).
 */
export interface Scope {
  digest: string;
  parts: { advisories: string; targets: string; priority: Priority; plan: string };
  targets: Record<Environment, number>;
}

/** Why an approval no longer holds: one sentence per part of the scope that changed. */
export function scopeChanges(approved: Scope, current: Scope): string[] {
  const reasons: string[] = [];
  if (approved.parts.advisories !== current.parts.advisories) reasons.push('The advisories changed');
  if (approved.parts.targets !== current.parts.targets) {
    const counts = (t: Record<Environment, number>) => `lab ${t.lab}, pilot ${t.pilot}, production ${t.production}`;
    reasons.push(`The affected assets changed: approved ${counts(approved.targets)}; now ${counts(current.targets)}`);
  }
  if (approved.parts.priority !== current.parts.priority) {
    reasons.push(`The assessed priority changed from ${approved.parts.priority} to ${current.parts.priority}`);
  }
  if (approved.parts.plan !== current.parts.plan) reasons.push('The rollout plan settings changed (policy or patch settings)');
  return reasons;
}

/** A refused decision: `forbidden` (role or person, HTTP 403) or `conflict` (phase or duplicate, 409). */
export interface Refusal {
  kind: 'forbidden' | 'conflict' | 'invalid';
  message: string;
}

/** What the workflow is waiting for, as the validators need to know it. */
export const AWAITING = ['reviews', 'revision', 'decision', 'lab-decision', 'operator', 'postmortem', 'nothing'] as const;
/**
 * `lab-decision`: an approver's deploy-anyway, hold or cancel after the lab; `operator`: resume,
 * abort or rollback after a halt; `postmortem`: the operator's lessons learned.
 */
export type Awaiting = (typeof AWAITING)[number];

export interface GovernanceView {
  phase: Phase;
  state: State;
  awaiting: Awaiting;
  requesterId: string;
  /** Reviewers of the current round (a revision starts a new one). */
  currentReviewerIds: string[];
  /** Everyone who ever reviewed this patch: none of them may approve it. */
  allReviewerIds: string[];
  /** Hosts are being changed: cancelling now means aborting. */
  changingHosts: boolean;
}

export const DECISIONS = ['approve', 'reject', 'hold', 'resume', 'cancel', 'deploy-anyway'] as const;
export type DecisionKind = (typeof DECISIONS)[number];

const hasRole = (actor: Actor, ...roles: Role[]) => roles.some((r) => actor.roles.includes(r));
const forbidden = (message: string): Refusal => ({ kind: 'forbidden', message });
const conflict = (message: string): Refusal => ({ kind: 'conflict', message });

function closed(view: GovernanceView): Refusal | undefined {
  return view.state === 'done' ? conflict(`The patch is closed (phase ${view.phase})`) : undefined;
}

export function refuseReview(view: GovernanceView, actor: Actor): Refusal | undefined {
  if (!hasRole(actor, 'reviewer')) return forbidden(`${actor.name} does not hold the reviewer role`);
  if (actor.id === view.requesterId) return forbidden(`${actor.name} requested this patch and cannot review it`);
  const wrongTime = closed(view);
  if (wrongTime) return wrongTime;
  if (view.phase !== 'peer-review' || view.awaiting !== 'reviews') {
    return conflict(
      view.awaiting === 'revision'
        ? 'A reviewer rejected the evaluation; it waits for the operator to revise or cancel it'
        : `Reviews are not being taken in phase ${view.phase}`,
    );
  }
  if (view.currentReviewerIds.includes(actor.id)) return conflict(`${actor.name} has already reviewed this evaluation`);
  return undefined;
}

export function refuseDecision(view: GovernanceView, actor: Actor, decision: DecisionKind): Refusal | undefined {
  if (!hasRole(actor, 'approver')) return forbidden(`${actor.name} does not hold the approver role`);
  const wrongTime = closed(view);
  if (wrongTime) return wrongTime;
  if (decision === 'cancel') return undefined;
  if (actor.id === view.requesterId) return forbidden(`${actor.name} requested this patch and cannot decide on it`);
  if (view.allReviewerIds.includes(actor.id)) return forbidden(`${actor.name} reviewed this patch and cannot decide on it`);
  switch (decision) {
    case 'approve':
    case 'reject':
      if (view.phase !== 'approval') return conflict(`There is no approval to decide in phase ${view.phase}`);
      if (view.state === 'on-hold') return conflict('The patch is on hold; resume it first');
      return undefined;
    case 'hold':
      if (view.phase !== 'approval' && view.awaiting !== 'lab-decision')
        return conflict(`Nothing can be put on hold in phase ${view.phase}`);
      if (view.state === 'on-hold') return conflict('The patch is already on hold');
      return undefined;
    case 'resume':
      return view.state === 'on-hold' ? undefined : conflict('The patch is not on hold');
    case 'deploy-anyway':
      if (view.awaiting !== 'lab-decision')
        return conflict(`Nothing waits for a deploy-anyway decision in phase ${view.phase} (state ${view.state})`);
      if (view.state === 'on-hold') return conflict('The patch is on hold; resume it first');
      return undefined;
  }
}

export function refuseRevision(view: GovernanceView, actor: Actor): Refusal | undefined {
  if (!hasRole(actor, 'operator')) return forbidden(`${actor.name} does not hold the operator role`);
  const wrongTime = closed(view);
  if (wrongTime) return wrongTime;
  if (view.changingHosts || !['peer-review', 'approval', 'testing'].includes(view.phase)) {
    return conflict(`A patch can be revised until its hosts are being changed, not in phase ${view.phase}`);
  }
  if (view.phase === 'peer-review' && view.awaiting !== 'revision' && view.awaiting !== 'reviews') {
    return conflict('The evaluation is being prepared; try again in a moment');
  }
  return undefined;
}

export function refuseCancel(view: GovernanceView, actor: Actor): Refusal | undefined {
  if (!hasRole(actor, 'operator', 'approver')) return forbidden(`${actor.name} holds neither the operator nor the approver role`);
  return closed(view);
}

/** Phases in which hosts are deployed, verified or retried: exceptions and deferrals apply. */
const DEPLOYING: readonly Phase[] = ['testing', 'pilot', 'rollout', 'verification', 'monitoring'];

/**
 * Operator actions on a rollout (docs/process.md, steps 6–8): pause and resume while waves run,
 * resume also after a halt; abort and rollback while hosts are being changed (rollback also
 * during monitoring); retry-stragglers during verification.
 */
export function refuseRolloutAction(view: GovernanceView, actor: Actor, action: RolloutAction): Refusal | undefined {
  if (!hasRole(actor, 'operator')) return forbidden(`${actor.name} does not hold the operator role`);
  const wrongTime = closed(view);
  if (wrongTime) return wrongTime;
  switch (action) {
    case 'pause':
      if (!view.changingHosts || view.state !== 'running')
        return conflict(`Only a running rollout can be paused (phase ${view.phase}, state ${view.state})`);
      return undefined;
    case 'resume':
      if (view.state === 'paused' || (view.state === 'halted' && view.awaiting === 'operator')) return undefined;
      return conflict(`Nothing to resume: the patch is ${view.state} in phase ${view.phase}`);
    case 'abort':
    case 'rollback':
      if (!view.changingHosts) return conflict(`No hosts are being changed in phase ${view.phase}`);
      return undefined;
    case 'retry-stragglers':
      if (view.phase !== 'verification') return conflict(`Stragglers are retried in phase verification, not ${view.phase}`);
      return undefined;
  }
}

/** An approver excepts a host under a compensating control (docs/process.md, step 9). */
export function refuseException(view: GovernanceView, actor: Actor): Refusal | undefined {
  if (!hasRole(actor, 'approver')) return forbidden(`${actor.name} does not hold the approver role`);
  if (actor.id === view.requesterId) return forbidden(`${actor.name} requested this patch and cannot except hosts from it`);
  // a reviewer of the patch vouched for it: granting its exceptions is someone else's call
  if (view.allReviewerIds.includes(actor.id)) return forbidden(`${actor.name} reviewed this patch and cannot except hosts from it`);
  const wrongTime = closed(view);
  if (wrongTime) return wrongTime;
  if (!DEPLOYING.includes(view.phase)) return conflict(`Hosts are excepted while the patch is deployed, not in phase ${view.phase}`);
  return undefined;
}

/**
 * An exception ends at the latest `exceptionMaxLifetime` (policy, governance section) after it is
 * granted at `grantedAtMs`. Checked by the API against the policy in force: the workflow does not
 * carry that policy field.
 */
export function refuseExceptionLifetime(expiresAt: string, grantedAtMs: number, maxLifetime: string): Refusal | undefined {
  const latest = grantedAtMs + (parseDuration(maxLifetime) ?? 0);
  if (Date.parse(expiresAt) <= latest) return undefined;
  return {
    kind: 'invalid',
    message:
      `An exception lasts at most ${maxLifetime} (policy governance.exceptionMaxLifetime): ` +
      `expiresAt must be at the latest ${new Date(latest).toISOString()}`,
  };
}

/**
 * An owner's deferral (the operator records it): scheduled patches only, and at the latest to
 * the recommended deadline.
 */
export function refuseDeferral(
  view: GovernanceView,
  actor: Actor,
  deferral: { emergency: boolean; until: string; recommendedDeadline: string | null },
): Refusal | undefined {
  if (!hasRole(actor, 'operator')) return forbidden(`${actor.name} does not hold the operator role`);
  const wrongTime = closed(view);
  if (wrongTime) return wrongTime;
  if (deferral.emergency) return conflict('Emergency patches allow no deferrals');
  if (!DEPLOYING.includes(view.phase)) return conflict(`Hosts are deferred while the patch is deployed, not in phase ${view.phase}`);
  if (deferral.recommendedDeadline && Date.parse(deferral.until) > Date.parse(deferral.recommendedDeadline)) {
    return { kind: 'invalid', message: `A deferral ends at the latest at the recommended deadline (${deferral.recommendedDeadline})` };
  }
  return undefined;
}

/** Anyone may report a problem while hosts are being deployed or monitored. */
export function refuseFeedback(view: GovernanceView): Refusal | undefined {
  const wrongTime = closed(view);
  if (wrongTime) return wrongTime;
  if (!DEPLOYING.includes(view.phase)) return conflict(`Feedback is taken from testing to monitoring, not in phase ${view.phase}`);
  return undefined;
}

export function refusePostmortem(view: GovernanceView, actor: Actor): Refusal | undefined {
  if (!hasRole(actor, 'operator')) return forbidden(`${actor.name} does not hold the operator role`);
  const wrongTime = closed(view);
  if (wrongTime) return wrongTime;
  if (view.awaiting !== 'postmortem') return conflict(`The postmortem is written in phase postmortem, not ${view.phase}`);
  return undefined;
}

/**
 * Every human decision, as one table: the update, the rule of src/domain/governance.ts its
 * validator applies (a refused update is answered at once and leaves no event in the history),
 * and what an accepted one does to the state. The mirror of the API's decision routes
 * (docs/http-api.md); the steps act on what is recorded here when they wake.
 */
import { patched, setHandler, uuid4 } from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import {
  refuseCancel,
  refuseDecision,
  refuseDeferral,
  refuseException,
  refuseFeedback,
  refusePostmortem,
  refuseReview,
  refuseRevision,
  refuseRolloutAction,
  type Refusal,
} from '../../domain/governance';
import { ROLLOUT_ACTIONS, VERDICTS, type Actor, type DecisionInput, type RolloutInput, type UpdateAck } from '../../domain/patch';
import { checkSignature, refuseKeyList, rememberNonce, type UpdateSignature } from '../../domain/signed-update';
import {
  cancelUpdate,
  decideUpdate,
  deferralUpdate,
  exceptionUpdate,
  feedbackUpdate,
  postmortemUpdate,
  reviewUpdate,
  reviseUpdate,
  rolloutUpdate,
  trustUpdate,
} from '../definitions';
import { deployment } from './calls';
import { now, refuse, type Patch } from './patch';

/**
 * Gates what accepted updates do since signed updates (docs/temporal.md, "Versioning"): record
 * the signature's nonce, and the `trust` update. Histories from before have neither.
 */
export const SIGNED_UPDATES = 'signed-updates';

type Input = { actor: Actor; signature?: UpdateSignature };

interface Rule<I extends Input> {
  update: UpdateDefinition<UpdateAck, [I]>;
  /** Why this update is refused now, if it is: checked by the validator, before anything is recorded. */
  refusal: (p: Patch, input: I) => Refusal | undefined;
  /** What an accepted update records. */
  action: (p: Patch, input: I) => void | Promise<void>;
}

const rule =
  <I extends Input>(r: Rule<I>) =>
  (p: Patch) =>
    register(p, r);

const invalid = (message: string): Refusal => ({ kind: 'invalid', message });
const nothingDeployed = (p: Patch): Refusal | undefined =>
  p.state.rollout ? undefined : { kind: 'conflict', message: `Nothing is being deployed in phase ${p.status.phase}` };

const RULES = [
  rule({
    update: reviewUpdate,
    refusal: (p, input) => {
      if (!VERDICTS.includes(input.verdict)) return invalid('verdict is approve or reject');
      if (input.priority !== undefined && ![1, 2, 3, 4].includes(input.priority)) return invalid('priority is 1 to 4');
      return refuseReview(p.view(), input.actor);
    },
    action: (p, input) => {
      const s = p.status;
      s.reviews.push({
        reviewer: input.actor.name,
        verdict: input.verdict,
        ...(input.priority !== undefined ? { priority: input.priority } : {}),
        comment: input.comment,
        at: now(),
        round: s.revision,
      });
      p.state.reviewers.round.push(input.actor.id);
      if (!p.state.reviewers.ever.includes(input.actor.id)) p.state.reviewers.ever.push(input.actor.id);
    },
  }),
  rule({
    update: decideUpdate,
    refusal: (p, input) =>
      typeof input.comment !== 'string' || input.comment.trim() === ''
        ? invalid('A decision needs a comment')
        : refuseDecision(p.view(), input.actor, input.decision),
    action: decide,
  }),
  rule({
    update: reviseUpdate,
    refusal: (p, input) =>
      refuseRevision(p.view(), input.actor) ??
      (p.state.pending.revision ? { kind: 'conflict', message: 'A revision is already being evaluated' } : undefined),
    action: (p, input) => {
      p.state.pending.revision = input;
    },
  }),
  rule({
    update: cancelUpdate,
    refusal: (p, input) => refuseCancel(p.view(), input.actor) ?? alreadyCancelled(p),
    action: (p, input) => cancel(p, input.actor, input.reason),
  }),
  rule({
    update: rolloutUpdate,
    refusal: (p, input) =>
      (ROLLOUT_ACTIONS.includes(input.action)
        ? refuseRolloutAction(p.view(), input.actor, input.action)
        : invalid(`action is one of ${ROLLOUT_ACTIONS.join(', ')}`)) ?? nothingDeployed(p),
    action: act,
  }),
  rule({
    update: exceptionUpdate,
    refusal: (p, input) => refuseException(p.view(), input.actor) ?? nothingDeployed(p),
    action: async (p, input) => {
      // the record labels the host `excepted` unless it is compliant or being changed
      await deployment.recordException({
        id: uuid4(),
        patchId: p.id,
        assetId: input.assetId,
        compensatingControl: input.compensatingControl,
        expiresAt: input.expiresAt,
        approvedBy: input.actor.name,
      });
      delete p.rollout.deferredUntil[input.assetId];
      p.status.exceptions.push({
        assetId: input.assetId,
        compensatingControl: input.compensatingControl,
        expiresAt: input.expiresAt,
        approvedBy: input.actor.name,
        at: now(),
      });
      p.hostChanges++;
      await p.refreshHosts();
    },
  }),
  rule({
    update: deferralUpdate,
    refusal: (p, input) =>
      refuseDeferral(p.view(), input.actor, {
        emergency: p.state.request.emergency,
        until: input.until,
        recommendedDeadline: p.status.deadlines?.recommended ?? null,
      }) ?? nothingDeployed(p),
    action: async (p, input) => {
      // the record labels the host `deferred` unless it is compliant or being changed
      await deployment.recordDeferral({
        id: uuid4(),
        patchId: p.id,
        assetId: input.assetId,
        until: input.until,
        reason: input.reason,
        requestedBy: input.actor.name,
      });
      p.rollout.deferredUntil[input.assetId] = input.until;
      p.status.deferrals.push({ assetId: input.assetId, until: input.until, reason: input.reason, by: input.actor.name, at: now() });
      p.hostChanges++;
      await p.refreshHosts();
    },
  }),
  rule({
    update: feedbackUpdate,
    refusal: (p) => refuseFeedback(p.view()) ?? nothingDeployed(p),
    action: (p, input) => {
      p.status.feedback.push({
        by: input.actor.name,
        ...(input.assetId ? { assetId: input.assetId } : {}),
        severity: input.severity,
        message: input.message,
        at: now(),
        phase: p.status.phase,
      });
    },
  }),
  rule({
    update: postmortemUpdate,
    refusal: (p, input) => refusePostmortem(p.view(), input.actor) ?? nothingDeployed(p),
    action: (p, input) => {
      p.status.postmortem = { lessonsLearned: input.lessonsLearned, actions: input.actions, by: input.actor.name, at: now() };
    },
  }),
  rule({
    update: trustUpdate,
    refusal: (p, input) => {
      // a patch from before signed updates trusts no key, so no signature could vouch for a new list
      if (p.state.trust.keys === null)
        return { kind: 'conflict', message: 'This patch was started before signed updates: it trusts no key' };
      if (!input.actor.roles.includes('admin')) return { kind: 'forbidden', message: 'Only an admin changes the keys a patch trusts' };
      const bad = refuseKeyList(input.keys);
      return bad ? invalid(bad) : undefined;
    },
    action: (p, input) => {
      if (patched(SIGNED_UPDATES)) p.state.trust.keys = [...input.keys];
    },
  }),
];

/** Registers every update of the table on this run. */
export function registerUpdates(p: Patch): void {
  for (const registerRule of RULES) registerRule(p);
}

function register<I extends Input>(p: Patch, r: Rule<I>): void {
  setHandler(
    r.update,
    async (input: I) => {
      // before the first await: a second update with the same nonce in this activation is refused
      if (patched(SIGNED_UPDATES) && p.state.trust.keys !== null && input.signature) {
        rememberNonce(p.state.trust, input.signature, Date.now());
      }
      await r.action(p, input);
      return p.ack();
    },
    {
      validator: (input: I) => {
        checkSigned(p, r.update.name, input);
        checkActor(input);
        refuse(r.refusal(p, input));
      },
    },
  );
}

/**
 * The signature first, before the actor is even looked at: by a key the patch trusts, for this
 * patch and this update, recent, and not seen before. A patch started before signed updates
 * (no keys in its request) takes unsigned updates, as it always did.
 */
function checkSigned(p: Patch, update: string, input: unknown): void {
  const trust = p.state.trust;
  if (trust.keys === null) return;
  const refusal = checkSignature(input, { patchId: p.id, update }, trust, Date.now());
  if (refusal) refuse({ kind: 'forbidden', message: refusal.message });
}

function checkActor(input: { actor?: Actor } | undefined): void {
  const actor = input?.actor;
  if (!actor || typeof actor.id !== 'string' || typeof actor.name !== 'string' || !Array.isArray(actor.roles)) {
    refuse(invalid('Every decision names its actor: {id, name, roles}'));
  }
}

function alreadyCancelled(p: Patch): Refusal | undefined {
  const cancellation = p.state.pending.cancellation;
  return cancellation ? { kind: 'conflict', message: `Already cancelled by ${cancellation.actor.name}` } : undefined;
}

async function decide(p: Patch, input: DecisionInput): Promise<void> {
  const s = p.status;
  const at = now();
  const bypass = input.bypassMaintenanceWindows;
  s.decisions.push({
    approver: input.actor.name,
    decision: input.decision,
    comment: input.comment,
    at,
    ...(bypass !== undefined ? { bypassMaintenanceWindows: bypass } : {}),
  });
  const act = { by: input.actor.name, at, comment: input.comment };
  switch (input.decision) {
    case 'approve':
      s.approval = { ...act, scopeDigest: p.evaluation.scope.digest, priority: s.priority!, bypassMaintenanceWindows: bypass ?? false };
      p.state.pending.decision = 'approve';
      break;
    case 'reject':
      p.state.pending.decision = 'reject';
      break;
    case 'hold':
      s.hold = act;
      p.setState('on-hold');
      p.tell('hold', `"${s.title}" is on hold by ${act.by}: ${act.comment}`);
      break;
    case 'resume':
      s.hold = null;
      p.setState(s.awaiting === 'lab-decision' ? 'halted' : 'waiting');
      break;
    case 'cancel':
      await cancel(p, input.actor, input.comment);
      break;
    case 'deploy-anyway':
      p.state.pending.deployAnyway = true;
      break;
  }
}

/** While hosts are being changed, a cancel stops the wave like an abort (the hosts in flight finish). */
async function cancel(p: Patch, actor: Actor, reason: string): Promise<void> {
  p.state.pending.cancellation = { actor, reason };
  p.status.cancelled = { by: actor.name, at: now(), comment: reason };
  if (p.state.rollout?.changingHosts) await p.controlWave('abort');
}

async function act(p: Patch, input: RolloutInput): Promise<void> {
  const s = p.status;
  const { action, actor, comment } = input;
  s.actions.push({ action, by: actor.name, at: now(), ...(comment ? { comment } : {}) });
  switch (action) {
    case 'pause':
      p.setState('paused');
      await p.controlWave('pause');
      break;
    case 'resume':
      if (s.state === 'halted') p.state.pending.resume = true;
      else {
        p.setState('running');
        await p.controlWave('resume');
      }
      break;
    case 'abort':
    case 'rollback':
      p.state.pending.stop = action;
      if (s.state === 'paused') p.setState('running');
      await p.controlWave('abort');
      break;
    case 'retry-stragglers':
      p.state.pending.retryStragglers = true;
      break;
  }
}

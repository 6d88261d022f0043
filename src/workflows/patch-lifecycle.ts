import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import type { Activities } from '../activities';
import { parseDuration } from '../domain/duration';
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
  scopeChanges,
  type GovernanceView,
  type Refusal,
} from '../domain/governance';
import type { Lateness, PatchStatus } from '../domain/patch-status';
import {
  initialStatus,
  type Actor,
  type CancelInput,
  type DecisionInput,
  type Outcome,
  type PatchRequest,
  type Phase,
  type ReviewInput,
  type RevisionInput,
  type State,
  type UpdateAck,
  ROLLOUT_ACTIONS,
} from '../domain/patch';
import type { NotificationEvent, Priority } from '../domain/policy';
import type { AssessmentInput, AssessmentResult } from '../services/assessment';
import {
  cancelUpdate,
  decideUpdate,
  deferralUpdate,
  exceptionUpdate,
  feedbackUpdate,
  postmortemUpdate,
  REFUSAL_TYPES,
  reviewUpdate,
  reviseUpdate,
  rolloutUpdate,
  statusQuery,
} from './definitions';
import { Rollout } from './rollout';
import { PatchAdvisories, PatchEmergency, PatchPhase, PatchPriority, PatchState } from './search-attributes';

const { assess } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumInterval: '1 minute' },
});

// A receiver that is down must never hold a patch up: a few attempts, then it is reported.
const { notify } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3 },
});

/**
 * One patch, end to end (docs/process.md). The API starts it with the operator's request and the
 * search attributes; every reader gets the status from the `status` query, and every human
 * decision arrives as an update carrying its actor, validated against the rules of
 * src/domain/governance.ts.
 *
 * Assessment → peer review (a reject goes back to the operator: revise or cancel) → approval
 * (approve, reject, hold/resume, cancel) → the rollout (src/workflows/rollout.ts): lab test,
 * pilot, production waves, verification and stragglers, monitoring, postmortem. Until production
 * starts the approved scope is evaluated again on an interval: when it changes, the approval no
 * longer holds and the patch goes back to approval.
 */
export async function patchLifecycle(request: PatchRequest): Promise<PatchStatus> {
  const status = initialStatus(request);
  setHandler(statusQuery, () => status);
  // Patches started before governance existed keep their old behaviour (replay safety).
  const governed = patched('governance-v1');

  const enterPhase = (phase: Phase) => setPhase(status, phase, governed);

  try {
    let assessment: AssessmentResult | undefined;
    // Patches started before assessment existed stay where they were (replay safety).
    if (patched('assessment-v1')) {
      assessment = await assess(assessmentInput(request));
      status.cves = assessment.cves;
      status.targets = assessment.targets;
      if (assessment.affectedAssets === 0) {
        status.priorityReasons = ['No asset in the inventory is affected by these advisories'];
        status.state = 'done';
        status.outcome = 'not-applicable';
        enterPhase('completed');
        return status;
      }
      status.priority = assessment.priority;
      status.priorityReasons = assessment.priorityReasons;
      status.deadlines = assessment.deadlines;
      upsertSearchAttributes([{ key: PatchPriority, value: assessment.priority }]);
      enterPhase('peer-review');
      status.state = 'waiting';
    }
    if (!assessment || !governed) {
      await CancellationScope.current().cancelRequested;
      return status;
    }
    return await new Governance(request, status, assessment).run();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    status.state = 'done';
    status.outcome = 'cancelled';
    if (governed) enterPhase('completed');
    return status;
  }
}

function assessmentInput(request: PatchRequest): AssessmentInput {
  return {
    patchId: request.id,
    advisoryIds: request.advisoryIds,
    emergency: request.emergency,
    strategy: request.strategy,
    settings: request.settings,
    since: request.requestedAt,
  };
}

/** The phase in the status and the search attributes; with its state once PatchState exists (governance-v1). */
function setPhase(status: PatchStatus, phase: Phase, withState: boolean): void {
  if (status.phases[status.phases.length - 1]?.phase !== phase) status.phases.push({ phase, at: now() });
  status.phase = phase;
  upsertSearchAttributes([{ key: PatchPhase, value: phase }, ...(withState ? [{ key: PatchState, value: status.state }] : [])]);
}

const now = () => new Date().toISOString();
const ms = (duration: string) => parseDuration(duration)!;

function refuse(refusal: Refusal | undefined): void {
  if (refusal) throw ApplicationFailure.create({ type: REFUSAL_TYPES[refusal.kind], message: refusal.message, nonRetryable: true });
}

function checkActor(input: { actor?: Actor } | undefined): void {
  const actor = input?.actor;
  if (!actor || typeof actor.id !== 'string' || typeof actor.name !== 'string' || !Array.isArray(actor.roles)) {
    refuse({ kind: 'invalid', message: 'Every decision names its actor: {id, name, roles}' });
  }
}

/** Peer review, approval and the approved scope, with the state the update handlers share. */
class Governance {
  private request: PatchRequest;
  private roundReviewerIds: string[] = [];
  private readonly everReviewerIds = new Set<string>();
  private pendingDecision: 'approve' | 'reject' | undefined;
  private revision:
    { actor: Actor; comment: string; advisoryIds?: string[]; emergency?: boolean; settings?: PatchRequest['settings'] } | undefined;
  private cancellation: { actor: Actor; reason: string } | undefined;
  private rollout: Rollout | undefined;

  constructor(
    request: PatchRequest,
    private readonly status: PatchStatus,
    private evaluation: AssessmentResult,
  ) {
    this.request = { ...request };
    this.registerHandlers();
  }

  async run(): Promise<PatchStatus> {
    this.watchRecommendedDeadline().catch((err) => {
      if (!isCancellation(err)) throw err; // a Temporal cancel ends the watch with the patch
    });
    for (;;) {
      if (this.cancellation) return this.close('cancelled');
      this.applyEvaluation();
      const reviewed = await this.peerReview();
      if (reviewed === 'revise') {
        if (await this.revise()) continue;
        return this.status;
      }
      if (reviewed === 'cancel') return this.close('cancelled');

      for (;;) {
        const decided = await this.approval();
        if (decided === 'cancel') return this.close('cancelled');
        if (decided === 'reject') return this.close('rejected');
        if (decided === 'revise') break;
        let changed: string[] | 'revise' | 'cancel';
        // patches approved before the rollout existed only watch their scope (replay safety)
        if (patched('rollout-v1')) {
          this.rollout = new Rollout(this.rolloutContext());
          const end = await this.rollout.run();
          if (end.end === 'closed') return this.close(end.outcome);
          changed = end.reasons;
        } else {
          changed = await this.holdApprovedScope();
        }
        if (changed === 'cancel') return this.close('cancelled');
        if (changed === 'revise') break;
        this.status.approvalInvalidated = { at: now(), reasons: changed };
        this.status.approval = null;
        this.applyEvaluation();
      }
      if (!(await this.revise())) return this.status;
    }
  }

  // ---- the phases ----

  /** Reviews of the current evaluation until enough approve, one rejects, or the operator acts. */
  private async peerReview(): Promise<'approved' | 'revise' | 'cancel'> {
    const s = this.status;
    const terms = this.evaluation.governance;
    this.roundReviewerIds = [];
    this.status.awaiting = 'reviews';
    this.setState('waiting');
    this.enterPhase('peer-review');
    this.tell('review-requested', `"${s.title}" needs ${terms.reviewersRequired} review(s)${terms.fastTrack ? ' (fast track)' : ''}`);
    const reviews = () => s.reviews.filter((r) => r.round === s.revision);
    const rejected = () => reviews().some((r) => r.verdict === 'reject');
    const approvals = () => reviews().filter((r) => r.verdict === 'approve').length;
    await this.waitForPeople(
      terms.reviewTimeout,
      'reviews',
      () => this.interrupted() || rejected() || approvals() >= terms.reviewersRequired,
    );
    if (this.cancellation) return 'cancel';
    if (this.revision) return 'revise';
    if (rejected()) {
      const reject = reviews().find((r) => r.verdict === 'reject')!;
      s.returned = { by: reject.reviewer, at: reject.at, comment: reject.comment };
      this.status.awaiting = 'revision';
      this.setState('waiting');
      await condition(() => this.interrupted());
      return this.cancellation ? 'cancel' : 'revise';
    }
    this.adoptReviewedPriority();
    return 'approved';
  }

  /** The change board's decision; a hold stops the clock until it is resumed. */
  private async approval(): Promise<'approve' | 'reject' | 'revise' | 'cancel'> {
    const terms = this.evaluation.governance;
    this.pendingDecision = undefined;
    this.status.awaiting = 'decision';
    this.setState('waiting');
    this.enterPhase('approval');
    const why = this.status.approvalInvalidated ? ` again: ${this.status.approvalInvalidated.reasons.join('; ')}` : '';
    this.tell('approval-requested', `"${this.status.title}" (priority ${this.status.priority}) needs an approval${why}`);
    await this.waitForPeople(terms.approvalTimeout, 'approval', () => this.interrupted() || this.pendingDecision !== undefined);
    this.status.awaiting = 'nothing';
    if (this.cancellation) return 'cancel';
    if (this.revision) return 'revise';
    return this.pendingDecision!;
  }

  /**
   * After approval: evaluate the scope again on an interval. A change (new targets, another
   * priority, other plan settings) means the approval no longer covers what would be done.
   */
  private async holdApprovedScope(): Promise<string[] | 'revise' | 'cancel'> {
    this.setState('running');
    this.enterPhase('testing');
    const approved = this.evaluation.scope;
    for (;;) {
      if (await condition(() => this.interrupted(), ms(this.evaluation.governance.scopeRecheckInterval))) {
        return this.cancellation ? 'cancel' : 'revise';
      }
      const fresh = await assess(assessmentInput(this.request));
      const reasons = scopeChanges(approved, fresh.scope);
      if (reasons.length > 0 || fresh.affectedAssets === 0) {
        this.evaluation = fresh;
        return reasons.length > 0 ? reasons : ['No asset is affected any more'];
      }
    }
  }

  /** Evaluates the scope again: why the approval no longer holds, [] when it still does. */
  private async recheckScope(): Promise<string[]> {
    const fresh = await assess(assessmentInput(this.request));
    const reasons = scopeChanges(this.evaluation.scope, fresh.scope);
    if (reasons.length === 0 && fresh.affectedAssets > 0) return [];
    this.evaluation = fresh;
    return reasons.length > 0 ? reasons : ['No asset is affected any more'];
  }

  private rolloutContext() {
    return {
      status: this.status,
      request: () => this.request,
      plan: () => this.evaluation.plan,
      scopeRecheckInterval: () => this.evaluation.governance.scopeRecheckInterval,
      recheckScope: () => this.recheckScope(),
      cancelled: () => this.cancellation !== undefined,
      setState: (state: State) => this.setState(state),
      enterPhase: (phase: Phase) => this.enterPhase(phase),
      tell: (event: NotificationEvent, text: string) => this.tell(event, text),
    };
  }

  /** A new evaluation of the (possibly changed) request; false when the patch closed. */
  private async revise(): Promise<boolean> {
    const s = this.status;
    const revision = this.revision!;
    this.revision = undefined;
    const previous = this.request;
    this.request = {
      ...previous,
      advisoryIds: revision.advisoryIds ?? previous.advisoryIds,
      emergency: revision.emergency ?? previous.emergency,
      settings: { ...previous.settings, ...revision.settings },
    };
    s.revision++;
    s.returned = null;
    s.approval = null;
    s.hold = null;
    this.status.awaiting = 'nothing';
    this.setState('running');
    this.enterPhase('assessment');
    let evaluation: AssessmentResult;
    try {
      evaluation = await assess(assessmentInput(this.request));
    } catch (err) {
      // e.g. an advisory that was never imported: the operator gets the patch back as it was
      this.request = previous;
      s.returned = { by: 'patchflow', at: now(), comment: `The revision could not be assessed: ${(err as Error).message}` };
      this.status.awaiting = 'revision';
      this.setState('waiting');
      this.enterPhase('peer-review');
      await condition(() => this.interrupted());
      if (this.cancellation) {
        this.close('cancelled');
        return false;
      }
      return this.revise();
    }
    this.evaluation = evaluation;
    s.advisoryIds = this.request.advisoryIds;
    s.emergency = this.request.emergency;
    s.settings = this.request.settings;
    upsertSearchAttributes([
      { key: PatchAdvisories, value: s.advisoryIds },
      { key: PatchEmergency, value: s.emergency },
    ]);
    if (evaluation.affectedAssets === 0) {
      this.applyEvaluation();
      s.priorityReasons = ['No asset in the inventory is affected by these advisories'];
      this.close('not-applicable');
      return false;
    }
    return true;
  }

  // ---- people and time ----

  /**
   * Waits until `done`; each `timeout` that passes without it sends a reminder, the second and
   * later ones an escalation. While the patch is on hold the clock stops.
   */
  private async waitForPeople(timeout: string, what: 'reviews' | 'approval', done: () => boolean): Promise<void> {
    let periods = 0;
    for (;;) {
      if (this.status.state === 'on-hold') {
        await condition(() => this.status.state !== 'on-hold' || done());
        periods = 0;
      }
      if (done()) return;
      if (await condition(() => done() || this.status.state === 'on-hold', ms(timeout))) continue;
      periods++;
      const level: Lateness['level'] = periods === 1 ? 'reminder' : 'escalation';
      const waitingFor = what === 'reviews' ? 'Reviews are' : 'The approval is';
      const message = `${waitingFor} late: no ${what === 'reviews' ? 'complete review' : 'decision'} after ${periods} × ${timeout}`;
      this.status.lateness.push({ phase: this.status.phase, level, at: now(), message });
      this.tell(level === 'reminder' ? (what === 'reviews' ? 'review-requested' : 'approval-requested') : 'escalation', message);
    }
  }

  /** One notice when the recommended deadline passes with the patch still open. */
  private async watchRecommendedDeadline(): Promise<void> {
    for (;;) {
      const deadline = this.status.deadlines?.recommended;
      if (!deadline) return;
      const left = Date.parse(deadline) - Date.now();
      const moved = await condition(
        () => this.status.state === 'done' || this.status.deadlines?.recommended !== deadline,
        Math.max(left, 1),
      );
      if (this.status.state === 'done') return;
      if (!moved) {
        this.tell('sla-at-risk', `The recommended deadline (${deadline}) has passed; the maximum is ${this.status.deadlines?.maximum}`);
        return;
      }
    }
  }

  private tell(event: NotificationEvent, text: string): void {
    notify({ event, patchId: this.status.id, title: this.status.title, text, details: { phase: this.status.phase } }).catch(
      () => undefined,
    );
  }

  private interrupted(): boolean {
    return this.cancellation !== undefined || this.revision !== undefined;
  }

  // ---- status ----

  private applyEvaluation(): void {
    const s = this.status;
    const e = this.evaluation;
    s.cves = e.cves;
    s.targets = e.targets;
    s.priority = e.priority;
    s.priorityReasons = e.priorityReasons;
    s.deadlines = e.deadlines;
    s.governance = e.governance;
    s.plan = e.plan;
    this.adoptReviewedPriority();
    upsertSearchAttributes([{ key: PatchPriority, value: s.priority }]);
  }

  /** When the approving reviewers of this evaluation agree on another priority, it applies. */
  private adoptReviewedPriority(): void {
    const s = this.status;
    const proposals = s.reviews.filter((r) => r.round === s.revision && r.verdict === 'approve' && r.priority !== undefined);
    const proposed = new Set(proposals.map((r) => r.priority));
    if (proposed.size !== 1 || proposals[0]!.priority === this.evaluation.priority) return;
    const priority = proposals[0]!.priority as Priority;
    s.priority = priority;
    s.deadlines = this.evaluation.deadlinesByPriority[priority];
    const who = proposals.map((r) => `${r.reviewer} ("${r.comment}")`).join(', ');
    s.priorityReasons = [
      ...this.evaluation.priorityReasons,
      `Changed from ${this.evaluation.priority} to ${priority} at peer review by ${who}`,
    ];
  }

  private setState(state: State): void {
    this.status.state = state;
    upsertSearchAttributes([{ key: PatchState, value: state }]);
  }

  private enterPhase(phase: Phase): void {
    setPhase(this.status, phase, true);
  }

  private close(outcome: Outcome): PatchStatus {
    this.status.outcome = outcome;
    this.status.awaiting = 'nothing';
    this.setState('done');
    this.enterPhase('completed');
    this.tell('completed', `"${this.status.title}" closed: ${outcome}`);
    return this.status;
  }

  /** What every update answers (the API reads the whole status with the query). */
  private ack(): UpdateAck {
    return { phase: this.status.phase, state: this.status.state };
  }

  private view(): GovernanceView {
    return {
      phase: this.status.phase,
      state: this.status.state,
      awaiting: this.status.awaiting,
      requesterId: this.request.requestedBy.id,
      currentReviewerIds: this.roundReviewerIds,
      allReviewerIds: [...this.everReviewerIds],
      changingHosts: this.rollout?.changingHosts ?? false,
    };
  }

  // ---- the updates ----

  private registerHandlers(): void {
    const s = this.status;
    this.registerRolloutHandlers();
    setHandler(
      reviewUpdate,
      (input) => {
        s.reviews.push({
          reviewer: input.actor.name,
          verdict: input.verdict,
          ...(input.priority !== undefined ? { priority: input.priority } : {}),
          comment: input.comment,
          at: now(),
          round: s.revision,
        });
        this.roundReviewerIds.push(input.actor.id);
        this.everReviewerIds.add(input.actor.id);
        return this.ack();
      },
      {
        validator: (input: ReviewInput) => {
          checkActor(input);
          if (input.verdict !== 'approve' && input.verdict !== 'reject')
            refuse({ kind: 'invalid', message: 'verdict is approve or reject' });
          if (input.priority !== undefined && ![1, 2, 3, 4].includes(input.priority))
            refuse({ kind: 'invalid', message: 'priority is 1 to 4' });
          refuse(refuseReview(this.view(), input.actor));
        },
      },
    );

    setHandler(
      decideUpdate,
      async (input) => {
        const at = now();
        s.decisions.push({
          approver: input.actor.name,
          decision: input.decision,
          comment: input.comment,
          at,
          ...(input.bypassMaintenanceWindows !== undefined ? { bypassMaintenanceWindows: input.bypassMaintenanceWindows } : {}),
        });
        const act = { by: input.actor.name, at, comment: input.comment };
        switch (input.decision) {
          case 'approve':
            s.approval = {
              ...act,
              scopeDigest: this.evaluation.scope.digest,
              priority: s.priority!,
              bypassMaintenanceWindows: input.bypassMaintenanceWindows ?? false,
            };
            this.pendingDecision = 'approve';
            break;
          case 'reject':
            this.pendingDecision = 'reject';
            break;
          case 'hold':
            s.hold = act;
            this.setState('on-hold');
            this.tell('hold', `"${s.title}" is on hold by ${act.by}: ${act.comment}`);
            break;
          case 'resume':
            s.hold = null;
            this.setState(s.awaiting === 'lab-decision' ? 'halted' : 'waiting');
            break;
          case 'cancel':
            await this.cancel(input.actor, input.comment);
            break;
          case 'deploy-anyway':
            this.rollout!.deployAnyway();
            break;
        }
        return this.ack();
      },
      {
        validator: (input: DecisionInput) => {
          checkActor(input);
          if (typeof input.comment !== 'string' || input.comment.trim() === '')
            refuse({ kind: 'invalid', message: 'A decision needs a comment' });
          refuse(refuseDecision(this.view(), input.actor, input.decision));
        },
      },
    );

    setHandler(
      reviseUpdate,
      (input) => {
        this.revision = input;
        return this.ack();
      },
      {
        validator: (input: RevisionInput) => {
          checkActor(input);
          refuse(refuseRevision(this.view(), input.actor));
          if (this.revision) refuse({ kind: 'conflict', message: 'A revision is already being evaluated' });
        },
      },
    );

    setHandler(
      cancelUpdate,
      async (input) => {
        await this.cancel(input.actor, input.reason);
        return this.ack();
      },
      {
        validator: (input: CancelInput) => {
          checkActor(input);
          refuse(refuseCancel(this.view(), input.actor));
          if (this.cancellation) refuse({ kind: 'conflict', message: `Already cancelled by ${this.cancellation.actor.name}` });
        },
      },
    );
  }

  /** While hosts are being changed, a cancel stops the wave like an abort (the hosts in flight finish). */
  private async cancel(actor: Actor, reason: string): Promise<void> {
    this.cancellation = { actor, reason };
    this.status.cancelled = { by: actor.name, at: now(), comment: reason };
    if (this.rollout?.changingHosts) await this.rollout.onCancel();
  }

  /** The rollout's updates: validated here against the rules, carried out by the rollout. */
  private registerRolloutHandlers(): void {
    const s = this.status;
    const handle = <I extends { actor: Actor }>(
      update: UpdateDefinition<UpdateAck, [I]>,
      check: (input: I) => Refusal | undefined,
      carryOut: (rollout: Rollout, input: I) => void | Promise<void>,
    ) =>
      setHandler(
        update,
        async (input) => {
          await carryOut(this.rollout!, input);
          return this.ack();
        },
        {
          validator: (input: I) => {
            checkActor(input);
            refuse(check(input));
            if (!this.rollout) refuse({ kind: 'conflict', message: `Nothing is being deployed in phase ${s.phase}` });
          },
        },
      );
    handle(
      rolloutUpdate,
      (input) =>
        ROLLOUT_ACTIONS.includes(input.action)
          ? refuseRolloutAction(this.view(), input.actor, input.action)
          : { kind: 'invalid', message: `action is one of ${ROLLOUT_ACTIONS.join(', ')}` },
      (rollout, input) => rollout.act(input.action, input.actor, input.comment),
    );
    handle(
      exceptionUpdate,
      (input) => refuseException(this.view(), input.actor),
      (rollout, input) => rollout.except(input),
    );
    handle(
      deferralUpdate,
      (input) =>
        refuseDeferral(this.view(), input.actor, {
          emergency: this.request.emergency,
          until: input.until,
          recommendedDeadline: s.deadlines?.recommended ?? null,
        }),
      (rollout, input) => rollout.defer(input),
    );
    handle(
      feedbackUpdate,
      () => refuseFeedback(this.view()),
      (rollout, input) => rollout.feedback(input),
    );
    handle(
      postmortemUpdate,
      (input) => refusePostmortem(this.view(), input.actor),
      (rollout, input) => rollout.postmortemWritten(input),
    );
  }
}

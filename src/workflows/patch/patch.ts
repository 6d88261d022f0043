/**
 * One run of a patch workflow around its serializable state (state.ts): the status and search
 * attributes, notifications, the waits every phase uses, and when to continue as new. The phases
 * (phases/*.ts) and the updates (updates.ts) work through it; it holds no process logic itself.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { GovernanceView, Refusal } from '../../domain/governance';
import type { Phase, State, UpdateAck } from '../../domain/patch';
import type { PatchStatus } from '../../domain/patch-status';
import type { NotificationEvent } from '../../domain/policy';
import type { AssessmentResult } from '../../services/assessment';
import { REFUSAL_TYPES, waveControlSignal } from '../definitions';
import { PatchPhase, PatchState as PatchStateAttribute } from '../search-attributes';
import { deployment, notify } from './calls';
import type { PatchState, RolloutState, Step } from './state';

/**
 * A run continues as new well before Temporal's limits (51,200 events, 50 MB): at this many
 * events, at this many bytes, or when the server suggests it.
 */
export const RUN_EVENT_LIMIT = 8_000;
export const RUN_BYTES_LIMIT = 4 * 1024 * 1024;

/** What woke a wait: its condition, its deadline, or a history long enough to continue as new. */
export type Woke = 'done' | 'timeout' | 'continue';

export const now = () => new Date().toISOString();

export class Patch {
  /** Bumped by an exception or deferral, so a waiting verification looks at the hosts again. */
  hostChanges = 0;
  /** The running wave child, for pause, resume and abort signals. */
  currentWave: string | undefined;
  /** Work of the deadline watcher in progress: a run continues as new only between two of them. */
  deadlineWork: Promise<void> | undefined;
  /** Notifications on their way: a run ends (or continues as new) once each was delivered or given up on. */
  private readonly notifications = new Set<Promise<void>>();

  constructor(readonly state: PatchState) {}

  get status(): PatchStatus {
    return this.state.status;
  }

  get id(): string {
    return this.state.status.id;
  }

  get evaluation(): AssessmentResult {
    if (!this.state.evaluation) throw new Error('The patch has not been assessed yet');
    return this.state.evaluation;
  }

  get rollout(): RolloutState {
    if (!this.state.rollout) throw new Error('The rollout has not started');
    return this.state.rollout;
  }

  get closed(): boolean {
    return this.state.step === 'closed';
  }

  // ---- status and search attributes ----

  setState(state: State): void {
    this.status.state = state;
    upsertSearchAttributes([{ key: PatchStateAttribute, value: state }]);
  }

  enterPhase(phase: Phase): void {
    const s = this.status;
    if (s.phases[s.phases.length - 1]?.phase !== phase) s.phases.push({ phase, at: now() });
    s.phase = phase;
    upsertSearchAttributes([
      { key: PatchPhase, value: phase },
      { key: PatchStateAttribute, value: s.state },
    ]);
  }

  /** Closes the patch with its outcome and tells the subscribers. */
  close(outcome: PatchStatus['outcome'] & string): Step {
    this.status.outcome = outcome;
    this.status.awaiting = 'nothing';
    this.setState('done');
    this.enterPhase('completed');
    this.tell('completed', `"${this.status.title}" closed: ${outcome}`);
    return 'closed';
  }

  /**
   * A notification; a receiver that is down never holds the patch up. Its delivery report is
   * recorded in the history as the activity's result.
   */
  tell(event: NotificationEvent, text: string): void {
    const sent: Promise<void> = notify({ event, patchId: this.id, title: this.status.title, text, details: { phase: this.status.phase } })
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.notifications.delete(sent);
      });
    this.notifications.add(sent);
  }

  /** Nothing is in flight that a run must finish first: updates being handled, the deadline watcher's work, notifications. */
  settled(): boolean {
    return allHandlersFinished() && this.deadlineWork === undefined && this.notifications.size === 0;
  }

  async refreshHosts(): Promise<void> {
    this.status.hosts = await deployment.hostCounts(this.id);
  }

  // ---- people's decisions ----

  /** Where a cancel, a revision or an operator's stop takes the patch from here; undefined when none is pending. */
  interruption(): 'stopped' | 'cancelled' | 'revise' | undefined {
    const { pending, rollout } = this.state;
    if (rollout?.changingHosts) return pending.stop || pending.cancellation ? 'stopped' : undefined;
    if (pending.cancellation) return 'cancelled';
    if (pending.revision) return 'revise';
    return undefined;
  }

  interrupted(): boolean {
    return this.interruption() !== undefined;
  }

  /** What every update answers (the API reads the whole status with the query). */
  ack(): UpdateAck {
    return { phase: this.status.phase, state: this.status.state };
  }

  /** The patch as the rules of src/domain/governance.ts see it. */
  view(): GovernanceView {
    return {
      phase: this.status.phase,
      state: this.status.state,
      awaiting: this.status.awaiting,
      requesterId: this.state.request.requestedBy.id,
      currentReviewerIds: this.state.reviewers.round,
      allReviewerIds: this.state.reviewers.ever,
      changingHosts: this.state.rollout?.changingHosts ?? false,
    };
  }

  async controlWave(control: 'pause' | 'resume' | 'abort'): Promise<void> {
    if (!this.currentWave) return;
    try {
      await getExternalWorkflowHandle(this.currentWave).signal(waveControlSignal, control);
    } catch {
      // the wave has just finished; the next one starts with the rollout's state
    }
  }

  // ---- time ----

  /**
   * Waits until `done()`, or until `until` (ms since the epoch) when given. Wakes early when the
   * history has grown enough to continue as new: the step then returns itself, and the next run
   * enters it again from the state.
   */
  async wait(done: () => boolean, until?: number): Promise<Woke> {
    const woke = () => done() || this.shouldContinueAsNew();
    if (until === undefined) await condition(woke);
    else await condition(woke, Math.max(until - Date.now(), 1));
    if (done()) return 'done';
    return this.shouldContinueAsNew() ? 'continue' : 'timeout';
  }

  shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= RUN_EVENT_LIMIT || info.historySize >= RUN_BYTES_LIMIT;
  }
}

/** Refuses an update: a non-retryable failure the API maps to 403, 409 or 400. */
export function refuse(refusal: Refusal | undefined): void {
  if (refusal) throw ApplicationFailure.create({ type: REFUSAL_TYPES[refusal.kind], message: refusal.message, nonRetryable: true });
}

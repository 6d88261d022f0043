/**
 * One patch, end to end (docs/process.md): a state machine over one serializable PatchState
 * (state.ts). Each step (phases/*.ts) acts or waits and names the next one: assessment → peer
 * review (a reject goes back to the operator: revise or cancel) → approval → lab test → pilot →
 * production waves → verification and stragglers → monitoring → postmortem. Human decisions
 * arrive as updates (updates.ts); every reader gets the status from the `status` query. The
 * deadlines run beside the steps as durable timers (phases/deadlines.ts).
 *
 * When its history grows long the workflow continues as new between two steps, or in the middle
 * of a wait, carrying the whole state over; the next run enters the same step again.
 */
import { CancellationScope, condition, continueAsNew, isCancellation, setHandler } from '@temporalio/workflow';
import { initialStatus, type PatchRequest } from '../../domain/patch';
import type { PatchStatus } from '../../domain/patch-status';
import { outageSignal, statusQuery } from '../definitions';
import { Patch } from './patch';
import { approval, decision } from './phases/approval';
import { assessment, revise, scopeCheck } from './phases/assessment';
import { bake } from './phases/bake';
import { cancelled, monitoring, postmortem, postmortemWait, stopped } from './phases/closing';
import { watchDeadlines } from './phases/deadlines';
import { lab, labDecision, labTests } from './phases/lab';
import { pilot, pilotBake } from './phases/pilot';
import { production, productionBake } from './phases/production';
import { returned, review, reviews } from './phases/review';
import { stragglers, verification, verifyAgain } from './phases/verification';
import { halted, wave } from './phases/wave';
import { carriedState, initialState, type PatchState, type Step } from './state';
import { registerUpdates } from './updates';

const STEP_HANDLERS: Record<Exclude<Step, 'closed'>, (p: Patch) => Promise<Step>> = {
  assessment,
  review,
  reviews,
  returned,
  revise,
  approval,
  decision,
  lab,
  'lab-tests': labTests,
  'lab-decision': labDecision,
  'scope-check': scopeCheck,
  pilot,
  'pilot-bake': pilotBake,
  production,
  'production-bake': productionBake,
  wave,
  halted,
  bake,
  verification,
  stragglers,
  'verify-again': verifyAgain,
  monitoring,
  postmortem,
  'postmortem-wait': postmortemWait,
  stopped,
  cancelled,
};

/** The steps that handle a cancel, a revision or a stop themselves (or are what one leads to). */
const HANDLES_INTERRUPTIONS: ReadonlySet<Step> = new Set<Step>([
  'assessment',
  'revise',
  'stopped',
  'cancelled',
  'postmortem',
  'postmortem-wait',
]);

/**
 * The patch workflow. The API starts it with the operator's request; a run that continues as
 * new passes the same request and the state it reached.
 */
export async function patchLifecycle(request: PatchRequest, carried?: PatchState): Promise<PatchStatus> {
  const state = carried ? carriedState(request, carried) : initialState(request, initialStatus(request));
  const p = new Patch(state);
  setHandler(statusQuery, () => state.status);
  setHandler(outageSignal, ({ waiting, reason }) => {
    state.status.waitingForInfrastructure = waiting ? { since: new Date().toISOString(), reason } : null;
  });
  registerUpdates(p);
  const deadlines = watchDeadlines(p).catch((err) => {
    if (!isCancellation(err)) throw err; // a Temporal cancel ends the watch with the patch
  });
  try {
    for (;;) {
      const step = state.step;
      if (step === 'closed') break;
      if (p.shouldContinueAsNew()) {
        // nothing in flight is lost: updates being handled, the deadline's activities and notifications finish first
        await condition(() => p.settled());
        await continueAsNew<typeof patchLifecycle>(request, state);
      }
      const interruption = HANDLES_INTERRUPTIONS.has(step) ? undefined : p.interruption();
      state.step = await STEP_HANDLERS[interruption ?? step](p);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // a Temporal cancel request (not the audited `cancel` update) names no patchflow user
    state.status.state = 'done';
    state.status.outcome = 'cancelled';
    p.enterPhase('completed');
    state.step = 'closed';
  }
  // after a Temporal cancel the root scope is cancelled: these last waits must not be
  await CancellationScope.nonCancellable(async () => {
    await deadlines;
    await condition(() => p.settled());
  });
  return state.status;
}

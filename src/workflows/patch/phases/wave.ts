/**
 * A batch of hosts as a child workflow (`hostWave`, src/workflows/host-wave.ts), and the halt
 * that follows a spent failure budget: the operator resumes, aborts or rolls back.
 */
import { startChild } from '@temporalio/workflow';
import { failureBudget, type WaveSelector } from '../../../domain/deployment';
import { hostWave, type WaveInput, type WaveResult } from '../../host-wave';
import { now, type Patch } from '../patch';
import type { Step } from '../state';
import { maximumPassed } from './deadlines';

/** Orders a wave of `selector`'s hosts; `then` is the step after it. */
export function startWave(p: Patch, selector: WaveSelector, maxFailures: number | string | null, then: Step, size = 0): Step {
  const r = p.rollout;
  let statusIndex: number | null = null;
  if (!selector.stragglersOnly) {
    statusIndex = p.status.waves.length;
    p.status.waves.push({ index: selector.wave ?? 0, ring: selector.ring, assets: [], status: 'running', counts: {} });
  }
  r.wave = { selector, budget: maxFailures === null ? null : failureBudget(maxFailures, size), statusIndex, then };
  return 'wave';
}

/** Runs the ordered wave as one child; a paused rollout starts none until it is resumed. */
export async function wave(p: Patch): Promise<Step> {
  const r = p.rollout;
  const order = r.wave!;
  const paused = () => p.status.state === 'paused';
  if (paused()) {
    await p.wait(() => !paused() || p.interrupted());
    return 'wave';
  }
  const plan = p.evaluation.plan;
  const input: WaveInput = {
    selector: order.selector,
    attempt: r.attempt,
    maxConcurrent: plan.maxConcurrent,
    maxPerGroup: plan.maxPerGroupPerWave,
    budget: order.budget,
    bypassWindows: p.status.approval?.bypassMaintenanceWindows ?? false,
  };
  r.waveRuns++;
  const { selector } = order;
  const name = selector.stragglersOnly ? `stragglers-${r.attempt}` : `${selector.ring}${selector.wave === null ? '' : `-${selector.wave}`}`;
  const workflowId = `${p.status.workflowId}-${name}-${r.waveRuns}`;
  const child = await startChild(hostWave, { workflowId, args: [input] });
  p.currentWave = workflowId;
  if (paused()) await p.controlWave('pause');
  const result: WaveResult = await child.result();
  p.currentWave = undefined;
  const entry = order.statusIndex === null ? undefined : p.status.waves[order.statusIndex];
  if (entry) {
    for (const [k, v] of Object.entries(result.counts)) entry.counts[k] = (entry.counts[k] ?? 0) + v;
    entry.status = result.status;
  }
  await p.refreshHosts();
  if (result.status === 'done') {
    r.wave = null;
    return order.then;
  }
  const interruption = p.interruption();
  if (interruption) return interruption;
  if (result.status === 'aborted' && selector.stragglersOnly && maximumPassed(p)) {
    // stopped at the maximum deadline: the stragglers are retried no more
    r.wave = null;
    return order.then;
  }
  if (entry) entry.status = 'running';
  return halt(p, result.reason ?? 'the failure budget is spent', 'wave', false);
}

/** Stops the rollout for an operator: resume goes on at `resumeTo`, abort or rollback stop. */
export function halt(p: Patch, reason: string, resumeTo: Step, answersFeedback: boolean): Step {
  const s = p.status;
  s.halt = { phase: s.phase, reason, at: now(), decidedBy: 'operator' };
  s.awaiting = 'operator';
  p.state.pending.resume = false;
  p.rollout.resumeTo = { step: resumeTo, answersFeedback };
  p.setState('halted');
  p.tell('rollout-halted', `"${s.title}" halted in ${s.phase}: ${reason}`);
  return 'halted';
}

export async function halted(p: Patch): Promise<Step> {
  const { pending } = p.state;
  if ((await p.wait(() => pending.resume === true || p.interrupted())) === 'continue') return 'halted';
  const s = p.status;
  const r = p.rollout;
  s.halt = null;
  s.awaiting = 'nothing';
  const interruption = p.interruption();
  if (interruption) return interruption;
  pending.resume = false;
  p.setState('running');
  const resumeTo = r.resumeTo!;
  r.resumeTo = null;
  // the feedback that halted it has been answered by the resume
  if (resumeTo.answersFeedback) r.feedbackFrom = s.feedback.length;
  return resumeTo.step;
}

/**
 * Bake times (the pilot's, between production waves, monitoring): time passes while people
 * report feedback. Feedback above the threshold halts for an operator; the pilot's bake also
 * evaluates the scope again on its interval.
 */
import { parseDuration } from '../../../domain/duration';
import type { Patch } from '../patch';
import type { Step } from '../state';
import { recheckScope, scopeChanged } from './assessment';
import { halt } from './wave';

const ms = (duration: string) => parseDuration(duration)!;
const later = (duration: string) => new Date(Date.now() + ms(duration)).toISOString();

export function startBake(p: Patch, duration: string, recheck: boolean, then: Step): Step {
  p.rollout.bake = { until: later(duration), nextRecheckAt: recheck ? later(p.evaluation.governance.scopeRecheckInterval) : null, then };
  return 'bake';
}

export async function bake(p: Patch): Promise<Step> {
  const bakeOrder = p.rollout.bake!;
  const problem = feedbackProblem(p);
  if (problem) return halt(p, problem, 'bake', true);
  const until = Date.parse(bakeOrder.until);
  if (Date.now() >= until) {
    p.rollout.bake = null;
    return bakeOrder.then;
  }
  const recheckAt = bakeOrder.nextRecheckAt === null ? Infinity : Date.parse(bakeOrder.nextRecheckAt);
  const woke = await p.wait(() => feedbackProblem(p) !== undefined || p.interrupted(), Math.min(until, recheckAt));
  if (woke !== 'timeout') return p.interruption() ?? 'bake';
  if (Date.now() >= recheckAt && Date.now() < until) {
    const reasons = await recheckScope(p);
    if (reasons.length > 0) {
      p.rollout.bake = null;
      return scopeChanged(p, reasons);
    }
    bakeOrder.nextRecheckAt = later(p.evaluation.governance.scopeRecheckInterval);
  }
  return 'bake';
}

/** One high-severity report, or `feedbackThreshold` low ones, since the phase began or the last resume. */
export function feedbackProblem(p: Patch): string | undefined {
  const recent = p.status.feedback.slice(p.rollout.feedbackFrom);
  const high = recent.find((f) => f.severity === 'high');
  if (high) return `High-severity feedback from ${high.by}: ${high.message}`;
  const threshold = p.rollout.plan.feedbackThreshold;
  if (recent.length >= threshold) return `${recent.length} low-severity feedback reports (threshold ${threshold})`;
  return undefined;
}

/**
 * The end of a patch (docs/process.md, steps 9–11): the monitoring window, the postmortem, and
 * what an abort, a rollback or a cancel leads to.
 */
import { executeChild } from '@temporalio/workflow';
import { rollbackHosts } from '../../rollback-hosts';
import { deployment } from '../calls';
import { now, type Patch } from '../patch';
import type { Step } from '../state';
import { startBake } from './bake';

export function monitoring(p: Patch): Promise<Step> {
  p.enterPhase('monitoring');
  p.rollout.feedbackFrom = p.status.feedback.length;
  p.rollout.outcome = 'completed';
  return Promise.resolve(startBake(p, p.evaluation.plan.monitoringWindow, false, 'postmortem'));
}

/** The deployment is over: the report is ready, the operator adds lessons learned. */
export async function postmortem(p: Patch): Promise<Step> {
  const s = p.status;
  const r = p.rollout;
  r.changingHosts = false;
  s.deployment.finishedAt = now();
  await deployment.finishDeployment({ patchId: p.id, outcome: r.outcome });
  await p.refreshHosts();
  p.enterPhase('postmortem');
  s.awaiting = 'postmortem';
  p.setState('waiting');
  return 'postmortem-wait';
}

/** Waits for the lessons learned; a cancel now closes the patch with the deployment's outcome, without them. */
export async function postmortemWait(p: Patch): Promise<Step> {
  const woke = await p.wait(() => p.status.postmortem !== null || p.state.pending.cancellation !== undefined);
  if (woke === 'continue') return 'postmortem-wait';
  p.status.awaiting = 'nothing';
  return p.close(p.rollout.outcome);
}

/** After an abort, a rollback or a cancel while hosts were changed: the hosts in flight have finished. */
export async function stopped(p: Patch): Promise<Step> {
  const r = p.rollout;
  if (p.state.pending.cancellation) {
    r.changingHosts = false;
    p.status.deployment.finishedAt = now();
    await deployment.finishDeployment({ patchId: p.id, outcome: 'cancelled' });
    await p.refreshHosts();
    return p.close('cancelled');
  }
  if (p.state.pending.stop === 'abort') {
    r.outcome = 'aborted';
    return 'postmortem';
  }
  p.setState('running');
  await executeChild(rollbackHosts, {
    workflowId: `${p.status.workflowId}-rollback`,
    args: [{ patchId: p.id, maxConcurrent: p.evaluation.plan.maxConcurrent }],
  });
  r.outcome = 'rolled-back';
  return 'postmortem';
}

/** A cancel before any host was changed. */
export function cancelled(p: Patch): Promise<Step> {
  return Promise.resolve(p.close('cancelled'));
}

/** The pilot (docs/process.md, step 5): the pilot hosts, then the pilot bake time, with the scope evaluated again while it bakes. */
import type { Patch } from '../patch';
import type { Step } from '../state';
import { startBake } from './bake';
import { startWave } from './wave';

export function pilot(p: Patch): Promise<Step> {
  const r = p.rollout;
  p.enterPhase('pilot');
  r.feedbackFrom = p.status.feedback.length;
  return Promise.resolve(
    startWave(p, { patchId: p.id, ring: 'pilot', wave: null }, p.evaluation.plan.maxFailures, 'pilot-bake', r.plan.pilot),
  );
}

export function pilotBake(p: Patch): Promise<Step> {
  return Promise.resolve(startBake(p, p.evaluation.plan.pilotBakeTime, true, 'production'));
}

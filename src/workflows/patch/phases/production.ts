/** The production waves (docs/process.md, step 6), one child each, with the bake time between two waves. */
import type { Patch } from '../patch';
import type { Step } from '../state';
import { startBake } from './bake';
import { startWave } from './wave';

export function production(p: Patch): Promise<Step> {
  const r = p.rollout;
  const next = r.plan.waves[r.productionWave];
  if (!next) return Promise.resolve('verification');
  p.enterPhase('rollout');
  const selector = { patchId: p.id, ring: 'production' as const, wave: next.index };
  return Promise.resolve(startWave(p, selector, p.evaluation.plan.maxFailures, 'production-bake', next.size));
}

/** After a wave: the bake time, unless it was the last one. */
export function productionBake(p: Patch): Promise<Step> {
  const r = p.rollout;
  r.productionWave++;
  if (r.productionWave >= r.plan.waves.length) return Promise.resolve('production');
  return Promise.resolve(startBake(p, p.evaluation.plan.bakeTime, false, 'production'));
}

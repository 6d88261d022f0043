/**
 * Verification and stragglers (docs/process.md, step 8): every host checked again independently
 * of the pipeline's records, then the hosts still owed the patch retried on the interval (or at
 * once on `retry-stragglers`) until none is left or the maximum deadline passes. A deferral that
 * ends and an exception that expires before the maximum deadline put their host back among the
 * stragglers; the patch waits for them.
 */
import { parseDuration } from '../../../domain/duration';
import type { HostCheck, HostStatus } from '../../../domain/deployment';
import { connectorFor, failedCall, pastOutages } from '../../host-pipeline';
import { deployment } from '../calls';
import type { Patch } from '../patch';
import type { Step } from '../state';
import { maximumPassed } from './deadlines';
import { startWave } from './wave';

export async function verification(p: Patch): Promise<Step> {
  p.enterPhase('verification');
  return verifyAgain(p);
}

/** The independent recheck, then the next straggler retry is due after the interval. */
export async function verifyAgain(p: Patch): Promise<Step> {
  await verify(p);
  p.rollout.nextRetryAt = new Date(Date.now() + parseDuration(p.evaluation.plan.stragglerRetryInterval)!).toISOString();
  return 'stragglers';
}

export async function stragglers(p: Patch): Promise<Step> {
  const s = p.status;
  const r = p.rollout;
  await endDeferrals(p);
  s.stragglers = await deployment.stragglers(p.id);
  await p.refreshHosts();
  const deferrals = Object.values(r.deferredUntil).map((until) => Date.parse(until));
  const maximum = Date.parse(s.deadlines!.maximum);
  // an exception that runs out before the maximum deadline leaves its host owed the patch
  const expiries = s.exceptions.map((e) => Date.parse(e.expiresAt)).filter((at) => at > Date.now() && at < maximum);
  if (maximumPassed(p) || (s.stragglers.length === 0 && deferrals.length === 0 && expiries.length === 0)) return 'monitoring';
  if (s.stragglers.length > 0 && (p.state.pending.retryStragglers || Date.now() >= Date.parse(r.nextRetryAt!))) {
    p.state.pending.retryStragglers = false;
    r.attempt++;
    return startWave(p, { patchId: p.id, ring: 'production', wave: null, stragglersOnly: true }, null, 'verify-again');
  }
  const retry = s.stragglers.length > 0 ? Date.parse(r.nextRetryAt!) : Infinity;
  const changes = p.hostChanges;
  // the maximum deadline wakes it through the deadline watcher, once the breaches are recorded
  const wake = Math.min(retry, ...deferrals, ...expiries);
  await p.wait(
    () => p.state.pending.retryStragglers === true || p.hostChanges !== changes || maximumPassed(p) || p.interrupted(),
    wake === Infinity ? undefined : wake,
  );
  return 'stragglers';
}

/** Verification activities; agent hosts are inspected on their own queues. */
async function verify(p: Patch): Promise<void> {
  const checked = await deployment.verifyHosts({ patchId: p.id, advisoryIds: p.status.advisoryIds });
  for (const work of checked.agentHosts) {
    let check: HostCheck;
    try {
      check = await pastOutages(() => connectorFor({ assetId: work.assetId, connector: 'agent' }).inspectHost(work));
    } catch (err) {
      const failed = failedCall(err, 'verification');
      await deployment.markHost({ patchId: p.id, assetId: work.assetId, status: failed.status as HostStatus, reason: failed.reason! });
      continue;
    }
    if (!check.compliant) {
      const reason = `verification: ${check.reason ?? 'still affected'}`;
      await deployment.markHost({ patchId: p.id, assetId: work.assetId, status: 'failed', reason });
    }
  }
}

/** A deferral that has ended puts its host back among the stragglers. */
async function endDeferrals(p: Patch): Promise<void> {
  const r = p.rollout;
  for (const [assetId, until] of Object.entries(r.deferredUntil)) {
    if (Date.parse(until) > Date.now()) continue;
    delete r.deferredUntil[assetId];
    await deployment.markHost({ patchId: p.id, assetId, status: 'pending', reason: `the deferral ended at ${until}` });
  }
}

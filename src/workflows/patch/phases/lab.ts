/**
 * The lab test (docs/process.md, step 4): the lab hosts get the patch, each role's test plan runs,
 * and the rollback is proven on one of them. A failure waits for an approver (deploy-anyway,
 * hold or cancel) while the scope is evaluated again on its interval.
 */
import { parseDuration } from '../../../domain/duration';
import { COMPLIANT, type DeploymentPlan, type HostWork, type TestCheck, type WaveHost } from '../../../domain/deployment';
import type { LabReport } from '../../../domain/patch-status';
import { connectorFor, failedCall, pastOutages, rollbackHost, runPipeline } from '../../host-pipeline';
import { deployment } from '../calls';
import { now, type Patch } from '../patch';
import type { Step } from '../state';
import { recheckScope, scopeChanged } from './assessment';
import { startWave } from './wave';

const later = (duration: string) => new Date(Date.now() + parseDuration(duration)!).toISOString();

/** Records the deployment's plan (again, after a re-approval) and deploys the lab hosts. */
export async function lab(p: Patch): Promise<Step> {
  const s = p.status;
  const { pending } = p.state;
  pending.stop = undefined;
  pending.resume = undefined;
  pending.retryStragglers = undefined;
  pending.deployAnyway = undefined;
  p.setState('running');
  p.enterPhase('testing');
  const plan = await deployment.startDeployment({
    patchId: p.id,
    title: s.title,
    priority: s.priority!,
    emergency: p.state.request.emergency,
    openedAt: s.requestedAt,
    deadlines: s.deadlines!,
    plan: p.evaluation.plan,
  });
  const earlier = p.state.rollout;
  p.state.rollout = {
    plan,
    changingHosts: true,
    waveRuns: earlier?.waveRuns ?? 0,
    attempt: 1,
    feedbackFrom: s.feedback.length,
    productionWave: 0,
    wave: null,
    bake: null,
    resumeTo: null,
    nextRetryAt: null,
    nextRecheckAt: null,
    deferredUntil: earlier?.deferredUntil ?? {},
    outcome: 'completed',
  };
  s.deployment.startedAt ??= now();
  await p.refreshHosts();
  return startWave(p, { patchId: p.id, ring: 'lab', wave: null }, null, 'lab-tests');
}

export async function labTests(p: Patch): Promise<Step> {
  const s = p.status;
  s.lab = await testLab(p, p.rollout.plan);
  if (s.lab.failures.length === 0) return 'scope-check';
  s.halt = { phase: 'testing', reason: s.lab.failures.join('; '), at: now(), decidedBy: 'approver' };
  s.awaiting = 'lab-decision';
  p.setState('halted');
  p.tell('rollout-halted', `"${s.title}" needs an approver after the lab: ${s.halt.reason}`);
  p.rollout.nextRecheckAt = later(p.evaluation.governance.scopeRecheckInterval);
  return 'lab-decision';
}

/** Waits for the approver; the approval must still hold meanwhile (no recheck while on hold). */
export async function labDecision(p: Patch): Promise<Step> {
  const s = p.status;
  const r = p.rollout;
  const decided = () => p.state.pending.deployAnyway === true || p.interrupted();
  const woke = await p.wait(decided, Date.parse(r.nextRecheckAt!));
  if (woke === 'continue') return 'lab-decision';
  if (woke === 'timeout') {
    r.nextRecheckAt = later(p.evaluation.governance.scopeRecheckInterval);
    if (s.hold) return 'lab-decision';
    const reasons = await recheckScope(p);
    if (reasons.length === 0) return 'lab-decision';
    s.halt = null;
    s.awaiting = 'nothing';
    return scopeChanged(p, reasons);
  }
  s.halt = null;
  s.awaiting = 'nothing';
  const interruption = p.interruption();
  if (interruption) return interruption;
  p.setState('running');
  return 'scope-check';
}

/** The role test plans on every lab host, then the rollback proof on one changed lab host. */
async function testLab(p: Patch, plan: DeploymentPlan): Promise<LabReport> {
  const hosts = await deployment.waveHosts({ patchId: p.id, ring: 'lab', wave: null, after: -1, limit: 1000, bypassWindows: true });
  const failures: string[] = [];
  if (plan.lab === 0) failures.push('No lab host is affected by this patch: nothing was tested');
  for (const role of plan.uncoveredRoles) failures.push(`No lab host covers the role ${role}`);
  const work = (h: WaveHost): HostWork => ({ patchId: p.id, assetId: h.assetId, attempt: 1, packages: h.packages });
  const tests: LabReport['tests'] = [];
  for (const host of hosts) {
    if (!COMPLIANT.includes(host.status)) {
      failures.push(`Lab host ${host.assetId} ended ${host.status}`);
      continue;
    }
    let checks: TestCheck[];
    try {
      checks = await pastOutages(() => connectorFor(host).testHost({ ...work(host), role: host.role }));
    } catch (err) {
      checks = [{ check: 'test plan', ok: false, detail: failedCall(err, 'test').reason! }];
    }
    tests.push({ assetId: host.assetId, role: host.role, checks });
    for (const c of checks.filter((c) => !c.ok)) failures.push(`Lab host ${host.assetId}: ${c.check} failed (${c.detail})`);
  }
  const rollbackProof = await proveRollback(p);
  if (rollbackProof && !rollbackProof.ok) failures.push(`The rollback proof on ${rollbackProof.assetId} failed: ${rollbackProof.detail}`);
  if (!rollbackProof && plan.lab > 0) failures.push('Rollback could not be proven: no lab host was changed');
  await p.refreshHosts();
  return { tests, rollbackProof, uncoveredRoles: plan.uncoveredRoles, failures };
}

/** Undoes the patch on one changed lab host, then installs it again; null when no lab host was changed. */
async function proveRollback(p: Patch): Promise<LabReport['rollbackProof']> {
  // only lab hosts have been changed so far; the record carries the versions to go back to
  const [host] = await deployment.changedHosts({ patchId: p.id, limit: 1 });
  if (!host) return null;
  const rolledBack = await rollbackHost(host, host);
  const back = rolledBack.status === 'rolled-back' ? await runPipeline(host, { ...host, attempt: host.attempt + 1 }) : rolledBack.status;
  const ok = rolledBack.status === 'rolled-back' && back === 'installed';
  const detail = ok
    ? 'rolled back to the previous versions, then installed again'
    : `rollback ${rolledBack.status}${rolledBack.reason ? ` (${rolledBack.reason})` : ''}, reinstall ${back}`;
  return { assetId: host.assetId, ok, detail };
}

/**
 * From the approval to the postmortem (docs/process.md, steps 4–11), as part of the patch workflow:
 * lab test, pilot, production waves (one child workflow each), verification, stragglers,
 * monitoring and the postmortem. The governance part of the workflow owns the update handlers;
 * it hands the rollout's updates to this class.
 */
import {
  condition,
  executeChild,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeploymentActivities } from '../activities/deployment-contract';
import {
  COMPLIANT,
  failureBudget,
  type DeploymentPlan,
  type HostCheck,
  type HostStatus,
  type HostWork,
  type TestCheck,
  type WaveHost,
  type WaveSelector,
} from '../domain/deployment';
import { parseDuration } from '../domain/duration';
import type { NotificationEvent } from '../domain/policy';
import type { LabReport, PatchStatus, RolloutPlanSettings } from '../domain/patch-status';
import type {
  Actor,
  DeferralInput,
  ExceptionInput,
  FeedbackInput,
  Outcome,
  PatchRequest,
  Phase,
  PostmortemInput,
  RolloutAction,
  State,
} from '../domain/patch';
import { waveControlSignal } from './definitions';
import { connectorFor, failedCall, hostCall, hostWave, rollbackHosts, runPipeline, type WaveInput, type WaveResult } from './host-wave';

const deployment = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumInterval: '30 seconds' },
});

const now = () => new Date().toISOString();
const ms = (duration: string) => parseDuration(duration)!;
/** How often runs started before `host-counts-from-database` refreshed the host counts while a wave ran. */
const COUNTS_REFRESH = '10 seconds';

/** What the rollout needs from the rest of the patch workflow. */
export interface RolloutContext {
  status: PatchStatus;
  request: () => PatchRequest;
  plan: () => RolloutPlanSettings;
  scopeRecheckInterval: () => string;
  /** Evaluates the scope again: the reasons the approval no longer holds, [] when it does. */
  recheckScope: () => Promise<string[]>;
  cancelled: () => boolean;
  setState: (state: State) => void;
  enterPhase: (phase: Phase) => void;
  tell: (event: NotificationEvent, text: string) => void;
}

/** How the rollout ended: the patch closes with an outcome, or its approval no longer holds. */
export type RolloutEnd = { end: 'closed'; outcome: Outcome } | { end: 'scope-changed'; reasons: string[] };

/** Thrown inside the rollout when an operator's abort or rollback, or a cancel, stops it. */
class Stopped extends Error {}

export class Rollout {
  /** Hosts are being changed (from the lab to the postmortem): revisions are refused, a cancel stops like an abort. */
  changingHosts = true;
  private stop: 'abort' | 'rollback' | undefined;
  private resumeRequested = false;
  private retryRequested = false;
  private labDecision: 'deploy-anyway' | undefined;
  private currentWave: string | undefined;
  private waveRuns = 0;
  private feedbackFrom = 0;
  private hostChanges = 0;
  private attempt = 1;
  private deploymentPlan: DeploymentPlan | undefined;
  /** Deferrals still waiting to end, by asset. */
  private readonly deferredUntil = new Map<string, string>();

  constructor(private readonly ctx: RolloutContext) {}

  private get status() {
    return this.ctx.status;
  }

  private get patchId() {
    return this.status.id;
  }

  async run(): Promise<RolloutEnd> {
    try {
      const changedDuringLab = await this.testing();
      const reasons = changedDuringLab.length > 0 ? changedDuringLab : await this.ctx.recheckScope();
      const scopeChanged = reasons.length > 0 ? reasons : await this.pilot();
      if (scopeChanged.length > 0) {
        this.changingHosts = false;
        return { end: 'scope-changed', reasons: scopeChanged };
      }
      await this.production();
      await this.verification();
      await this.monitoring();
      return await this.postmortem('completed');
    } catch (err) {
      if (!(err instanceof Stopped)) throw err;
      return this.stopped();
    }
  }

  // ---- the phases ----

  /**
   * Lab deploy, the role test plans, the rollback proof; a failure waits for an approver, while
   * the scope is evaluated again on its interval (the reasons when it changed).
   */
  private async testing(): Promise<string[]> {
    const s = this.status;
    const request = this.ctx.request();
    this.ctx.setState('running');
    this.ctx.enterPhase('testing');
    this.deploymentPlan = await deployment.startDeployment({
      patchId: this.patchId,
      title: s.title,
      priority: s.priority!,
      emergency: request.emergency,
      openedAt: s.requestedAt,
      deadlines: s.deadlines!,
      plan: this.ctx.plan(),
    });
    s.deployment.startedAt ??= now();
    this.changingHosts = true;
    await this.refreshHosts();

    await this.runWave({ patchId: this.patchId, ring: 'lab', wave: null }, null);
    s.lab = await this.labTests(this.deploymentPlan);
    if (s.lab.failures.length === 0) return [];

    s.halt = { phase: 'testing', reason: s.lab.failures.join('; '), at: now(), decidedBy: 'approver' };
    s.awaiting = 'lab-decision';
    this.ctx.setState('halted');
    this.ctx.tell('rollout-halted', `"${s.title}" needs an approver after the lab: ${s.halt.reason}`);
    const decided = () => this.labDecision !== undefined || this.interrupted();
    let scopeChanged: string[] = [];
    // the approval must still hold while the approver decides (histories recorded before waited without a recheck)
    if (patched('lab-decision-scope-recheck')) {
      while (!decided() && scopeChanged.length === 0) {
        if (!(await condition(decided, ms(this.ctx.scopeRecheckInterval()))) && !s.hold) scopeChanged = await this.ctx.recheckScope();
      }
    } else {
      await condition(decided);
    }
    s.halt = null;
    s.awaiting = 'nothing';
    this.checkStop();
    if (scopeChanged.length === 0) this.ctx.setState('running');
    return scopeChanged;
  }

  private async labTests(plan: DeploymentPlan): Promise<LabReport> {
    const hosts = await deployment.waveHosts({
      patchId: this.patchId,
      ring: 'lab',
      wave: null,
      after: -1,
      limit: 1000,
      bypassWindows: true,
    });
    const failures: string[] = [];
    if (plan.lab === 0) failures.push('No lab host is affected by this patch: nothing was tested');
    for (const role of plan.uncoveredRoles) failures.push(`No lab host covers the role ${role}`);
    const work = (h: WaveHost, attempt = 1): HostWork => ({ patchId: this.patchId, assetId: h.assetId, attempt, packages: h.packages });
    const tests: LabReport['tests'] = [];
    for (const host of hosts) {
      if (!COMPLIANT.includes(host.status)) {
        failures.push(`Lab host ${host.assetId} ended ${host.status}`);
        continue;
      }
      let checks: TestCheck[];
      try {
        checks = await connectorFor(host).testHost({ ...work(host), role: host.role });
      } catch (err) {
        checks = [{ check: 'test plan', ok: false, detail: failedCall(err, 'test').reason! }];
      }
      tests.push({ assetId: host.assetId, role: host.role, checks });
      for (const c of checks.filter((c) => !c.ok)) failures.push(`Lab host ${host.assetId}: ${c.check} failed (${c.detail})`);
    }
    // rollback proof: undo the patch on one changed lab host, then install it again
    let rollbackProof: LabReport['rollbackProof'] = null;
    // only lab hosts have been changed so far; the record carries the versions to go back to
    const [proofHost] = await deployment.changedHosts({ patchId: this.patchId, limit: 1 });
    if (proofHost) {
      const rolledBack = await hostCall(proofHost, proofHost, 'rollback', () => connectorFor(proofHost).rollbackHost(proofHost));
      const again = { ...proofHost, attempt: proofHost.attempt + 1 };
      const back = rolledBack.status === 'rolled-back' ? await runPipeline(proofHost, again) : rolledBack.status;
      const ok = rolledBack.status === 'rolled-back' && back === 'installed';
      rollbackProof = {
        assetId: proofHost.assetId,
        ok,
        detail: ok
          ? 'rolled back to the previous versions, then installed again'
          : `rollback ${rolledBack.status}${rolledBack.reason ? ` (${rolledBack.reason})` : ''}, reinstall ${back}`,
      };
      if (!ok) failures.push(`The rollback proof on ${proofHost.assetId} failed: ${rollbackProof.detail}`);
    } else if (plan.lab > 0) {
      failures.push('Rollback could not be proven: no lab host was changed');
    }
    await this.refreshHosts();
    return { tests, rollbackProof, uncoveredRoles: plan.uncoveredRoles, failures };
  }

  /** Pilot hosts, then the pilot bake time; the scope is evaluated again while it bakes (the reasons when it changed). */
  private async pilot(): Promise<string[]> {
    this.ctx.enterPhase('pilot');
    this.feedbackFrom = this.status.feedback.length;
    await this.runWave({ patchId: this.patchId, ring: 'pilot', wave: null }, this.ctx.plan().maxFailures);
    return this.bake(this.ctx.plan().pilotBakeTime, true);
  }

  private async production(): Promise<void> {
    this.ctx.enterPhase('rollout');
    const waves = this.deploymentPlan!.waves;
    for (const [i, wave] of waves.entries()) {
      await this.runWave({ patchId: this.patchId, ring: 'production', wave: wave.index }, this.ctx.plan().maxFailures, wave.size);
      if (i < waves.length - 1) await this.bake(this.ctx.plan().bakeTime, false);
    }
  }

  /**
   * The independent recheck, then the stragglers: retried on the interval (or at once on
   * `retry-stragglers`) until none is left, with an escalation at the recommended deadline;
   * at the maximum deadline every remaining one is an SLA breach.
   */
  private async verification(): Promise<void> {
    const s = this.status;
    this.ctx.enterPhase('verification');
    await this.verify();
    const recommended = Date.parse(s.deadlines!.recommended);
    const maximum = Date.parse(s.deadlines!.maximum);
    let escalated = Date.now() >= recommended;
    let nextRetry = Date.now() + ms(this.ctx.plan().stragglerRetryInterval);
    for (;;) {
      this.checkStop();
      await this.endDeferrals();
      s.stragglers = await deployment.stragglers(this.patchId);
      await this.refreshHosts();
      if (s.stragglers.length === 0 && this.deferredUntil.size === 0) break;
      if (Date.now() >= maximum) {
        s.breaches = s.stragglers.map((h) => ({ assetId: h.assetId, reason: h.reason }));
        if (s.breaches.length > 0) {
          await deployment.recordBreaches({ patchId: this.patchId, hosts: s.breaches });
          this.ctx.tell('escalation', `"${s.title}": ${s.breaches.length} host(s) breach the SLA at the maximum deadline`);
        }
        break;
      }
      if (!escalated && Date.now() >= recommended && s.stragglers.length > 0) {
        escalated = true;
        this.ctx.tell('escalation', `"${s.title}": ${s.stragglers.length} straggler(s) at the recommended deadline`);
      }
      if (s.stragglers.length > 0 && (this.retryRequested || Date.now() >= nextRetry)) {
        this.retryRequested = false;
        this.attempt++;
        await this.runWave({ patchId: this.patchId, ring: 'production', wave: null, stragglersOnly: true }, null);
        await this.verify();
        nextRetry = Date.now() + ms(this.ctx.plan().stragglerRetryInterval);
        continue;
      }
      const deferralEnds = [...this.deferredUntil.values()].map((until) => Date.parse(until));
      const wake = Math.min(s.stragglers.length > 0 ? nextRetry : Infinity, escalated ? maximum : recommended, maximum, ...deferralEnds);
      const changes = this.hostChanges;
      await condition(() => this.retryRequested || this.hostChanges !== changes || this.interrupted(), Math.max(wake - Date.now(), 1));
    }
    s.stragglers = await deployment.stragglers(this.patchId);
  }

  private async verify(): Promise<void> {
    const checked = await deployment.verifyHosts({ patchId: this.patchId, advisoryIds: this.status.advisoryIds });
    for (const work of checked.agentHosts) {
      let check: HostCheck;
      try {
        check = await connectorFor({ assetId: work.assetId, connector: 'agent' }).inspectHost(work);
      } catch (err) {
        const failed = failedCall(err, 'verification');
        await deployment.markHost({
          patchId: this.patchId,
          assetId: work.assetId,
          status: failed.status as HostStatus,
          reason: failed.reason!,
        });
        continue;
      }
      if (!check.compliant) {
        await deployment.markHost({
          patchId: this.patchId,
          assetId: work.assetId,
          status: 'failed',
          reason: `verification: ${check.reason ?? 'still affected'}`,
        });
      }
    }
  }

  /** A deferral that has ended puts its host back among the stragglers. */
  private async endDeferrals(): Promise<void> {
    for (const [assetId, until] of this.deferredUntil) {
      if (Date.parse(until) > Date.now()) continue;
      this.deferredUntil.delete(assetId);
      await deployment.markHost({ patchId: this.patchId, assetId, status: 'pending', reason: `the deferral ended at ${until}` });
    }
  }

  private async monitoring(): Promise<void> {
    this.ctx.enterPhase('monitoring');
    this.feedbackFrom = this.status.feedback.length;
    await this.bake(this.ctx.plan().monitoringWindow, false);
  }

  /** The deployment is over: the report is ready, the operator adds lessons learned, the patch completes. */
  private async postmortem(outcome: Outcome): Promise<RolloutEnd> {
    const s = this.status;
    this.changingHosts = false;
    s.deployment.finishedAt = now();
    await deployment.finishDeployment({ patchId: this.patchId, outcome });
    await this.refreshHosts();
    this.ctx.enterPhase('postmortem');
    s.awaiting = 'postmortem';
    this.ctx.setState('waiting');
    await condition(() => s.postmortem !== null || this.ctx.cancelled());
    s.awaiting = 'nothing';
    return { end: 'closed', outcome };
  }

  /** After an abort, rollback or cancel: the hosts in flight have finished. */
  private async stopped(): Promise<RolloutEnd> {
    if (this.ctx.cancelled()) {
      this.changingHosts = false;
      this.status.deployment.finishedAt = now();
      await deployment.finishDeployment({ patchId: this.patchId, outcome: 'cancelled' });
      await this.refreshHosts();
      return { end: 'closed', outcome: 'cancelled' };
    }
    if (this.stop === 'abort') return this.postmortem('aborted');
    this.ctx.setState('running');
    await this.untilDone(
      executeChild(rollbackHosts, {
        workflowId: `${workflowInfo().workflowId}-rollback`,
        args: [{ patchId: this.patchId, maxConcurrent: this.ctx.plan().maxConcurrent }],
      }),
    );
    return this.postmortem('rolled-back');
  }

  // ---- waves, halts and bakes ----

  /** One wave as a child workflow; past its failure budget the rollout halts for an operator. */
  private async runWave(selector: WaveSelector, maxFailures: number | string | null, size?: number): Promise<void> {
    const plan = this.ctx.plan();
    const count = size ?? (selector.ring === 'lab' ? this.deploymentPlan!.lab : selector.ring === 'pilot' ? this.deploymentPlan!.pilot : 0);
    const input: WaveInput = {
      selector,
      attempt: this.attempt,
      maxConcurrent: plan.maxConcurrent,
      maxPerGroup: plan.maxPerGroupPerWave,
      budget: maxFailures === null ? null : failureBudget(maxFailures, count),
      bypassWindows: this.status.approval?.bypassMaintenanceWindows ?? false,
    };
    const entry = { index: selector.wave ?? 0, ring: selector.ring, assets: [], status: 'running', counts: {} as Record<string, number> };
    if (!selector.stragglersOnly) this.status.waves.push(entry);
    for (;;) {
      await condition(() => this.status.state !== 'paused' || this.interrupted());
      this.checkStop();
      this.waveRuns++;
      const name = selector.stragglersOnly
        ? `stragglers-${this.attempt}`
        : `${selector.ring}${selector.wave === null ? '' : `-${selector.wave}`}`;
      const workflowId = `${workflowInfo().workflowId}-${name}-${this.waveRuns}`;
      const child = await startChild(hostWave, { workflowId, args: [input] });
      this.currentWave = workflowId;
      if (this.status.state === 'paused') await this.controlWave('pause');
      const result: WaveResult = await this.untilDone(child.result());
      this.currentWave = undefined;
      for (const [k, v] of Object.entries(result.counts)) entry.counts[k] = (entry.counts[k] ?? 0) + v;
      entry.status = result.status;
      await this.refreshHosts();
      if (result.status === 'done') return;
      this.checkStop();
      if (result.status === 'aborted') throw new Stopped();
      await this.halt(result.reason ?? 'the failure budget is spent');
      entry.status = 'running';
    }
  }

  /** Waits for an operator: resume goes on, abort or rollback stop. */
  private async halt(reason: string): Promise<void> {
    const s = this.status;
    s.halt = { phase: s.phase, reason, at: now(), decidedBy: 'operator' };
    s.awaiting = 'operator';
    this.resumeRequested = false;
    this.ctx.setState('halted');
    this.ctx.tell('rollout-halted', `"${s.title}" halted in ${s.phase}: ${reason}`);
    await condition(() => this.resumeRequested || this.interrupted());
    s.halt = null;
    s.awaiting = 'nothing';
    this.checkStop();
    this.resumeRequested = false;
    this.ctx.setState('running');
  }

  /**
   * Waits `duration`; feedback above the threshold halts for an operator. With `recheck`, the
   * scope is evaluated again on its interval; returns the reasons when it changed.
   */
  private async bake(duration: string, recheck: boolean): Promise<string[]> {
    const until = Date.now() + ms(duration);
    let nextRecheck = Date.now() + ms(this.ctx.scopeRecheckInterval());
    for (;;) {
      this.checkStop();
      const problem = this.feedbackProblem();
      if (problem) {
        await this.halt(problem);
        this.feedbackFrom = this.status.feedback.length;
        continue;
      }
      if (Date.now() >= until) return [];
      const wake = recheck ? Math.min(until, nextRecheck) : until;
      await condition(() => this.feedbackProblem() !== undefined || this.interrupted(), Math.max(wake - Date.now(), 1));
      if (recheck && Date.now() >= nextRecheck && Date.now() < until) {
        const reasons = await this.ctx.recheckScope();
        if (reasons.length > 0) return reasons;
        nextRecheck = Date.now() + ms(this.ctx.scopeRecheckInterval());
      }
    }
  }

  /** One high-severity report, or `feedbackThreshold` low ones, since the phase began or the last resume. */
  private feedbackProblem(): string | undefined {
    const recent = this.status.feedback.slice(this.feedbackFrom);
    const high = recent.find((f) => f.severity === 'high');
    if (high) return `High-severity feedback from ${high.by}: ${high.message}`;
    const threshold = this.deploymentPlan?.feedbackThreshold ?? 3;
    if (recent.length >= threshold) return `${recent.length} low-severity feedback reports (threshold ${threshold})`;
    return undefined;
  }

  /**
   * Awaits a child. Runs before `host-counts-from-database` also refreshed the host counts every
   * few seconds while it ran (a history event a few seconds for as long as a wave waits for its
   * windows); the API now reads those counts from the deployment records.
   */
  private async untilDone<T>(work: Promise<T>): Promise<T> {
    if (patched('host-counts-from-database')) return await work;
    let done = false;
    const result = work.finally(() => (done = true));
    while (!done) {
      if (!(await condition(() => done, COUNTS_REFRESH))) await this.refreshHosts();
    }
    return result;
  }

  private async refreshHosts(): Promise<void> {
    this.status.hosts = await deployment.hostCounts(this.patchId);
  }

  private interrupted(): boolean {
    return this.stop !== undefined || this.ctx.cancelled();
  }

  private checkStop(): void {
    if (this.interrupted()) throw new Stopped();
  }

  private async controlWave(control: 'pause' | 'resume' | 'abort'): Promise<void> {
    if (!this.currentWave) return;
    try {
      await getExternalWorkflowHandle(this.currentWave).signal(waveControlSignal, control);
    } catch {
      // the wave has just finished; the next one starts with the rollout's state
    }
  }

  // ---- the updates the governance part hands over (validated there) ----

  async act(action: RolloutAction, actor: Actor, comment?: string): Promise<void> {
    const s = this.status;
    s.actions.push({ action, by: actor.name, at: now(), ...(comment ? { comment } : {}) });
    switch (action) {
      case 'pause':
        this.ctx.setState('paused');
        await this.controlWave('pause');
        break;
      case 'resume':
        if (s.state === 'halted') this.resumeRequested = true;
        else {
          this.ctx.setState('running');
          await this.controlWave('resume');
        }
        break;
      case 'abort':
      case 'rollback':
        this.stop = action;
        if (s.state === 'paused') this.ctx.setState('running');
        await this.controlWave('abort');
        break;
      case 'retry-stragglers':
        this.retryRequested = true;
        break;
    }
  }

  /** A cancel while hosts are being changed stops the wave like an abort. */
  async onCancel(): Promise<void> {
    await this.controlWave('abort');
  }

  deployAnyway(): void {
    this.labDecision = 'deploy-anyway';
  }

  async except(input: ExceptionInput): Promise<void> {
    const at = now();
    await deployment.recordException({
      id: uuid4(),
      patchId: this.patchId,
      assetId: input.assetId,
      compensatingControl: input.compensatingControl,
      expiresAt: input.expiresAt,
      approvedBy: input.actor.name,
    });
    await deployment.markHost({
      patchId: this.patchId,
      assetId: input.assetId,
      status: 'excepted',
      reason: `excepted until ${input.expiresAt}: ${input.compensatingControl}`,
    });
    this.deferredUntil.delete(input.assetId);
    this.status.exceptions.push({
      assetId: input.assetId,
      compensatingControl: input.compensatingControl,
      expiresAt: input.expiresAt,
      approvedBy: input.actor.name,
      at,
    });
    this.hostChanges++;
    await this.refreshHosts();
  }

  async defer(input: DeferralInput): Promise<void> {
    const at = now();
    await deployment.recordDeferral({
      id: uuid4(),
      patchId: this.patchId,
      assetId: input.assetId,
      until: input.until,
      reason: input.reason,
      requestedBy: input.actor.name,
    });
    await deployment.markHost({
      patchId: this.patchId,
      assetId: input.assetId,
      status: 'deferred',
      reason: `deferred until ${input.until}: ${input.reason}`,
    });
    this.deferredUntil.set(input.assetId, input.until);
    this.status.deferrals.push({ assetId: input.assetId, until: input.until, reason: input.reason, by: input.actor.name, at });
    this.hostChanges++;
    await this.refreshHosts();
  }

  feedback(input: FeedbackInput): void {
    this.status.feedback.push({
      by: input.actor.name,
      ...(input.assetId ? { assetId: input.assetId } : {}),
      severity: input.severity,
      message: input.message,
      at: now(),
      phase: this.status.phase,
    });
  }

  postmortemWritten(input: PostmortemInput): void {
    this.status.postmortem = { lessonsLearned: input.lessonsLearned, actions: input.actions, by: input.actor.name, at: now() };
  }
}

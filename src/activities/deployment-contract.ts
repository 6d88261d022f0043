/**
 * The deployment activities of the shared task queue: planning, host records, verification,
 * exceptions, deferrals, breaches. Every one is idempotent: a retry writes the same rows again
 * and nothing twice.
 */
import type { ConnectorName } from '../domain/asset';
import type { DeploymentPlan, HostCheck, HostResult, HostStatus, HostWork, WaveHost, WaveSelector } from '../domain/deployment';
import type { RolloutPlanSettings, Straggler } from '../domain/patch-status';
import type { Outcome } from '../domain/patch';

export interface StartDeploymentInput {
  patchId: string;
  title: string;
  priority: number;
  emergency: boolean;
  openedAt: string;
  deadlines: { recommended: string; maximum: string };
  plan: RolloutPlanSettings;
}

export interface DeploymentActivities {
  /**
   * Records the patch and one `deployment_hosts` row per target (from `patch_targets`): lab and
   * pilot in strategy order, production cut into waves by the planner. Called again (after a
   * re-approval), it re-plans the hosts not yet started and keeps the others as they are.
   */
  startDeployment(input: StartDeploymentInput): Promise<DeploymentPlan>;
  /** The next `limit` hosts of a ring/wave after `after` (position), each with its next window. */
  /** A page of a wave's hosts, each with its next window as seen `at` (the workflow's time; default now). */
  waveHosts(input: WaveSelector & { after: number; limit: number; bypassWindows: boolean; at?: string }): Promise<WaveHost[]>;
  /** Records an agent's step results and the host status they lead to (the simulated connector records its own). */
  recordHostSteps(input: { work: HostWork; result: HostResult }): Promise<void>;
  /**
   * A host still running when its window closed finished anyway (an install is never cut off):
   * the overrun is recorded as a step of its attempt, at `at` (the workflow's time when it finished).
   */
  recordOverrun(input: { patchId: string; assetId: string; attempt: number; windowClosedAt: string; at: string }): Promise<void>;
  /** Sets a host's status without running anything (held by its group's failure, aborted before start). */
  markHost(input: { patchId: string; assetId: string; status: HostStatus; reason: string | null }): Promise<void>;
  /** Host counts by status: the same numbers `GET /v1/patches/:id/hosts` shows. */
  hostCounts(patchId: string): Promise<Record<string, number>>;
  /**
   * Verification (docs/process.md, step 8): every targeted host checked again against the inventory
   * with the assessment's matcher, independent of the pipeline's own records. A host recorded
   * compliant but still affected becomes `failed` ("verification: …"). Agent hosts are returned
   * in `agentHosts` for the workflow to inspect on their own queues.
   */
  verifyHosts(input: {
    patchId: string;
    advisoryIds: string[];
  }): Promise<{ checked: number; nonCompliant: HostCheck[]; agentHosts: HostWork[] }>;
  /** Hosts neither compliant, excepted nor deferred, with the reason and the attempts so far. */
  stragglers(patchId: string): Promise<Straggler[]>;
  recordException(input: {
    id: string;
    patchId: string;
    assetId: string;
    compensatingControl: string;
    expiresAt: string;
    approvedBy: string;
  }): Promise<void>;
  recordDeferral(input: {
    id: string;
    patchId: string;
    assetId: string;
    until: string;
    reason: string;
    requestedBy: string;
  }): Promise<void>;
  /** At the maximum deadline: every host still a straggler and not excepted is an SLA breach. */
  recordBreaches(input: { patchId: string; hosts: { assetId: string; reason: string }[] }): Promise<void>;
  /**
   * Up to `limit` hosts this patch changed and has not rolled back, newest wave first (lab last):
   * what a rollback undoes. Called again after rolling those back, it gives the next ones.
   */
  changedHosts(input: { patchId: string; limit: number }): Promise<(HostWork & { connector: ConnectorName })[]>;
  finishDeployment(input: { patchId: string; outcome: Outcome }): Promise<void>;
}

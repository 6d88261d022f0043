/**
 * Deployment (docs/process.md, steps 4–9): the per-host pipeline's vocabulary, shared by the
 * workflow, the connectors and the API. Pure types and rules, no I/O and no zod (the records'
 * shapes are in host-record.ts).
 */
import type { ConnectorName } from './asset';
import type { StepRecord } from './host-record';
import type { Environment } from './patch';

/** How a host ends in a patch (docs/process.md, step 7). */
export const HOST_OUTCOMES = ['installed', 'failed', 'rolled-back', 'unreachable', 'skipped', 'excepted', 'deferred'] as const;
export type HostOutcome = (typeof HOST_OUTCOMES)[number];

/** A host's status in `deployment_hosts`: not started, under way, or an outcome. */
export const HOST_STATUSES = ['pending', 'in-progress', 'rebooting', ...HOST_OUTCOMES] as const;
export type HostStatus = (typeof HOST_STATUSES)[number];

/** Outcomes that leave the host compliant with the patch. */
export const COMPLIANT: readonly HostStatus[] = ['installed', 'skipped'];
/** Outcomes that count against a wave's failure budget (the patch itself misbehaved). */
export const BUDGET_FAILURES: readonly HostStatus[] = ['failed', 'rolled-back'];

/**
 * The failure type of an activity that could not reach patchflow's own database: an outage of
 * patchflow, waited out by the workflows, never counted as the host's failure.
 */
export const INFRASTRUCTURE_UNAVAILABLE = 'InfrastructureUnavailable';

/** The steps a pipeline records, in the order they run. */
export const PIPELINE_STEPS = [
  'precheck',
  'backup',
  'pre-install',
  'install',
  'reboot',
  'await',
  'post-check',
  'rollback',
  'test',
  'verify',
  'overrun',
] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/** One package this patch installs on a host. */
export interface PackageTarget {
  name: string;
  fixedVersion: string;
}

/**
 * The work order of every per-host activity. (patchId, assetId) is the idempotency key; `attempt`
 * is the workflow's attempt at this host (1, then one more per straggler retry), so Temporal's
 * own retries of an activity reuse it.
 */
export interface HostWork {
  patchId: string;
  assetId: string;
  attempt: number;
  packages: PackageTarget[];
  /** {name: version} before this patch changed the host; given to `rollbackHost` (an agent keeps no records). */
  previousVersions?: Record<string, string>;
}

/**
 * What a pipeline step ends with. `reboot-required`: installed, the host must reboot before the
 * post-install checks. `steps` are the records of this call (the simulated connector writes its
 * own; the workflow records an agent's through `recordHostSteps`).
 */
export interface HostResult {
  status: HostOutcome | 'reboot-required';
  reason?: string;
  steps: StepRecord[];
}

/** Verification's independent recheck of one host. */
export interface HostCheck {
  assetId: string;
  compliant: boolean;
  reason?: string;
}

/** One check of a role's test plan on a lab host. */
export interface TestCheck {
  check: string;
  ok: boolean;
  detail: string;
}

/**
 * The role test plan run on lab hosts after the install (docs/process.md, step 4). Every role gets the
 * same four kinds of check; the role names what is checked.
 */
export function roleTestPlan(role: string | null | undefined): string[] {
  const r = role ?? 'generic';
  return [`${r}: services up`, `${r}: logins work`, `${r}: no new errors in the logs`, `${r}: performance within 10% of baseline`];
}

/** Packages whose new version only takes effect after a reboot (kernel, C library, init). */
const REBOOT_PACKAGES = [
  /^linux-image/,
  /^linux-modules/,
  /^linux-generic/,
  /^kernel(-core|-modules)?$/,
  /^glibc$/,
  /^libc6$/,
  /^systemd$/,
];

export function needsReboot(packageNames: string[]): boolean {
  return packageNames.some((name) => REBOOT_PACKAGES.some((re) => re.test(name)));
}

/**
 * How many budget failures a wave of `size` hosts tolerates: a count as given, or a percentage of
 * the wave rounded down. One failure more halts the rollout.
 */
export function failureBudget(maxFailures: number | string, size: number): number {
  if (typeof maxFailures === 'number') return maxFailures;
  const percent = Number.parseFloat(maxFailures);
  return Math.floor((size * percent) / 100);
}

/** A host as the wave workflow needs it: what to install, where to send the work, when it may start. */
export interface WaveHost {
  assetId: string;
  position: number;
  connector: ConnectorName;
  redundancyGroup: string | null;
  role: string | null;
  packages: PackageTarget[];
  status: HostStatus;
  /**
   * The next interval the host may be changed in, from the time asked about: `closesAt` null when
   * it never closes (no maintenance windows, or the emergency bypass); `startBy` the last moment
   * an install may begin, the policy's `minWindowRemaining` before it closes (absent from results
   * recorded before it existed). null: no window opens within the planner's horizon.
   */
  window: { opensAt: string; closesAt: string | null; startBy?: string | null } | null;
}

/**
 * Whether a queued host may start at `now` (ms): its window is open and leaves enough of itself.
 * A host queued while its window was open may have waited behind others until it no longer does.
 */
export function mayStartNow(window: WaveHost['window'], now: number): boolean {
  if (window === null || Date.parse(window.opensAt) > now) return false;
  if (window.closesAt === null) return true;
  return now <= Date.parse(window.startBy ?? window.closesAt);
}

/** The plan `startDeployment` records and returns: the hosts of lab and pilot, the production waves' sizes. */
export interface DeploymentPlan {
  lab: number;
  pilot: number;
  waves: { index: number; size: number }[];
  /** Roles of pilot and production hosts that no lab host has. */
  uncoveredRoles: string[];
  /** The policy's `feedbackThreshold`: low-severity reports that halt a pilot or monitoring window. */
  feedbackThreshold: number;
}

/** Which hosts a wave workflow works on. */
export interface WaveSelector {
  patchId: string;
  ring: Environment;
  /** The production wave; null for lab and pilot. */
  wave: number | null;
  /** Only the hosts that are not compliant, excepted or deferred (a straggler retry). */
  stragglersOnly?: boolean;
}

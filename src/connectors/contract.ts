/**
 * The activities every connector implements under the same names (docs/process.md, step 7; docs/temporal.md). The
 * `simulated` connector registers them on the shared task queue; a host agent registers them on
 * `patchflow-host-<assetId>`. The workflow picks the queue from the asset's connector, so one
 * pipeline drives both.
 *
 * Every call is idempotent on (patchId, assetId): a retry resumes where the last one stopped and
 * never installs twice. Long calls heartbeat; a cancellation is honoured until the install has
 * begun, never in the middle of one (a host is never left half-changed).
 *
 * The calls that change a host take a signed work order (src/domain/work-order.ts) beside the
 * work: a host agent refuses the call without one that matches it. The simulated connector runs
 * inside patchflow's own worker and is given none.
 */
import type { HostCheck, HostResult, HostWork, TestCheck } from '../domain/deployment';
import type { SignedWorkOrder } from '../domain/work-order';

export interface ConnectorActivities {
  /**
   * precheck (reachable, disk space, still affected: an already-patched host is `skipped`) →
   * backup/snapshot → pre-install (stop services) → install → post-install checks, unless the
   * install needs a reboot (`reboot-required`, the checks then follow `awaitHost`). A failed
   * install or check rolls back and says why.
   */
  deployHost(work: HostWork, order?: SignedWorkOrder): Promise<HostResult>;
  /** Starts the reboot and returns; the host goes quiet. */
  rebootHost(work: HostWork, order?: SignedWorkOrder): Promise<HostResult>;
  /** Heartbeats until the host answers again: a rebooting host is waited for, never failed. */
  awaitHost(work: HostWork): Promise<HostResult>;
  /** The post-install checks after a reboot; a failure rolls back. */
  postCheckHost(work: HostWork, order?: SignedWorkOrder): Promise<HostResult>;
  /** Restores the versions the host had before this patch changed it (operator rollback, rollback proof). */
  rollbackHost(work: HostWork, order?: SignedWorkOrder): Promise<HostResult>;
  /** The role's test plan (lab hosts, after the install). */
  testHost(work: HostWork & { role: string | null }): Promise<TestCheck[]>;
  /** Verification: the host's real state against the fixed versions, independent of the records. */
  inspectHost(work: HostWork): Promise<HostCheck>;
}

export const hostTaskQueue = (assetId: string) => `patchflow-host-${assetId}`;

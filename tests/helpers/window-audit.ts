/**
 * The audit of when hosts were changed (docs/process.md, step 6, "Maintenance windows and change
 * freezes"): every host pipeline started, and every install ran, inside one of the host's
 * maintenance windows in its own time zone, outside every change freeze, with at least the
 * policy's `minWindowRemaining` left of the window (a freeze that begins inside the window ends
 * it early). The windows are worked out again with `Intl` (zoned-time.ts), not with the
 * planner's code. Pure, no vitest: the soak test asserts the result is empty, the soak benchmark
 * prints it.
 */
import type { ChangeFreeze, MaintenanceWindow } from '../../src/domain/planner';
import { describeLocal, windowContaining } from './zoned-time';

/** One moment a host was touched: a step record, or a pipeline call as the workflow history has it. */
export interface TimedStep {
  assetId: string;
  attempt: number;
  step: string;
  at: string;
}

export interface HostWindows {
  timezone: string;
  maintenanceWindows: MaintenanceWindow[];
}

export interface WindowViolation extends TimedStep {
  /** The moment as read at the host. */
  local: string;
  problem: string;
}

export interface WindowRules {
  changeFreezes: ChangeFreeze[];
  minWindowRemainingMs: number;
}

/** Steps that change nothing (or that windows do not hold back: a rollback) are not audited. */
const NOT_CHANGES = new Set(['rollback', 'test', 'verify']);

/**
 * The steps to audit from a patch's step records (in the order they were written): the first
 * step of each pipeline attempt, when the host was taken on, and every install.
 */
export function stepsToAudit(records: TimedStep[]): TimedStep[] {
  const started = new Set<string>();
  const audited: TimedStep[] = [];
  for (const r of records) {
    if (NOT_CHANGES.has(r.step)) continue;
    const key = `${r.assetId}#${r.attempt}`;
    if (!started.has(key)) {
      started.add(key);
      audited.push(r);
    } else if (r.step === 'install') {
      audited.push(r);
    }
  }
  return audited;
}

/** Every audited step that broke a window, a freeze or the minimum left of its window. */
export function windowViolations(steps: TimedStep[], hosts: ReadonlyMap<string, HostWindows>, rules: WindowRules): WindowViolation[] {
  const freezes = rules.changeFreezes.map((f) => ({ ...f, from: Date.parse(f.start), to: Date.parse(f.end) }));
  const violations: WindowViolation[] = [];
  for (const step of steps) {
    const host = hosts.get(step.assetId);
    const at = Date.parse(step.at);
    const problem = (text: string) => violations.push({ ...step, local: host ? describeLocal(at, host.timezone) : step.at, problem: text });
    if (!host) {
      problem('not a host of the fleet');
      continue;
    }
    const frozen = freezes.find((f) => f.from <= at && at < f.to);
    if (frozen) problem(`inside the change freeze ${frozen.start} – ${frozen.end}${frozen.reason ? ` (${frozen.reason})` : ''}`);
    // a host without windows may be changed at any time outside the freezes
    let closes = Infinity;
    if (host.maintenanceWindows.length > 0) {
      const occurrence = windowContaining(at, host.timezone, host.maintenanceWindows);
      if (!occurrence) {
        problem('outside every maintenance window');
        continue;
      }
      closes = occurrence.closesAt;
    }
    const cut = freezes.filter((f) => f.from > at && f.from < closes).map((f) => f.from);
    const end = Math.min(closes, ...cut);
    if (end - at < rules.minWindowRemainingMs) {
      const left = Math.round((end - at) / 60_000);
      problem(
        `only ${left} min of the window left (at least ${rules.minWindowRemainingMs / 60_000} min needed; it ${cut.length > 0 && end < closes ? 'is cut by a freeze' : 'closes'} at ${new Date(end).toISOString()})`,
      );
    }
  }
  return violations;
}

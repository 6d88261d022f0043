/**
 * The connector activities of a real host (docs/process.md, step 7; docs/temporal.md), registered
 * by `patchflow agent` on `patchflow-host-<assetId>`. They drive the host's package manager; its results
 * carry the steps, and the workflow records them.
 *
 * A call that changes the host is carried out only on a work order signed by the orchestrator's
 * key that names this host, the call's patch, attempt, operation and packages, and the workflow
 * that sent it (src/domain/work-order.ts); anything else is refused before a command runs. The
 * agent's own install journal (./journal.ts) records what it changed: a rollback restores only
 * versions it recorded there, and an order carried out once is not carried out again.
 *
 * Dry-run runs only what reads (os-release, the package database, df, the test checks) and
 * reports every command that would change the host instead of running it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { InstalledPackage } from '../../domain/asset';
import type { PackageChange, StepRecord } from '../../domain/host-record';
import { verifyWorkOrder, type SignedWorkOrder, type WorkOperation, type WorkOrder } from '../../domain/work-order';
import {
  needsReboot,
  roleTestPlan,
  type HostCheck,
  type HostResult,
  type HostWork,
  type PackageTarget,
  type PipelineStep,
  type TestCheck,
} from '../../domain/deployment';
import { compareVersions } from '../../domain/versions';
import type { Logger } from '../../logger';
import type { ConnectorActivities } from '../contract';
import {
  diskFreeCommand,
  failedUnitsCommand,
  formatCommand,
  installCommand,
  inventoryCommand,
  invalidPin,
  packageManagerFor,
  rebootCommand,
  recentErrorsCommand,
  refreshCommand,
  rollbackCommand,
  simulateInstallCommand,
  sshdTestCommand,
  VERSION_SCHEME,
  type Command,
  type PackagePin,
} from './commands';
import {
  aptErrors,
  parseAptSimulation,
  parseDf,
  parseDnfSimulation,
  parseDpkgInventory,
  parseFailedUnits,
  parseOsRelease,
  parseRpmInventory,
  type PlannedChange,
} from './parse';
import { Journal, type JournalEntry } from './journal';
import { execRunner, type CommandResult, type Runner } from './runner';

export interface AgentOptions {
  assetId: string;
  dryRun: boolean;
  /** The orchestrator's work-order public key (hex): the only signer this agent obeys. */
  orchestratorKey: string;
  /** The install journal (JSON lines; ./journal.ts). */
  journalFile: string;
  logger: Logger;
  runner?: Runner;
  /** Files read from the host; tests point them at fixtures. */
  files?: { osRelease?: string; bootId?: string };
  /** Where reboot markers live: /run is emptied by a reboot, and each marker names its boot. */
  stateDir?: string;
  /** Free space the file systems of /var and /usr need before an install (default 500 MB). */
  minFreeMb?: number;
  /** How often long calls heartbeat and `awaitHost` looks again (default 2 s). */
  pollMs?: number;
}

export interface AgentActivities extends ConnectorActivities {
  /** Every package installed on the host, for the inventory. */
  reportInventory(): Promise<InstalledPackage[]>;
}

// An install that hangs this long is killed; apt waits at most 5 min for its lock on top.
const INSTALL_TIMEOUT_MS = 60 * 60_000;
const QUERY_TIMEOUT_MS = 2 * 60_000;

export const WORK_ORDER_REFUSED = 'WorkOrderRefused';

/** The step an order's "already carried out" answer is recorded under (never `install`: it changed nothing). */
const STEP_OF: Record<WorkOperation, PipelineStep> = {
  deploy: 'precheck',
  reboot: 'reboot',
  'post-check': 'post-check',
  rollback: 'rollback',
};

/** A package of a target, as installed: the newest version per architecture. */
interface Installed {
  name: string;
  arch?: string;
  version: string;
}

/** What the inventory says about a patch's packages. */
interface Finding {
  /** Installed below the fixed version: what to install. */
  affected: (PackagePin & { current: string })[];
  /** Human-readable lines for the packages that are fine. */
  fine: string[];
}

export function createAgentActivities(options: AgentOptions): AgentActivities {
  const { assetId, dryRun, orchestratorKey } = options;
  const run = options.runner ?? execRunner;
  const journal = new Journal(options.journalFile, dryRun);
  const osRelease = parseOsRelease(fs.readFileSync(options.files?.osRelease ?? '/etc/os-release', 'utf8'));
  const pm = packageManagerFor(osRelease);
  const scheme = VERSION_SCHEME[pm];
  const stateDir = options.stateDir ?? '/run/patchflow-agent';
  const minFreeKb = (options.minFreeMb ?? 500) * 1024;
  const pollMs = options.pollMs ?? 2000;
  const log = options.logger.child({ assetId, dryRun });
  log.info({ os: osRelease.PRETTY_NAME ?? osRelease.ID, packageManager: pm, journal: journal.file }, 'agent host');

  /** One line per package an order changed (or, in dry-run, would have). */
  const changeEntries = (order: WorkOrder, changes: PackageChange[], planned = false): JournalEntry[] =>
    changes.map((c) => ({
      kind: 'change',
      at: new Date().toISOString(),
      patchId: order.patchId,
      orderId: order.id,
      operation: order.operation,
      package: c.name,
      before: c.from,
      after: c.to,
      dryRun,
      ...(planned ? { planned: true as const } : {}),
    }));

  /**
   * Runs a command, heartbeating meanwhile. A cancellation is honoured until a change begins: a
   * change is never cut short, and once a call has changed the host (`cancellable: false`) it runs
   * to its end.
   */
  async function exec(command: Command, { change = false, cancellable = true, timeoutMs = QUERY_TIMEOUT_MS } = {}): Promise<CommandResult> {
    if (change && dryRun) throw new Error(`dry-run: refusing to run ${formatCommand(command)}`);
    const ctx = Context.current();
    if (cancellable) ctx.cancellationSignal.throwIfAborted();
    const started = Date.now();
    const beat = setInterval(() => ctx.heartbeat(formatCommand(command)), pollMs);
    try {
      const result = await run(command, { timeoutMs, signal: cancellable && !change ? ctx.cancellationSignal : undefined });
      log.info({ argv: command.argv, code: result.code, ms: Date.now() - started }, 'ran');
      return result;
    } finally {
      clearInterval(beat);
    }
  }

  async function inventory(cancellable = true): Promise<InstalledPackage[]> {
    const command = inventoryCommand(pm);
    const result = await exec(command, { cancellable });
    if (result.code !== 0) throw new Error(`${formatCommand(command)} exited with ${result.code}: ${lastLine(result.stderr)}`);
    return pm === 'apt' ? parseDpkgInventory(result.stdout) : parseRpmInventory(result.stdout);
  }

  /** Each installed architecture of `name` at its newest version (several kernels can be installed at once). */
  function installedOf(name: string, packages: InstalledPackage[]): Installed[] {
    const newest = new Map<string, Installed>();
    for (const p of packages) {
      if (p.name !== name) continue;
      const known = newest.get(p.arch ?? '');
      if (!known || compareVersions(scheme, p.version, known.version) > 0)
        newest.set(p.arch ?? '', { name, arch: p.arch, version: p.version });
    }
    return [...newest.values()];
  }

  /** Pins for these instances: the architecture is named only when the host has several. */
  const pinsFor = (instances: Installed[], version: string): PackagePin[] =>
    instances.map((i) => ({ name: i.name, version, ...(instances.length > 1 && i.arch ? { arch: i.arch } : {}) }));

  function find(targets: PackageTarget[], packages: InstalledPackage[]): Finding {
    const finding: Finding = { affected: [], fine: [] };
    for (const target of targets) {
      const instances = installedOf(target.name, packages);
      if (instances.length === 0) finding.fine.push(`${target.name} is not installed`);
      const pins = pinsFor(instances, target.fixedVersion);
      instances.forEach((instance, n) => {
        if (compareVersions(scheme, instance.version, target.fixedVersion) < 0)
          finding.affected.push({ ...pins[n]!, current: instance.version });
        else finding.fine.push(`${target.name} ${instance.version} ≥ ${target.fixedVersion}`);
      });
    }
    return finding;
  }

  /** Every package whose version differs between two inventories. */
  function diff(before: InstalledPackage[], after: InstalledPackage[]): PackageChange[] {
    const key = (p: InstalledPackage) => `${p.name}\u0000${p.arch ?? ''}`;
    const was = new Map(before.map((p) => [key(p), p.version]));
    const now = new Map(after.map((p) => [key(p), p.version]));
    const changes: PackageChange[] = [];
    for (const p of after) if (was.get(key(p)) !== p.version) changes.push({ name: p.name, from: was.get(key(p)) ?? null, to: p.version });
    for (const p of before) if (!now.has(key(p))) changes.push({ name: p.name, from: p.version, to: null });
    return changes;
  }

  async function diskProblem(): Promise<{ problem?: string; detail: string }> {
    const command = diskFreeCommand(['/var', '/usr']);
    const result = await exec(command);
    const spaces = parseDf(result.stdout);
    if (result.code !== 0 || spaces.length === 0)
      return { problem: `precheck: ${formatCommand(command)} failed: ${lastLine(result.stderr)}`, detail: '' };
    const unique = [...new Map(spaces.map((s) => [s.mount, s])).values()];
    const detail = unique.map((s) => `${s.mount} ${megabytes(s.availableKb)} free`).join(', ');
    const full = unique.filter((s) => s.availableKb < minFreeKb);
    if (full.length === 0) return { detail };
    return {
      problem: `disk full: ${full.map((s) => `${s.mount} has ${megabytes(s.availableKb)} free`).join(', ')}, ${megabytes(minFreeKb)} needed`,
      detail,
    };
  }

  /** Resolves the install without changing anything: the package lists first, then the package manager's own simulation. */
  async function simulate(pins: PackagePin[]): Promise<{ problem?: string; planned: PlannedChange[] }> {
    const refresh = await exec(refreshCommand(pm), { change: true, timeoutMs: INSTALL_TIMEOUT_MS });
    if (refresh.code !== 0)
      return { problem: `refreshing the package lists failed: ${aptErrors(refresh.stderr) ?? lastLine(refresh.stderr)}`, planned: [] };
    const result = await exec(simulateInstallCommand(pm, pins));
    const outcome =
      pm === 'apt'
        ? { ok: result.code === 0, error: aptErrors(result.stderr) ?? lastLine(result.stderr), changes: parseAptSimulation(result.stdout) }
        : parseDnfSimulation(`${result.stdout}\n${result.stderr}`, result.code);
    if (!outcome.ok) return { problem: outcome.error, planned: outcome.changes };
    const removed = outcome.changes.filter((c) => c.action === 'remove');
    if (removed.length) return { problem: `the install would remove ${removed.map((c) => c.name).join(', ')}`, planned: outcome.changes };
    return { planned: outcome.changes };
  }

  /** Puts packages back at `previous`; adds the `rollback` step. Not `cancellable` when this call already changed the host. */
  async function restore(
    order: WorkOrder,
    previous: Record<string, string>,
    steps: Steps,
    cancellable: boolean,
  ): Promise<{ ok: boolean; error?: string }> {
    const before = await inventory(cancellable);
    const pins = Object.entries(previous).flatMap(([name, version]) => {
      const instances = installedOf(name, before);
      return instances.some((i) => i.version !== version) ? pinsFor(instances, version) : [];
    });
    const invalid = pins.map(invalidPin).find(Boolean);
    if (invalid) {
      steps.add('rollback', false, invalid);
      return { ok: false, error: invalid };
    }
    if (pins.length === 0) {
      steps.add('rollback', true, 'nothing to restore: the previous versions are installed');
      return { ok: true };
    }
    const command = rollbackCommand(pm, pins);
    const planned = pins.map((pin) => ({ name: pin.name, from: installedOf(pin.name, before)[0]?.version ?? null, to: pin.version }));
    if (dryRun) {
      steps.add('rollback', true, `dry-run: would run: ${formatCommand(command)}`, planned);
      return { ok: true };
    }
    const result = await exec(command, { change: true, cancellable, timeoutMs: INSTALL_TIMEOUT_MS });
    const after = await inventory(false);
    const changes = diff(before, after);
    journal.append(changeEntries(order, changes));
    const left = pins.filter((pin) => installedOf(pin.name, after).some((i) => i.version !== pin.version));
    if (result.code === 0 && left.length === 0) {
      steps.add('rollback', true, `ran ${formatCommand(command)}: ${describe(changes)}`, changes);
      return { ok: true };
    }
    const error = `${left.map((pin) => pin.name).join(', ') || 'packages'} not restored (exit ${result.code}: ${failureOf(result)})`;
    steps.add('rollback', false, `ran ${formatCommand(command)}: ${error}`, changes);
    return { ok: false, error };
  }

  async function rollBack(
    order: WorkOrder,
    previous: Record<string, string>,
    why: string,
    steps: Steps,
    cancellable: boolean,
  ): Promise<HostResult> {
    if (Object.keys(previous).length === 0) return { status: 'failed', reason: why, steps: steps.records };
    const restored = await restore(order, previous, steps, cancellable);
    if (restored.ok) return { status: 'rolled-back', reason: why, steps: steps.records };
    return { status: 'failed', reason: `${why}; rollback failed: ${restored.error}`, steps: steps.records };
  }

  /** Post-install checks: every target now at or above its fixed version, else roll back to `previous`. */
  async function postCheck(
    order: WorkOrder,
    work: HostWork,
    packages: InstalledPackage[],
    previous: Record<string, string>,
    steps: Steps,
    cancellable: boolean,
  ): Promise<HostResult> {
    const finding = find(work.packages, packages);
    if (finding.affected.length === 0) {
      steps.add('post-check', true, `fixed: ${finding.fine.join('; ')}`);
      return { status: 'installed', steps: steps.records };
    }
    const why = `post-check: still below the fixed version: ${finding.affected.map((a) => `${a.name} ${a.current} < ${a.version}`).join(', ')}`;
    steps.add('post-check', false, why);
    return rollBack(order, previous, why, steps, cancellable);
  }

  function thisHost(work: HostWork): void {
    if (work.assetId !== assetId)
      throw ApplicationFailure.nonRetryable(`work for ${work.assetId} reached the agent of ${assetId}`, 'WrongHost');
  }

  function refuse(work: HostWork, operation: WorkOperation, reason: string): never {
    log.warn({ patchId: work.patchId, operation, reason }, 'work order refused');
    throw ApplicationFailure.nonRetryable(`work order refused: ${reason}`, WORK_ORDER_REFUSED);
  }

  /** A rollback restores only versions this agent's journal recorded before an install of the same patch. */
  function journalAllows(work: HostWork, order: WorkOrder): string | undefined {
    const before = journal.versionsBefore(order.patchId);
    const unknown = order.packages.filter((p) => !before.get(p.name)?.has(p.version));
    if (unknown.length === 0) return undefined;
    return `${unknown.map((p) => `${p.name}=${p.version}`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not a version this agent's journal recorded before patch ${work.patchId} changed the host`;
  }

  /**
   * Carries out one order: checks it (nothing runs on a refusal), runs `change` alone on the host
   * unless the journal says this very order was carried out already, and journals how it ended.
   */
  async function carryOut(
    operation: WorkOperation,
    work: HostWork,
    signed: SignedWorkOrder | undefined,
    change: (order: WorkOrder) => Promise<HostResult>,
  ): Promise<HostResult> {
    thisHost(work);
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
    const verdict = verifyWorkOrder(signed, orchestratorKey, { assetId, operation, work, workflowId }, Date.now());
    if (!verdict.ok) refuse(work, operation, verdict.reason);
    const { order } = verdict;
    if (operation === 'rollback') {
      const denied = journalAllows(work, order);
      if (denied) refuse(work, operation, denied);
    }
    return exclusive(async () => {
      // a retry whose answer was lost, or the same order again: never a second change
      const done = journal.done(order.id);
      if (done) {
        const steps = new Steps();
        steps.add(STEP_OF[operation], true, `work order ${order.id} was carried out already (${done.status}); nothing run again`);
        return { status: done.status, ...(done.reason ? { reason: done.reason } : {}), steps: steps.records };
      }
      log.info({ patchId: order.patchId, operation, orderId: order.id }, 'work order accepted');
      const result = await change(order);
      journal.append([
        {
          kind: 'done',
          at: new Date().toISOString(),
          patchId: order.patchId,
          orderId: order.id,
          operation,
          status: result.status,
          ...(result.reason ? { reason: result.reason } : {}),
          dryRun,
        },
      ]);
      return result;
    });
  }

  // One change at a time on this host: a retry must not run beside the attempt it repeats.
  let lock: Promise<void> = Promise.resolve();
  async function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const previous = lock;
    let release!: () => void;
    lock = new Promise((resolve) => (release = resolve));
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat('waiting for the change under way on this host'), pollMs);
    try {
      await previous;
      clearInterval(beat);
      return await work();
    } finally {
      clearInterval(beat);
      release();
    }
  }

  const bootId = () => fs.readFileSync(options.files?.bootId ?? '/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const markerOf = (work: HostWork) => path.join(stateDir, `reboot-${work.patchId.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  const readMarker = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined);

  return {
    async deployHost(work, signed) {
      return carryOut('deploy', work, signed, async (order) => {
        const steps = new Steps();
        const before = await inventory();
        const finding = find(work.packages, before);
        const invalid = finding.affected.map(invalidPin).find(Boolean);
        if (invalid) return steps.fail('precheck', `precheck: ${invalid}`);
        if (finding.affected.length === 0) {
          steps.add('precheck', true, `not affected: ${finding.fine.join('; ')}`);
          return { status: 'skipped', reason: 'already at or above the fixed versions', steps: steps.records };
        }
        const affected = `affected: ${finding.affected.map((a) => `${a.name} ${a.current} < ${a.version}`).join(', ')}`;
        const disk = await diskProblem();
        if (disk.problem) return steps.fail('precheck', disk.problem);
        const pins: PackagePin[] = finding.affected.map(({ current: _, ...pin }) => pin);
        const planned = finding.affected.map((a) => ({ name: a.name, from: a.current, to: a.version }));
        const command = installCommand(pm, pins);

        if (dryRun) {
          steps.add('precheck', true, `${affected}; disk: ${disk.detail}`);
          steps.add('backup', true, `dry-run: versions to restore on rollback: ${planned.map((p) => `${p.name} ${p.from}`).join(', ')}`);
          steps.add('install', true, `dry-run: would run: ${formatCommand(command)}`, planned);
          // what would have changed, so a dry-run rollback is judged as a real one would be
          journal.append(changeEntries(order, planned));
          return { status: needsReboot(pins.map((p) => p.name)) ? 'reboot-required' : 'installed', steps: steps.records };
        }

        const simulation = await simulate(pins);
        if (simulation.problem) return steps.fail('precheck', `precheck: ${simulation.problem}`);
        steps.add('precheck', true, `${affected}; disk: ${disk.detail}; plan: ${describePlan(simulation.planned)}`);
        steps.add(
          'backup',
          true,
          `versions to restore on rollback: ${planned.map((p) => `${p.name} ${p.from}`).join(', ')} (no disk snapshot)`,
        );
        // before the install runs: the versions to restore survive a crash in the middle of it
        journal.append(changeEntries(order, plannedChanges(planned, simulation.planned, before), true));
        const result = await exec(command, { change: true, timeoutMs: INSTALL_TIMEOUT_MS });
        const after = await inventory(false);
        const changes = diff(before, after);
        journal.append(changeEntries(order, changes));
        const previous = previousVersions(changes);
        if (result.code !== 0) {
          const why = `install failed: ${failureOf(result)}`;
          steps.add('install', false, `ran ${formatCommand(command)}: exit ${result.code}: ${failureOf(result)}`, changes);
          return changes.length ? rollBack(order, previous, why, steps, false) : { status: 'failed', reason: why, steps: steps.records };
        }
        steps.add('install', true, `ran ${formatCommand(command)}: ${describe(changes)}`, changes);
        if (needsReboot(changes.map((c) => c.name))) return { status: 'reboot-required', steps: steps.records };
        return postCheck(order, work, after, previous, steps, false);
      });
    },

    async rebootHost(work, signed) {
      return carryOut('reboot', work, signed, async () => {
        const steps = new Steps();
        const command = rebootCommand(`patchflow: reboot for patch ${work.patchId}`);
        if (dryRun) {
          steps.add('reboot', true, `dry-run: would run: ${formatCommand(command)}`);
          return { status: 'installed', steps: steps.records };
        }
        const marker = markerOf(work);
        const boot = bootId();
        if (readMarker(marker) === boot) {
          steps.add('reboot', true, 'reboot already scheduled');
          return { status: 'installed', steps: steps.records };
        }
        fs.mkdirSync(stateDir, { recursive: true });
        fs.writeFileSync(marker, boot);
        const result = await exec(command, { change: true });
        if (result.code !== 0) {
          fs.rmSync(marker, { force: true });
          return steps.fail('reboot', `reboot failed: ${failureOf(result)}`);
        }
        steps.add('reboot', true, `ran ${formatCommand(command)}`);
        return { status: 'installed', steps: steps.records };
      });
    },

    async awaitHost(work) {
      thisHost(work);
      const steps = new Steps();
      if (dryRun) {
        steps.add('await', true, 'dry-run: no reboot to wait for');
        return { status: 'installed', steps: steps.records };
      }
      const marker = markerOf(work);
      const boot = bootId();
      // this boot scheduled the reboot: wait; the reboot ends this process, and the retry after it answers
      while (readMarker(marker) === boot) {
        Context.current().heartbeat('waiting for the reboot');
        await Context.current().sleep(pollMs);
      }
      fs.rmSync(marker, { force: true });
      steps.add('await', true, `host is up: boot ${boot}, up ${Math.round(os.uptime())} s`);
      return { status: 'installed', steps: steps.records };
    },

    async postCheckHost(work, signed) {
      return carryOut('post-check', work, signed, async (order) => {
        const steps = new Steps();
        if (dryRun) {
          steps.add('post-check', true, `dry-run: would check ${work.packages.map((p) => `${p.name} ≥ ${p.fixedVersion}`).join(', ')}`);
          return { status: 'installed', steps: steps.records };
        }
        // a failed check restores what this agent's own journal says the patch replaced
        return postCheck(order, work, await inventory(), journal.firstVersionsBefore(work.patchId), steps, true);
      });
    },

    async rollbackHost(work, signed) {
      return carryOut('rollback', work, signed, async (order) => {
        const steps = new Steps();
        if (order.packages.length === 0) {
          steps.add('rollback', true, 'nothing to restore: this patch changed no package');
          return { status: 'rolled-back', steps: steps.records };
        }
        // the order's versions, which the journal vouched for (carryOut)
        const previous = Object.fromEntries(order.packages.map((p) => [p.name, p.version]));
        const restored = await restore(order, previous, steps, true);
        if (restored.ok) return { status: 'rolled-back', steps: steps.records };
        return { status: 'failed', reason: `rollback failed: ${restored.error}`, steps: steps.records };
      });
    },

    async testHost(work) {
      thisHost(work);
      const [services, logins, logs, performance] = roleTestPlan(work.role) as [string, string, string, string];
      const failed = await exec(failedUnitsCommand());
      const units = parseFailedUnits(failed.stdout);
      const sshd = await exec(sshdTestCommand());
      const errors = await exec(recentErrorsCommand('-15min'));
      const errorLines = errors.stdout.split('\n').filter(Boolean);
      const load = os.loadavg()[0]!;
      const cpus = os.availableParallelism();
      const check = (name: string, ok: boolean, detail: string): TestCheck => ({ check: name, ok, detail });
      return [
        failed.code === 0
          ? check(services, units.length === 0, units.length ? `failed units: ${units.join(', ')}` : 'no failed systemd units')
          : check(services, false, `cannot check: ${lastLine(failed.stderr)}`),
        sshd.code === 0
          ? check(logins, true, 'sshd -t: configuration and host keys are valid')
          : check(logins, false, `sshd -t: ${lastLine(sshd.stderr)}`),
        errors.code === 0
          ? check(
              logs,
              errorLines.length === 0,
              errorLines.length
                ? `${errorLines.length} error entries in 15 min, first: ${errorLines[0]}`
                : 'no error entries in the journal in 15 min',
            )
          : check(logs, false, `cannot check: ${lastLine(errors.stderr)}`),
        // the agent has no baseline of its own: a load above one per CPU counts as degraded
        check(performance, load <= cpus, `load ${load.toFixed(2)} on ${cpus} CPUs`),
      ];
    },

    async inspectHost(work): Promise<HostCheck> {
      thisHost(work);
      const finding = find(work.packages, await inventory());
      if (finding.affected.length === 0) return { assetId, compliant: true };
      return {
        assetId,
        compliant: false,
        reason: `still affected: ${finding.affected.map((a) => `${a.name} ${a.current} < ${a.version}`).join(', ')}`,
      };
    },

    reportInventory: () => inventory(),
  };
}

/** The steps of one call. */
class Steps {
  readonly records: StepRecord[] = [];

  add(step: PipelineStep, ok: boolean, detail: string, changes?: PackageChange[]): void {
    this.records.push({ step, ok, detail, ...(changes?.length ? { changes } : {}), at: new Date().toISOString() });
  }

  /** A failed step that ends the call with nothing changed. */
  fail(step: PipelineStep, reason: string): HostResult {
    this.add(step, false, reason);
    return { status: 'failed', reason, steps: this.records };
  }
}

/**
 * What an install is about to change, journalled before it runs: the targets, and every package
 * the package manager's simulation would change or remove, each at its version now.
 */
function plannedChanges(targets: PackageChange[], simulated: PlannedChange[], installed: InstalledPackage[]): PackageChange[] {
  const changes = new Map(targets.map((t) => [t.name, t]));
  for (const s of simulated) {
    if (s.action === 'install' || changes.has(s.name)) continue;
    const current = installed.find((p) => p.name === s.name)?.version;
    if (current) changes.set(s.name, { name: s.name, from: current, to: s.to ?? null });
  }
  return [...changes.values()];
}

/** {name: version} before the changes: what a rollback restores (packages the install added have none). */
function previousVersions(changes: PackageChange[]): Record<string, string> {
  return Object.fromEntries(changes.flatMap((c) => (c.from === null ? [] : [[c.name, c.from]])));
}

const lastLine = (text: string) => text.trim().split('\n').pop() || 'no output';

function failureOf(result: CommandResult): string {
  return aptErrors(result.stderr) ?? result.stderr.split('\n').find((line) => line.startsWith('Error:')) ?? lastLine(result.stderr);
}

const megabytes = (kb: number) => `${Math.round(kb / 1024)} MB`;

function describe(changes: PackageChange[]): string {
  if (changes.length === 0) return 'no package changed';
  return changes.map((c) => `${c.name} ${c.from ?? '(new)'} → ${c.to ?? '(removed)'}`).join(', ');
}

function describePlan(planned: PlannedChange[]): string {
  if (planned.length === 0) return 'nothing to do';
  return planned.map((c) => `${c.action} ${c.name}${c.to ? ` ${c.to}` : ''}`).join(', ');
}

/**
 * The agent's pipeline against a fake host: the runner answers from a package table that installs
 * and rollbacks change, and from the recorded fixtures. Dry-run must never hand the runner a
 * command that changes the host.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAgentActivities, type AgentActivities } from '../../src/connectors/agent/activities';
import type { Command } from '../../src/connectors/agent/commands';
import type { CommandResult, Runner } from '../../src/connectors/agent/runner';
import type { HostWork } from '../../src/domain/deployment';
import { newWorkOrder, signWorkOrder, workOrderRequest, type SignedWorkOrder, type WorkOperation } from '../../src/domain/work-order';
import { createLogger } from '../../src/logger';
import { newSigningKey } from '../../src/signing/keys';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'agent');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const ok = (stdout = '', stderr = ''): CommandResult => ({ code: 0, stdout, stderr });

/** Reads only: what dry-run may run. */
const READ_ONLY = new Set(['dpkg-query', 'rpm', 'df', 'systemctl', 'journalctl', 'sshd']);
const isReadOnly = (argv: string[]) =>
  READ_ONLY.has(argv[0]!) || (argv[0] === 'apt-get' && argv.includes('-s')) || argv.includes('--assumeno');

/** A Debian or Rocky host: installed packages by `name:arch`, changed by the install and rollback commands it is given. */
class FakeHost {
  readonly ran: string[][] = [];
  readonly packages = new Map<string, string>();
  /** Answers for a command before the defaults; `undefined` falls through. */
  answer: (argv: string[]) => CommandResult | undefined = () => undefined;
  /** Extra versions an install also sets (dependencies), or a version other than the pinned one. */
  installEffect: (pins: Map<string, string>) => void = () => undefined;
  dfAvailableKb = 10_000_000;
  onRun: (argv: string[]) => void = () => undefined;

  constructor(
    readonly pm: 'apt' | 'dnf',
    packages: Record<string, string>,
  ) {
    for (const [key, version] of Object.entries(packages))
      this.packages.set(key.includes(':') ? key : `${key}:${pm === 'apt' ? 'amd64' : 'x86_64'}`, version);
  }

  version(name: string): string | undefined {
    return [...this.packages].find(([key]) => key.startsWith(`${name}:`))?.[1];
  }

  runner: Runner = async (command: Command) => {
    const argv = command.argv;
    this.ran.push(argv);
    this.onRun(argv);
    const answer = this.answer(argv);
    if (answer) return answer;
    const [bin, sub] = argv;
    if (bin === 'dpkg-query') {
      return ok(
        [...this.packages]
          .map(([key, version]) => `ii \t${key.split(':')[0]}\t${version}\t${key.split(':')[1]}\t${key.split(':')[0]}\n`)
          .join(''),
      );
    }
    if (bin === 'rpm') {
      return ok(
        [...this.packages]
          .map(([key, v]) => {
            const [name, arch] = key.split(':');
            const [epoch, vr] = v.includes(':') ? v.split(':') : ['(none)', v];
            return `${name}\t${epoch}\t${vr}\t${arch}\t${name}-${vr}.src.rpm\n`;
          })
          .join(''),
      );
    }
    if (bin === 'df')
      return ok(`Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 264212084 16346624 ${this.dfAvailableKb} 18% /\n`);
    if (bin === 'shutdown' || sub === 'update' || sub === 'makecache') return ok();
    if (isReadOnly(argv)) return ok();
    if ((bin === 'apt-get' || bin === 'dnf') && sub === 'install') {
      const pins = new Map(
        argv
          .slice(2)
          .filter((a) => !a.startsWith('-') && !a.includes('::') && a !== 'DPkg::Lock::Timeout=300')
          .map((a) => {
            if (bin === 'apt-get') {
              const [name, version] = a.split('=') as [string, string];
              return [name.includes(':') ? name : `${name}:amd64`, version];
            }
            const match = /^(.+?)-(\d+:)?([^-]+-[^-]+?)(?:\.(x86_64|i686|noarch))?$/.exec(a)!;
            return [`${match[1]}:${match[4] ?? 'x86_64'}`, `${match[2] ?? ''}${match[3]}`];
          }),
      );
      for (const [key, version] of pins) this.packages.set(key, version);
      this.installEffect(pins);
      return ok('Setting up …\n');
    }
    throw new Error(`unexpected command ${argv.join(' ')}`);
  };
}

/** The orchestrator's key the agents under test trust, and one they do not. */
const ORCHESTRATOR = newSigningKey();
const STRANGER = newSigningKey();
/** MockActivityEnvironment's workflow id: the workflow an order is signed for. */
const WORKFLOW = 'test';

/** A genuine order for `operation` on `w`, as the signing activity would issue it; `change` alters it before signing. */
function genuine(
  operation: WorkOperation,
  w: HostWork,
  { key = ORCHESTRATOR, now = Date.now(), change = {} }: { key?: typeof ORCHESTRATOR; now?: number; change?: object } = {},
): SignedWorkOrder {
  const order = newWorkOrder(workOrderRequest(operation, w), { id: crypto.randomUUID(), workflowId: WORKFLOW, now });
  return signWorkOrder({ ...order, ...change }, key.secretKey);
}

let stateDir: string;
let bootIdFile: string;
beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-agent-'));
  bootIdFile = path.join(stateDir, 'boot_id');
  fs.writeFileSync(bootIdFile, 'boot-1\n');
});

const journalFile = () => path.join(stateDir, 'journal.jsonl');
const journalLines = (): any[] =>
  fs.existsSync(journalFile())
    ? fs
        .readFileSync(journalFile(), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
/** A journal line as an earlier install of this patch by the agent would have left it. */
function journalled(pkg: string, before: string, after: string, { patchId = 'p1', dryRun = false } = {}) {
  const entry = {
    kind: 'change',
    at: new Date().toISOString(),
    patchId,
    orderId: 'earlier',
    operation: 'deploy',
    package: pkg,
    before,
    after,
    dryRun,
  };
  fs.appendFileSync(journalFile(), `${JSON.stringify(entry)}\n`);
}

/** The agent as the orchestrator drives it: each call that changes the host comes with a genuine order unless one is given. */
function agent(host: FakeHost, dryRun = false, assetId = 'web-01'): AgentActivities {
  const raw = rawAgent(host, dryRun, assetId);
  return {
    ...raw,
    deployHost: (w, o = genuine('deploy', w)) => raw.deployHost(w, o),
    rebootHost: (w, o = genuine('reboot', w)) => raw.rebootHost(w, o),
    postCheckHost: (w, o = genuine('post-check', w)) => raw.postCheckHost(w, o),
    rollbackHost: (w, o = genuine('rollback', w)) => raw.rollbackHost(w, o),
  };
}

function rawAgent(host: FakeHost, dryRun = false, assetId = 'web-01'): AgentActivities {
  return createAgentActivities({
    assetId,
    dryRun,
    orchestratorKey: ORCHESTRATOR.publicKey,
    journalFile: journalFile(),
    logger: createLogger('silent'),
    runner: host.runner,
    files: { osRelease: path.join(FIXTURES, host.pm === 'apt' ? 'os-release.debian-12' : 'os-release.rocky-9.3'), bootId: bootIdFile },
    stateDir: path.join(stateDir, 'run'),
    pollMs: 20,
  });
}

/** Runs one activity call in a fresh activity context. */
const quiet = { logger: new DefaultLogger('ERROR') };
const call = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  new MockActivityEnvironment(undefined, quiet).run(fn, ...args);

const work = (packages: HostWork['packages'], extra: Partial<HostWork> = {}): HostWork => ({
  patchId: 'p1',
  assetId: 'web-01',
  attempt: 1,
  packages,
  ...extra,
});
const CURL = [{ name: 'curl', fixedVersion: '7.88.1-10+deb12u15' }];
const debian = () =>
  new FakeHost('apt', { curl: '7.88.1-10+deb12u14', libcurl4: '7.88.1-10+deb12u14', bash: '5.2.15-2+b8', libc6: '2.36-9+deb12u4' });
const names = (host: FakeHost) =>
  host.ran.map((argv) => (argv[0] === 'apt-get' ? `apt-get ${argv.includes('-s') ? '-s ' : ''}${argv[1]}` : argv[0]));

describe('deployHost on a real (fake) host', () => {
  it('prechecks, simulates, installs the pinned version and checks it; the changes carry the previous versions', async () => {
    const host = debian();
    host.installEffect = () => host.packages.set('libcurl4:amd64', '7.88.1-10+deb12u15');
    host.answer = (argv) => (argv.includes('-s') ? ok(fixture('apt-get-s.upgrade.stdout')) : undefined);
    const result = await call(agent(host).deployHost, work(CURL));

    expect(result.status).toBe('installed');
    expect(result.steps.map((s) => [s.step, s.ok])).toEqual([
      ['precheck', true],
      ['backup', true],
      ['install', true],
      ['post-check', true],
    ]);
    expect(result.steps[0]!.detail).toMatch(
      /^affected: curl 7\.88\.1-10\+deb12u14 < 7\.88\.1-10\+deb12u15; disk: \/ 9766 MB free; plan: change curl 7\.88\.1-10\+deb12u15, change libcurl4/,
    );
    expect(result.steps[2]!.changes).toEqual([
      { name: 'curl', from: '7.88.1-10+deb12u14', to: '7.88.1-10+deb12u15' },
      { name: 'libcurl4', from: '7.88.1-10+deb12u14', to: '7.88.1-10+deb12u15' },
    ]);
    expect(names(host)).toEqual(['dpkg-query', 'df', 'apt-get update', 'apt-get -s install', 'apt-get install', 'dpkg-query']);
    expect(host.ran[4]).toContain('curl=7.88.1-10+deb12u15');
  });

  it('skips a host already at the fixed version without changing anything (a retry is idempotent)', async () => {
    const host = debian();
    const result = await call(
      agent(host).deployHost,
      work([
        { name: 'curl', fixedVersion: '7.88.1-10+deb12u5' },
        { name: 'openssl', fixedVersion: '3.0.15-1~deb12u1' },
      ]),
    );
    expect(result).toMatchObject({
      status: 'skipped',
      steps: [
        { step: 'precheck', ok: true, detail: 'not affected: curl 7.88.1-10+deb12u14 ≥ 7.88.1-10+deb12u5; openssl is not installed' },
      ],
    });
    expect(names(host)).toEqual(['dpkg-query']);
  });

  it('stops on a full disk before touching the package manager', async () => {
    const host = debian();
    host.dfAvailableKb = 100 * 1024;
    const result = await call(agent(host).deployHost, work(CURL));
    expect(result).toMatchObject({ status: 'failed', reason: 'disk full: / has 100 MB free, 500 MB needed' });
    expect(names(host)).toEqual(['dpkg-query', 'df']);
  });

  it('stops when the simulation fails (version not available, removal needed)', async () => {
    const host = debian();
    host.answer = (argv) =>
      argv.includes('-s')
        ? { code: 100, stdout: fixture('apt-get-s.not-found.stdout'), stderr: fixture('apt-get-s.not-found.stderr') }
        : undefined;
    expect(await call(agent(host).deployHost, work(CURL))).toMatchObject({
      status: 'failed',
      reason: "precheck: Version '9.9' for 'bash' was not found",
    });
    host.answer = (argv) =>
      argv.includes('-s')
        ? { code: 100, stdout: fixture('apt-get-s.remove.stdout'), stderr: fixture('apt-get-s.remove.stderr') }
        : undefined;
    expect(await call(agent(host).deployHost, work(CURL))).toMatchObject({
      status: 'failed',
      reason: 'precheck: Packages need to be removed but remove is disabled.',
    });
    expect(host.ran.filter((argv) => argv[1] === 'install' && !argv.includes('-s'))).toEqual([]);
  });

  it('a failed install that changed packages rolls them back and says why', async () => {
    const host = debian();
    host.answer = (argv) => {
      if (argv[1] === 'install' && argv.includes('--only-upgrade') && !argv.includes('-s')) {
        host.packages.set('libcurl4:amd64', '7.88.1-10+deb12u15');
        return { code: 100, stdout: '', stderr: 'E: Sub-process /usr/bin/dpkg returned an error code (1)\n' };
      }
      return undefined;
    };
    const result = await call(agent(host).deployHost, work(CURL));
    expect(result).toMatchObject({ status: 'rolled-back', reason: 'install failed: Sub-process /usr/bin/dpkg returned an error code (1)' });
    expect(result.steps.map((s) => [s.step, s.ok])).toEqual([
      ['precheck', true],
      ['backup', true],
      ['install', false],
      ['rollback', true],
    ]);
    expect(host.ran.at(-2)).toEqual(expect.arrayContaining(['--allow-downgrades', 'libcurl4=7.88.1-10+deb12u14']));
    expect(host.version('libcurl4')).toBe('7.88.1-10+deb12u14');
  });

  it('a post-check that finds the version still too old rolls back', async () => {
    const host = debian();
    host.installEffect = () => {
      host.packages.set('curl:amd64', '7.88.1-10+deb12u14.1');
      host.installEffect = () => undefined;
    };
    const result = await call(agent(host).deployHost, work(CURL));
    expect(result).toMatchObject({
      status: 'rolled-back',
      reason: 'post-check: still below the fixed version: curl 7.88.1-10+deb12u14.1 < 7.88.1-10+deb12u15',
    });
    expect(host.version('curl')).toBe('7.88.1-10+deb12u14');
  });

  it('a C library upgrade ends reboot-required; reboot, await and post-check follow', async () => {
    const host = debian();
    const a = agent(host);
    const libc = work([{ name: 'libc6', fixedVersion: '2.36-9+deb12u9' }], { previousVersions: { libc6: '2.36-9+deb12u4' } });
    expect((await call(a.deployHost, libc)).status).toBe('reboot-required');

    expect(await call(a.rebootHost, libc)).toMatchObject({ status: 'installed', steps: [{ step: 'reboot', ok: true }] });
    expect(await call(a.rebootHost, libc)).toMatchObject({ status: 'installed', steps: [{ detail: 'reboot already scheduled' }] });
    expect(host.ran.filter((argv) => argv[0] === 'shutdown')).toEqual([['shutdown', '-r', '+1', 'patchflow: reboot for patch p1']]);

    // before the reboot, awaitHost waits (heartbeating) until it is cancelled
    const env = new MockActivityEnvironment(undefined, quiet);
    const beats: unknown[] = [];
    env.on('heartbeat', (d) => beats.push(d));
    const waiting = env.run(a.awaitHost, libc);
    await new Promise((r) => setTimeout(r, 100));
    env.cancel();
    await expect(waiting).rejects.toThrow();
    expect(beats).toContain('waiting for the reboot');

    // after it (a new boot id), the host is up
    fs.writeFileSync(bootIdFile, 'boot-2\n');
    expect(await call(a.awaitHost, libc)).toMatchObject({ status: 'installed', steps: [{ step: 'await', ok: true }] });
    expect(await call(a.postCheckHost, libc)).toMatchObject({ status: 'installed', steps: [{ step: 'post-check', ok: true }] });
  });

  it('honours a cancellation until the install begins', async () => {
    const host = debian();
    const env = new MockActivityEnvironment(undefined, quiet);
    host.onRun = (argv) => argv.includes('-s') && env.cancel();
    await expect(env.run(agent(host).deployHost, work(CURL))).rejects.toThrow();
    expect(names(host)).toEqual(['dpkg-query', 'df', 'apt-get update', 'apt-get -s install']);
  });

  it('refuses work meant for another host', async () => {
    const err = await call(agent(debian()).deployHost, work(CURL, { assetId: 'db-02' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'WrongHost', nonRetryable: true, message: 'work for db-02 reached the agent of web-01' });
  });
});

describe('rollbackHost, inspectHost, testHost, reportInventory', () => {
  it('restores the previous versions its own install journalled, and a second call finds nothing to do', async () => {
    const host = debian();
    host.installEffect = () => host.packages.set('libcurl4:amd64', '7.88.1-10+deb12u15');
    const a = agent(host);
    expect((await call(a.deployHost, work(CURL))).status).toBe('installed');
    expect(journalLines().filter((e) => e.kind === 'change' && !e.planned)).toMatchObject([
      { patchId: 'p1', operation: 'deploy', package: 'curl', before: '7.88.1-10+deb12u14', after: '7.88.1-10+deb12u15', dryRun: false },
      { patchId: 'p1', operation: 'deploy', package: 'libcurl4', before: '7.88.1-10+deb12u14', after: '7.88.1-10+deb12u15', dryRun: false },
    ]);
    host.ran.length = 0;
    host.installEffect = () => undefined;
    const w = work(CURL, { previousVersions: { curl: '7.88.1-10+deb12u14', libcurl4: '7.88.1-10+deb12u14' } });
    const first = await call(a.rollbackHost, w);
    expect(first).toMatchObject({ status: 'rolled-back', steps: [{ step: 'rollback', ok: true }] });
    expect(first.steps[0]!.changes).toHaveLength(2);
    expect(host.ran.find((argv) => argv[1] === 'install')).toEqual(
      expect.arrayContaining(['--allow-downgrades', 'curl=7.88.1-10+deb12u14', 'libcurl4=7.88.1-10+deb12u14']),
    );
    expect(await call(a.rollbackHost, w)).toMatchObject({
      status: 'rolled-back',
      steps: [{ detail: 'nothing to restore: the previous versions are installed' }],
    });
    expect(await call(a.rollbackHost, work(CURL))).toMatchObject({
      status: 'rolled-back',
      steps: [{ detail: 'nothing to restore: this patch changed no package' }],
    });
  });

  it('a rollback that does not take is a failure', async () => {
    const host = new FakeHost('apt', { curl: '7.88.1-10+deb12u15' });
    journalled('curl', '7.88.1-10+deb12u5', '7.88.1-10+deb12u15');
    host.answer = (argv) =>
      argv.includes('--allow-downgrades') ? { code: 100, stdout: '', stderr: fixture('apt-get-s.downgrade-broken.stderr') } : undefined;
    const result = await call(agent(host).rollbackHost, work(CURL, { previousVersions: { curl: '7.88.1-10+deb12u5' } }));
    expect(result).toMatchObject({
      status: 'failed',
      reason: 'rollback failed: curl not restored (exit 100: Unable to correct problems, you have held broken packages.)',
    });
  });

  it('inspects the real versions', async () => {
    const a = agent(debian());
    expect(await call(a.inspectHost, work(CURL))).toEqual({
      assetId: 'web-01',
      compliant: false,
      reason: 'still affected: curl 7.88.1-10+deb12u14 < 7.88.1-10+deb12u15',
    });
    expect(await call(a.inspectHost, work([{ name: 'bash', fixedVersion: '5.2.15-2' }]))).toEqual({ assetId: 'web-01', compliant: true });
  });

  it("runs the role's test plan with read-only checks", async () => {
    const host = debian();
    host.answer = (argv) => {
      if (argv[0] === 'systemctl') return ok('nginx.service loaded failed failed nginx\n');
      if (argv[0] === 'sshd') return { code: 127, stdout: '', stderr: 'sshd: command not found\n' };
      return undefined;
    };
    const checks = await call(agent(host).testHost, { ...work(CURL), role: 'web' });
    expect(checks.map((c) => [c.check, c.ok])).toEqual([
      ['web: services up', false],
      ['web: logins work', false],
      ['web: no new errors in the logs', true],
      ['web: performance within 10% of baseline', expect.any(Boolean)],
    ]);
    expect(checks[0]!.detail).toBe('failed units: nginx.service');
    expect(names(host)).toEqual(['systemctl', 'sshd', 'journalctl']);
  });

  it('reports the inventory', async () => {
    expect(await call(agent(debian()).reportInventory)).toContainEqual({ name: 'bash', version: '5.2.15-2+b8', arch: 'amd64' });
  });
});

describe('dnf hosts', () => {
  it('pins name-epoch:version-release, per architecture when the host has several', async () => {
    const host = new FakeHost('dnf', { openssl: '1:3.0.7-24.el9', 'glibc:x86_64': '2.34-83.el9.7', 'glibc:i686': '2.34-83.el9.7' });
    host.answer = (argv) =>
      argv.includes('--assumeno')
        ? { code: 1, stdout: fixture('dnf-assumeno.upgrade.stdout'), stderr: fixture('dnf-assumeno.upgrade.stderr') }
        : undefined;
    const result = await call(
      agent(host).deployHost,
      work([
        { name: 'openssl', fixedVersion: '1:3.0.7-25.el9_3' },
        { name: 'glibc', fixedVersion: '2.34-83.el9.12' },
      ]),
    );
    expect(result.status).toBe('reboot-required');
    expect(host.ran.find((argv) => argv[0] === 'dnf' && argv.includes('-y'))).toEqual([
      'dnf',
      'install',
      '-y',
      '--setopt=install_weak_deps=False',
      'openssl-1:3.0.7-25.el9_3',
      'glibc-2.34-83.el9.12.x86_64',
      'glibc-2.34-83.el9.12.i686',
    ]);
    expect(host.version('openssl')).toBe('1:3.0.7-25.el9_3');
  });

  it('a version the repositories lack fails the precheck', async () => {
    const host = new FakeHost('dnf', { openssl: '1:3.0.7-24.el9' });
    host.answer = (argv) =>
      argv.includes('--assumeno')
        ? { code: 1, stdout: fixture('dnf-assumeno.no-match.stdout'), stderr: fixture('dnf-assumeno.no-match.stderr') }
        : undefined;
    expect(await call(agent(host).deployHost, work([{ name: 'openssl', fixedVersion: '1:9.9-1.el9' }]))).toMatchObject({
      status: 'failed',
      reason: 'precheck: No match for argument: openssl-1:9.9-1.el9; Error: Unable to find a match: openssl-1:9.9-1.el9',
    });
  });
});

describe('dry-run', () => {
  it('runs only read-only commands and reports what would run', async () => {
    const host = debian();
    const a = agent(host, true);
    const libc = work([{ name: 'libc6', fixedVersion: '2.36-9+deb12u9' }, ...CURL], { previousVersions: { curl: '7.88.1-10+deb12u13' } });
    const deployed = await call(a.deployHost, libc);
    expect(deployed.status).toBe('reboot-required');
    expect(deployed.steps.find((s) => s.step === 'install')).toMatchObject({
      ok: true,
      detail: expect.stringMatching(
        /^dry-run: would run: apt-get install .* --only-upgrade libc6=2\.36-9\+deb12u9 curl=7\.88\.1-10\+deb12u15$/,
      ),
      changes: [
        { name: 'libc6', from: '2.36-9+deb12u4', to: '2.36-9+deb12u9' },
        { name: 'curl', from: '7.88.1-10+deb12u14', to: '7.88.1-10+deb12u15' },
      ],
    });
    expect((await call(a.rebootHost, libc)).steps[0]!.detail).toBe("dry-run: would run: shutdown -r +1 'patchflow: reboot for patch p1'");
    expect((await call(a.awaitHost, libc)).status).toBe('installed');
    expect((await call(a.postCheckHost, libc)).steps[0]!.detail).toMatch(/^dry-run: would check libc6 ≥ 2\.36-9\+deb12u9/);
    // u13 is not what the dry-run install journalled (u14 was there): refused
    await expect(call(a.rollbackHost, libc)).rejects.toThrow(/curl=7\.88\.1-10\+deb12u13 is not a version this agent's journal recorded/);
    expect(journalLines().filter((e) => e.kind === 'change')).toMatchObject([
      { package: 'libc6', before: '2.36-9+deb12u4', after: '2.36-9+deb12u9', dryRun: true },
      { package: 'curl', before: '7.88.1-10+deb12u14', after: '7.88.1-10+deb12u15', dryRun: true },
    ]);
    journalled('curl', '7.88.1-10+deb12u13', '7.88.1-10+deb12u14', { dryRun: true });
    expect((await call(a.rollbackHost, libc)).steps[0]!.detail).toBe(
      'dry-run: would run: apt-get install -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends --no-remove --allow-downgrades curl=7.88.1-10+deb12u13',
    );
    await call(a.testHost, { ...libc, role: null });
    await call(a.inspectHost, libc);

    expect(host.ran.length).toBeGreaterThan(0);
    expect(host.ran.filter((argv) => !isReadOnly(argv))).toEqual([]);
    expect(host.version('curl')).toBe('7.88.1-10+deb12u14');
    expect(fs.existsSync(path.join(stateDir, 'run'))).toBe(false);
  });
});

describe('work orders', () => {
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'WorkOrderRefused', nonRetryable: true });
    return (err as Error).message;
  };

  it('refuses a change without a genuine order for exactly this task, before running anything', async () => {
    const host = debian();
    const a = rawAgent(host);
    const w = work(CURL);
    const forged: [string, SignedWorkOrder | undefined, RegExp][] = [
      ['unsigned', undefined, /no work order/],
      ['signed by another key', genuine('deploy', w, { key: STRANGER }), /not signed by the orchestrator this agent trusts/],
      ['expired', genuine('deploy', w, { now: Date.now() - 7 * 3_600_000 }), /expired at/],
      ['for another host', genuine('deploy', { ...w, assetId: 'db-02' }), /is for db-02, not this host \(web-01\)/],
      ['for another operation', genuine('rollback', w), /is for rollback, the task is deploy/],
      [
        'for other packages',
        genuine('deploy', work([{ name: 'curl', fixedVersion: '9.9' }])),
        /names other packages than the task: curl=9\.9/,
      ],
      ['for another patch', genuine('deploy', { ...w, patchId: 'p2' }), /is for patch p2 attempt 1/],
      ['for another workflow', genuine('deploy', w, { change: { workflowId: 'someone-elses' } }), /signed for workflow someone-elses/],
      ['altered after signing', { ...genuine('deploy', w), order: { ...genuine('deploy', w).order, attempt: 2 } }, /not signed/],
    ];
    for (const [what, order, reason] of forged) expect(await refusal(call(a.deployHost, w, order)), what).toMatch(reason);
    expect(await refusal(call(a.rebootHost, w, undefined))).toMatch(/no work order/);
    expect(await refusal(call(a.postCheckHost, w, genuine('deploy', w)))).toMatch(/is for deploy, the task is post-check/);
    expect(host.ran).toEqual([]);
    expect(journalLines()).toEqual([]);
  });

  it('rolls back only to versions its journal recorded before an install of the same patch', async () => {
    const host = new FakeHost('apt', { 'openssh-server': '1:8.9p1-3ubuntu0.10' });
    journalled('openssh-server', '1:8.9p1-3ubuntu0.6', '1:8.9p1-3ubuntu0.10');
    journalled('openssh-server', '1:8.9p1-3ubuntu0.1', '1:8.9p1-3ubuntu0.10', { patchId: 'other-patch' });
    journalled('openssh-server', '1:8.9p1-3ubuntu0.2', '1:8.9p1-3ubuntu0.10', { dryRun: true });
    const a = rawAgent(host);
    const rollback = (version: string) => {
      const w = work([{ name: 'openssh-server', fixedVersion: '1:8.9p1-3ubuntu0.10' }], {
        previousVersions: { 'openssh-server': version },
      });
      return call(a.rollbackHost, w, genuine('rollback', w));
    };
    // a downgrade the orchestrator signed, but to versions this patch never replaced here
    for (const version of ['1:8.9p1-3ubuntu0.1', '1:8.9p1-3ubuntu0.2', '1:7.4p1-1'])
      expect(await refusal(rollback(version))).toMatch(/is not a version this agent's journal recorded before patch p1 changed the host/);
    expect(host.ran).toEqual([]);
    expect(await rollback('1:8.9p1-3ubuntu0.6')).toMatchObject({ status: 'rolled-back' });
    expect(host.version('openssh-server')).toBe('1:8.9p1-3ubuntu0.6');
  });

  it('carries out one order once: the same order again (a retry after a lost answer, a replay) changes nothing', async () => {
    const host = debian();
    const a = rawAgent(host);
    const w = work(CURL);
    const order = genuine('deploy', w);
    expect((await call(a.deployHost, w, order)).status).toBe('installed');
    const installs = host.ran.filter((argv) => argv[1] === 'install' && !argv.includes('-s')).length;
    host.packages.set('curl:amd64', '7.88.1-10+deb12u14');
    expect(await call(a.deployHost, w, order)).toMatchObject({
      status: 'installed',
      steps: [
        { step: 'precheck', ok: true, detail: `work order ${order.order.id} was carried out already (installed); nothing run again` },
      ],
    });
    expect(host.ran.filter((argv) => argv[1] === 'install' && !argv.includes('-s')).length).toBe(installs);
  });

  it('journals the versions to restore before the install runs: a crash in the middle still allows the rollback', async () => {
    const host = debian();
    host.answer = (argv) => {
      if (argv[1] === 'install' && !argv.includes('-s')) throw new Error('the agent died during the install');
      return undefined;
    };
    await expect(call(agent(host).deployHost, work(CURL))).rejects.toThrow('the agent died');
    expect(journalLines()).toMatchObject([{ kind: 'change', planned: true, package: 'curl', before: '7.88.1-10+deb12u14' }]);
    host.answer = () => undefined;
    host.packages.set('curl:amd64', '7.88.1-10+deb12u15');
    const back = work(CURL, { previousVersions: { curl: '7.88.1-10+deb12u14' } });
    expect(await call(agent(host).rollbackHost, back)).toMatchObject({ status: 'rolled-back' });
    expect(host.version('curl')).toBe('7.88.1-10+deb12u14');
  });
});

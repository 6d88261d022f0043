/**
 * Leftovers of a crashed `patchflow up`: records in processes.json are checked against /proc
 * (pid, start time, command line) before anything is stopped, so a reused pid is never killed;
 * and children spawned tied to their parent do not outlive it. Real processes (`sleep`, this
 * test process) throughout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  AlreadyRunningError,
  checkRecord,
  ProcessRegistry,
  sameCommandLine,
  stopLeftovers,
  UP_PROCESS,
  type ProcessRecord,
} from '../../src/runtime/leftovers';
import { childExit, findSetpriv, isLive, readProc, sleep } from '../../src/runtime/process';

const logger = pino({ level: 'silent' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-leftovers-'));
const children: ChildProcess[] = [];
const orphans: number[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sleeper(...extra: string[]): ChildProcess {
  // `sh -c 'trap "" TERM; exec sleep'` ignores SIGTERM (the trap is inherited through exec)
  const child = extra.includes('ignore-term')
    ? spawn('sh', ['-c', 'trap "" TERM; exec sleep 600'], { stdio: 'ignore' })
    : spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function cmdlineOf(pid: number, expected: string): Promise<string[]> {
  // right after spawn the child may not have exec'd yet
  for (let i = 0; i < 100; i++) {
    const info = readProc(pid);
    if (info?.cmdline[0] === expected) return info.cmdline;
    await sleep(10);
  }
  throw new Error(`pid ${pid} never ran ${expected}`);
}

function registry(name: string): ProcessRegistry {
  return new ProcessRegistry(path.join(dir, `${name}.json`));
}

describe('readProc', () => {
  it('reads the start time (field 22) and the command line of this very process', () => {
    const self = readProc(process.pid)!;
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(self.startTime).toBe(fields[19]);
    expect(self.startTime).toMatch(/^\d+$/);
    expect(self.cmdline).toEqual(fs.readFileSync('/proc/self/cmdline', 'utf8').split('\0').slice(0, -1));
    expect(self.cmdline).toContain(process.argv[1]);
    expect(isLive(self)).toBe(true);
    expect(readProc(2 ** 22 + 12345)).toBeUndefined();
  });
});

describe('sameCommandLine', () => {
  it('matches the command itself or behind the wrapper that execs it', () => {
    const cmd = ['/opt/temporal', 'server', 'start-dev', '--port', '7233'];
    expect(sameCommandLine(cmd, cmd)).toBe(true);
    expect(sameCommandLine(['/usr/bin/setpriv', '--pdeathsig', 'SIGTERM', '--', ...cmd], cmd)).toBe(true);
    expect(sameCommandLine(['/opt/temporal', 'server', 'start-dev', '--port', '7234'], cmd)).toBe(false);
    expect(sameCommandLine(['sleep', '600'], cmd)).toBe(false);
    expect(sameCommandLine(cmd, [])).toBe(false);
  });
});

describe('checkRecord', () => {
  it('knows a recorded process, and tells a reused pid from it', async () => {
    const child = sleeper();
    const reg = registry('check');
    const cmdline = await cmdlineOf(child.pid!, 'sleep');
    const record = reg.add('sleeper', child.pid!, cmdline)!;
    expect(record.startTime).toBe(readProc(child.pid!)!.startTime);
    expect(checkRecord(record)).toMatchObject({ status: 'running' });
    // same pid, other start time: the pid was reused
    expect(checkRecord({ ...record, startTime: String(Number(record.startTime) - 1) })).toMatchObject({ status: 'other-process' });
    // same pid and start time, other command: not ours either
    expect(checkRecord({ ...record, cmdline: ['postgres', '-D', '/somewhere'] })).toMatchObject({ status: 'other-process' });
    child.kill('SIGKILL');
    await childExit(child);
    expect(checkRecord(record)).toEqual({ status: 'gone' });
  });
});

describe('stopLeftovers', () => {
  it('stops recorded processes that are still the same, SIGKILL after the grace period, and forgets the records', async () => {
    const polite = sleeper();
    const stubborn = sleeper('ignore-term');
    const reg = registry('stop');
    reg.add('temporal dev server', polite.pid!, await cmdlineOf(polite.pid!, 'sleep'));
    reg.add('postgres', stubborn.pid!, await cmdlineOf(stubborn.pid!, 'sleep'), 'SIGTERM');
    reg.add(UP_PROCESS, 2 ** 22 + 54321, ['node', 'bin/patchflow.js', 'up']); // long gone

    const started = Date.now();
    const stopped = await stopLeftovers(reg, logger, { graceMs: 500 });
    expect(stopped.map((r) => r.name).sort()).toEqual(['postgres', 'temporal dev server']);
    expect((await childExit(polite)).signal).toBe('SIGTERM');
    expect((await childExit(stubborn)).signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(reg.read()).toEqual([]);
    expect(fs.existsSync(reg.file)).toBe(false);
  });

  it('never kills a pid that now belongs to another process', async () => {
    const bystander = sleeper();
    const reg = registry('reused');
    const cmdline = await cmdlineOf(bystander.pid!, 'sleep');
    const info = readProc(bystander.pid!)!;
    // a record of "our" dev server whose pid the kernel has since given to the bystander
    const wrongStart: ProcessRecord = {
      name: 'temporal dev server',
      pid: bystander.pid!,
      startTime: String(Number(info.startTime) - 100),
      cmdline,
      stopSignal: 'SIGTERM',
      recordedAt: new Date().toISOString(),
    };
    fs.writeFileSync(reg.file, JSON.stringify({ processes: [wrongStart] }));
    expect(await stopLeftovers(reg, logger, { graceMs: 100 })).toEqual([]);
    // a record with the right start time but another command line
    const wrongCommand = { ...wrongStart, startTime: info.startTime, cmdline: ['/opt/temporal', 'server', 'start-dev'] };
    fs.writeFileSync(reg.file, JSON.stringify({ processes: [wrongCommand] }));
    expect(await stopLeftovers(reg, logger, { graceMs: 100 })).toEqual([]);
    await sleep(200);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    expect(isLive(readProc(bystander.pid!))).toBe(true);
  });

  it('refuses to start while the recorded patchflow up still runs, and touches nothing', async () => {
    const otherUp = sleeper();
    const server = sleeper();
    const reg = registry('running');
    reg.add(UP_PROCESS, otherUp.pid!, await cmdlineOf(otherUp.pid!, 'sleep'));
    reg.add('temporal dev server', server.pid!, await cmdlineOf(server.pid!, 'sleep'));
    await expect(stopLeftovers(reg, logger, { graceMs: 100 })).rejects.toThrow(AlreadyRunningError);
    await expect(stopLeftovers(reg, logger, { graceMs: 100 })).rejects.toThrow(/patchflow up is already running .* \(pid \d+\)/);
    expect(reg.read()).toHaveLength(2);
    expect(server.exitCode).toBeNull();
    expect(server.signalCode).toBeNull();
  });

  it('reads a missing or damaged file as no records', async () => {
    const reg = registry('damaged');
    expect(reg.read()).toEqual([]);
    fs.writeFileSync(reg.file, '{"processes": [ {"pid": "x"} ');
    expect(reg.read()).toEqual([]);
    expect(await stopLeftovers(reg, logger)).toEqual([]);
  });
});

describe('spawnTied', () => {
  for (const tie of ['auto', 'watchdog'] as const) {
    it(`stops the child when its parent is killed with SIGKILL (${tie === 'auto' ? 'setpriv --pdeathsig' : 'shell watchdog'})`, async () => {
      if (tie === 'auto' && !findSetpriv()) return; // no util-linux setpriv here: the watchdog case covers it
      const parent = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../helpers/tied-parent.ts'), tie], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(parent);
      const pid = await new Promise<number>((resolve, reject) => {
        parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        parent.once('exit', (code) => reject(new Error(`parent exited (${code})`)));
      });
      orphans.push(pid);
      await cmdlineOf(pid, 'sleep'); // setpriv has exec'd sleep: same pid, sleep's own command line
      const before = readProc(pid)!;
      parent.kill('SIGKILL');
      await childExit(parent);
      const killedAt = Date.now();
      while (isLive(readProc(pid)) && readProc(pid)?.startTime === before.startTime) {
        if (Date.now() - killedAt > 5000) throw new Error(`sleep (pid ${pid}) outlived its parent by 5 s`);
        await sleep(20);
      }
      expect(Date.now() - killedAt).toBeLessThan(tie === 'auto' ? 1000 : 3000);
    });
  }
});

/**
 * The supervisor of `patchflow up`: the restart policy (backoff, crash loop) as a pure function
 * of timestamps, and the supervisor itself on real child processes (`sleep`, `sh -c 'exit 3'`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { childExit, sleep, stopChild, type ChildExit } from '../../src/runtime/process';
import { RestartPolicy, Supervisor, type SupervisedChild } from '../../src/runtime/supervisor';

describe('RestartPolicy', () => {
  it('waits 1 s, 2 s, 4 s, 8 s, and gives up at the fifth exit within a minute', () => {
    const policy = new RestartPolicy();
    const t0 = 1_000_000;
    expect(policy.recordExit(t0)).toEqual({ action: 'restart', delayMs: 1000, exitsInWindow: 1 });
    expect(policy.recordExit(t0 + 5_000)).toEqual({ action: 'restart', delayMs: 2000, exitsInWindow: 2 });
    expect(policy.recordExit(t0 + 10_000)).toEqual({ action: 'restart', delayMs: 4000, exitsInWindow: 3 });
    expect(policy.recordExit(t0 + 20_000)).toEqual({ action: 'restart', delayMs: 8000, exitsInWindow: 4 });
    expect(policy.recordExit(t0 + 59_000)).toEqual({ action: 'give-up', exitsInWindow: 5 });
  });

  it('forgets exits older than the window, so a child that ran for a while restarts quickly again', () => {
    const policy = new RestartPolicy();
    const t0 = 0;
    for (let i = 0; i < 4; i++) policy.recordExit(t0 + i * 1000);
    // exits at 0, 1, 2, 3 s; at 61.5 s the first two are out of the window
    expect(policy.recordExit(t0 + 61_500)).toEqual({ action: 'restart', delayMs: 4000, exitsInWindow: 3 });
    // much later: only this one counts
    expect(policy.recordExit(t0 + 10 * 60_000)).toEqual({ action: 'restart', delayMs: 1000, exitsInWindow: 1 });
  });

  it('caps the delay', () => {
    const policy = new RestartPolicy({ initialDelayMs: 1000, maxDelayMs: 5000, maxExits: 100, windowMs: 60_000 });
    const delays = Array.from({ length: 6 }, (_, i) => policy.recordExit(i));
    expect(delays.map((d) => (d.action === 'restart' ? d.delayMs : -1))).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('is a crash loop at exactly maxExits within the window, not one exit before', () => {
    const policy = new RestartPolicy({ initialDelayMs: 1, maxDelayMs: 1, maxExits: 3, windowMs: 1000 });
    expect(policy.recordExit(0).action).toBe('restart');
    expect(policy.recordExit(999).action).toBe('restart');
    expect(policy.recordExit(1000).action).toBe('restart'); // the exit at 0 is out of the window
    expect(policy.recordExit(1001).action).toBe('give-up');
  });
});

interface Line {
  level: number;
  msg: string;
  signal?: string | null;
  code?: number | null;
}

function capturingLogger(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function run(command: string, ...args: string[]): SupervisedChild & { child: ChildProcess } {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  return { child, exited: childExit(child), stop: () => stopChild(child, 2000) };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

const fastPolicy = () => new RestartPolicy({ initialDelayMs: 20, maxDelayMs: 100, maxExits: 4, windowMs: 60_000 });

describe('Supervisor', () => {
  it('logs an unexpected exit at error level with the signal, and starts the child again', async () => {
    const { logger, lines } = capturingLogger();
    const restarted: number[] = [];
    const supervisor = new Supervisor({
      name: 'sleeper',
      start: async () => run('sleep', '600'),
      logger,
      policy: fastPolicy(),
      onRestarted: (c) => restarted.push(c.child.pid!),
      onGiveUp: () => {
        throw new Error('must not give up');
      },
    });
    const first = await supervisor.start();
    first.child.kill('SIGKILL');
    await until(() => restarted.length === 1);
    expect(restarted[0]).not.toBe(first.child.pid);
    expect(supervisor.child?.child.pid).toBe(restarted[0]);
    const error = lines.find((l) => l.level === 50)!;
    expect(error).toMatchObject({ msg: 'sleeper exited unexpectedly (signal SIGKILL)', signal: 'SIGKILL', code: null });
    expect(lines.map((l) => l.msg)).toContain('restarting sleeper in 0.02 s');

    await supervisor.stop();
    expect(supervisor.child).toBeUndefined();
    const last = children.at(-1)!;
    expect(last.signalCode).toBe('SIGTERM');
    await sleep(100);
    expect(supervisor.restarts).toBe(1); // the stop was no crash
  });

  it('gives up, once, with a clear message when the child keeps dying', async () => {
    const { logger } = capturingLogger();
    const gaveUp: Error[] = [];
    let starts = 0;
    const supervisor = new Supervisor({
      name: 'crasher',
      start: async () => {
        starts++;
        return run('sh', '-c', 'sleep 0.05; exit 3');
      },
      logger,
      policy: fastPolicy(),
      onGiveUp: (err) => gaveUp.push(err),
    });
    await supervisor.start();
    await until(() => gaveUp.length > 0);
    await sleep(300);
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]!.message).toBe('crasher exited 4 times within 60 s (last: exit code 3); giving up');
    expect(starts).toBe(4);
    await supervisor.stop();
  });

  it('counts a failed restart as an exit', async () => {
    const { logger, lines } = capturingLogger();
    const gaveUp: Error[] = [];
    let starts = 0;
    const supervisor = new Supervisor({
      name: 'flaky',
      start: async () => {
        starts++;
        if (starts > 1) throw new Error('port taken');
        return run('sh', '-c', 'exit 1');
      },
      logger,
      policy: fastPolicy(),
      onGiveUp: (err) => gaveUp.push(err),
    });
    await supervisor.start();
    await until(() => gaveUp.length > 0);
    expect(gaveUp[0]!.message).toBe('flaky exited 4 times within 60 s (last: port taken); giving up');
    expect(lines.filter((l) => l.msg === 'flaky did not start again')).toHaveLength(3);
  });

  it('does not restart while the stack is stopping, nor after stop()', async () => {
    const { logger } = capturingLogger();
    let stopping = false;
    let starts = 0;
    const supervisor = new Supervisor({
      name: 'sleeper',
      start: async () => {
        starts++;
        return run('sleep', '600');
      },
      logger,
      policy: fastPolicy(),
      isStopping: () => stopping,
      onGiveUp: () => undefined,
    });
    const first = await supervisor.start();
    stopping = true;
    first.child.kill('SIGTERM');
    await first.exited;
    await sleep(100);
    expect(starts).toBe(1);

    // stop() while a restart is pending: the pending restart never happens
    stopping = false;
    const second = new Supervisor({
      name: 'sleeper',
      start: async () => {
        starts++;
        return run('sleep', '600');
      },
      logger,
      policy: new RestartPolicy({ initialDelayMs: 200, maxDelayMs: 200, maxExits: 5, windowMs: 60_000 }),
      onGiveUp: () => undefined,
    });
    const victim = await second.start();
    victim.child.kill('SIGKILL');
    await victim.exited;
    await second.stop();
    await sleep(400);
    expect(starts).toBe(2);
    expect(second.child).toBeUndefined();
  });

  it('stops a child that was being started when stop() came', async () => {
    const { logger } = capturingLogger();
    let slowStart: (SupervisedChild & { child: ChildProcess }) | undefined;
    let starts = 0;
    const supervisor = new Supervisor({
      name: 'slow',
      start: async () => {
        starts++;
        const c = run('sleep', '600');
        if (starts > 1) {
          slowStart = c;
          await sleep(300);
        }
        return c;
      },
      logger,
      policy: fastPolicy(),
      onGiveUp: () => undefined,
    });
    const first = await supervisor.start();
    first.child.kill('SIGKILL');
    await until(() => slowStart !== undefined);
    await supervisor.stop();
    const exit: ChildExit = await slowStart!.exited;
    expect(exit.signal).toBe('SIGTERM');
  });
});

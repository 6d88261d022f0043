/**
 * `patchflow up` when something crashes, on the real compiled CLI (`npm test` builds it first):
 * PostgreSQL and the Temporal dev server killed with SIGKILL under a running `up` come back by
 * themselves (logged, /readyz shows it, the API and the worker carry on), and `up` itself killed
 * with SIGKILL leaves nothing behind for long and starts again on the same data.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portInUse } from '../../src/runtime/ports';
import { isLive, readProc, sleep } from '../../src/runtime/process';
import { testAsset } from '../helpers/assets';
import { FEEDS } from '../helpers/fixtures';
import { stablePorts } from '../helpers/ports';
import { callApi, processesUsing, spawnUp, startUp, upEnvironment, type RunningUp, type UpPorts } from '../helpers/up-process';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-up-recovery-'));
fs.chmodSync(dataDir, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
const clusterDir = path.join(dataDir, 'postgres', 'cluster');
const stacks: ChildProcess[] = [];

interface LogLine {
  level: number;
  msg: string;
  supervised?: string;
  signal?: string | null;
}

let ports: UpPorts;
let stack: RunningUp;
let admin: string;
let operator: string;
const patches: string[] = [];

function logLines(s: RunningUp): LogLine[] {
  return s
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** The pid `up` recorded for one of its servers. */
function recordedPid(name: 'temporal dev server' | 'postgres'): number {
  const { processes } = JSON.parse(fs.readFileSync(path.join(dataDir, 'processes.json'), 'utf8')) as {
    processes: { name: string; pid: number }[];
  };
  const record = processes.find((p) => p.name === name);
  if (!record) throw new Error(`no ${name} in processes.json: ${JSON.stringify(processes)}`);
  return record.pid;
}

const api = (method: string, route: string, token: string, body?: unknown) => callApi(ports.api, method, route, token, body);

async function startStack(): Promise<RunningUp> {
  const started = await startUp(dataDir, ports);
  stacks.push(started.child);
  return started;
}

async function readyz(): Promise<number> {
  try {
    return (await fetch(`http://127.0.0.1:${ports.api}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 0;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

async function openPatch(): Promise<string> {
  const res = await api('POST', '/v1/patches', operator, { advisoryIds: ['USN-6859-1'], emergency: true });
  expect(res.status).toBe(201);
  patches.push(res.body.id);
  return res.body.id as string;
}

/** The workflow has run as far as peer review: the worker took its tasks. */
async function reachesPeerReview(id: string): Promise<void> {
  await until(
    `patch ${id} in peer review`,
    async () => {
      const res = await api('GET', `/v1/patches/${id}`, operator);
      return res.status === 200 && res.body.phase === 'peer-review' && res.body.state === 'waiting' ? true : undefined;
    },
    30_000,
    250,
  );
}

beforeAll(async () => {
  const [api_, temporal, ui, pg] = (await stablePorts(4)) as [number, number, number, number];
  ports = { api: api_, temporal, ui, pg };
  stack = await startStack();
  admin = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const user = await api('POST', '/v1/users', admin, { name: 'oscar', roles: ['operator'] });
  expect(user.status).toBe(201);
  operator = user.body.token;
  const notice = JSON.parse(fs.readFileSync(path.join(FEEDS, 'osv', 'ubuntu', 'USN-6859-1.json'), 'utf8'));
  expect((await api('POST', '/v1/feeds/osv', operator, notice)).status).toBe(200);
  const host = testAsset('web-01', {
    criticality: 'high',
    exposure: 'internet',
    packages: [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }],
  });
  expect((await api('PUT', '/v1/assets', operator, { assets: [host] })).status).toBe(200);
  await reachesPeerReview(await openPatch());
}, 120_000);

afterAll(async () => {
  // whatever happened above: no `up`, no server of ours left running
  for (const child of stacks) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sleep(200);
  const pids = new Set<number>();
  try {
    for (const p of (JSON.parse(fs.readFileSync(path.join(dataDir, 'processes.json'), 'utf8')) as { processes: { pid: number }[] })
      .processes)
      pids.add(p.pid);
  } catch {
    // no records
  }
  for (const line of processesUsing(dataDir)) pids.add(Number(line.trim().split(/\s+/)[0]));
  for (const pid of pids) {
    const info = readProc(pid);
    if (isLive(info) && info.cmdline.join(' ').includes(dataDir)) process.kill(pid, 'SIGKILL');
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('patchflow up when something crashes', () => {
  it('restarts PostgreSQL killed with SIGKILL: logged, /readyz 503 then 200, the API answers again', { timeout: 90_000 }, async () => {
    const pid = recordedPid('postgres');
    expect(Number(fs.readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0])).toBe(pid);
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();

    await until('/readyz 503', async () => ((await readyz()) === 503 ? true : undefined), 10_000, 50);
    const downAfter = Date.now() - killedAt;
    await until('/readyz 200', async () => ((await readyz()) === 200 ? true : undefined), 60_000);
    const upAfter = Date.now() - killedAt;
    console.log(`PostgreSQL killed: /readyz 503 after ${downAfter} ms, 200 again after ${upAfter} ms`);

    const exit = logLines(stack).find((l) => l.level === 50 && l.supervised === 'PostgreSQL');
    expect(exit).toMatchObject({ msg: 'PostgreSQL exited unexpectedly (signal SIGKILL)', signal: 'SIGKILL' });
    expect(logLines(stack).map((l) => l.msg)).toContain('PostgreSQL is running again');
    const again = recordedPid('postgres');
    expect(again).not.toBe(pid);
    expect(isLive(readProc(again))).toBe(true);

    const status = await api('GET', `/v1/patches/${patches[0]}`, operator);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ id: patches[0], requestedBy: 'oscar', phase: 'peer-review' });
  });

  it('restarts the Temporal dev server killed with SIGKILL; the worker carries on', { timeout: 90_000 }, async () => {
    const pid = recordedPid('temporal dev server');
    // /readyz through the outage: its status and how long it took to answer
    const answers: { status: number; ms: number }[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const asked = Date.now();
        const status = await readyz();
        answers.push({ status, ms: Date.now() - asked });
        await sleep(100);
      }
    })();
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();

    await until('dev server port closed', async () => ((await portInUse(ports.temporal)) ? undefined : true), 5000, 20);
    await until('dev server port open', async () => ((await portInUse(ports.temporal)) ? true : undefined), 60_000, 50);
    const backAfter = Date.now() - killedAt;
    await until('/readyz 200', async () => ((await readyz()) === 200 ? true : undefined), 60_000);
    const readyAfter = Date.now() - killedAt;
    await until(
      'restart logged',
      async () => (logLines(stack).some((l) => l.msg === 'Temporal dev server is running again') ? true : undefined),
      60_000,
    );
    const restartedAfter = Date.now() - killedAt;
    watching = false;
    await watcher;
    console.log(
      `Temporal dev server killed: serving again after ${backAfter} ms, /readyz 200 after ${readyAfter} ms, ` +
        `restart complete after ${restartedAfter} ms; /readyz meanwhile: ${answers.map((a) => `${a.status} in ${a.ms} ms`).join(', ')}`,
    );

    const exit = logLines(stack).find((l) => l.level === 50 && l.supervised === 'Temporal dev server');
    expect(exit).toMatchObject({ msg: 'Temporal dev server exited unexpectedly (signal SIGKILL)', signal: 'SIGKILL' });
    expect(answers.at(-1)?.status).toBe(200);
    expect(recordedPid('temporal dev server')).not.toBe(pid);
    // the worker was not restarted: it reconnected by itself
    expect(logLines(stack).filter((l) => l.supervised === 'worker')).toEqual([]);

    // the workflows survived in the SQLite file, and the worker runs a new one
    expect((await api('GET', `/v1/patches/${patches[0]}`, operator)).body).toMatchObject({ phase: 'peer-review' });
    await reachesPeerReview(await openPatch());
  });

  it('leaves nothing behind when up itself is killed with SIGKILL, and starts again on the same data', { timeout: 90_000 }, async () => {
    const servers = [recordedPid('temporal dev server'), recordedPid('postgres')].map((pid) => ({
      pid,
      startTime: readProc(pid)!.startTime,
    }));
    const killedAt = Date.now();
    process.kill(stack.child.pid!, 'SIGKILL');
    await stack.exited;
    await until(
      'servers gone',
      async () =>
        servers.every(({ pid, startTime }) => readProc(pid)?.startTime !== startTime || !isLive(readProc(pid))) ? true : undefined,
      10_000,
      50,
    );
    console.log(`up killed: its servers were gone ${Date.now() - killedAt} ms later`);
    expect(processesUsing(dataDir)).toEqual([]);
    for (const port of Object.values(ports)) expect(await portInUse(port)).toBe(false);

    // the next `up` starts without help: the stale records are checked and dropped
    stack = await startStack();
    for (const id of patches) {
      const status = await api('GET', `/v1/patches/${id}`, operator);
      expect(status.status).toBe(200);
      expect(status.body).toMatchObject({ id, requestedBy: 'oscar', phase: 'peer-review' });
    }

    // a second `up` on the same data directory refuses, and disturbs nothing
    const second = spawnUp(upEnvironment(dataDir, { api: 1, temporal: 2, ui: 3, pg: 4 }));
    stacks.push(second);
    let secondErr = '';
    second.stderr!.on('data', (chunk) => (secondErr += chunk));
    const code = await new Promise<number | null>((resolve) => second.once('exit', resolve));
    expect(code).toBe(1);
    expect(secondErr).toContain(`patchflow up is already running with the data directory ${dataDir} (pid ${stack.child.pid})`);
    expect(await readyz()).toBe(200);

    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, 'processes.json'))).toBe(false);
  });
});

describe('a rollout through crashes under patchflow up', () => {
  it(
    'PostgreSQL, the Temporal dev server and up itself killed mid-wave: every host installed once, no failure, the patch completes',
    { timeout: 300_000 },
    async () => {
      stack = await startStack();
      const token = async (name: string, roles: string[]) => {
        const res = await api('POST', '/v1/users', admin, { name, roles });
        expect(res.status).toBe(201);
        return res.body.token as string;
      };
      const [rita, carl] = [await token('rita', ['reviewer']), await token('carl', ['approver'])];
      const host = (id: string, environment: string) => ({
        id,
        hostname: `${id}.corp.example`,
        environment,
        os: { name: 'ubuntu', version: '22.04' },
        criticality: 'medium',
        exposure: 'internal',
        packages: [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }],
        simulation: { installMs: 2000 },
      });
      const fleet = [
        host('crash-lab', 'lab'),
        host('crash-pilot', 'pilot'),
        ...Array.from({ length: 16 }, (_, i) => host(`crash-${i}`, 'production')),
      ];
      expect((await api('PUT', '/v1/assets', operator, { assets: fleet })).status).toBe(200);
      // no failure is tolerated: one host counted failed for an outage would halt the rollout
      const settings = {
        pilotBakeTime: '1s',
        bakeTime: '1s',
        monitoringWindow: '1s',
        productionWaves: 1,
        maxConcurrent: 2,
        maxFailures: 0,
      };
      const opened = await api('POST', '/v1/patches', operator, { advisoryIds: ['USN-6859-1'], emergency: true, settings });
      expect(opened.status).toBe(201);
      const id = opened.body.id as string;
      const status = async () => {
        try {
          const res = await api('GET', `/v1/patches/${id}`, operator);
          return res.status === 200 ? res.body : undefined;
        } catch {
          return undefined; // no answer while a server restarts
        }
      };
      const reach = (what: string, accept: (s: any) => boolean, timeoutMs = 60_000) =>
        until(what, async () => ((s) => (s && accept(s) ? s : undefined))(await status()), timeoutMs, 250);
      await reach('peer review', (s) => s.awaiting === 'reviews');
      expect((await api('POST', `/v1/patches/${id}/reviews`, rita, { verdict: 'approve', comment: 'fine' })).status).toBe(200);
      await reach('approval', (s) => s.awaiting === 'decision');
      expect((await api('POST', `/v1/patches/${id}/decision`, carl, { decision: 'approve', comment: 'go' })).status).toBe(200);

      const installed = async (atLeast: number) =>
        (await reach(`${atLeast} hosts installed`, (s) => s.phase === 'rollout' && (s.hosts.installed ?? 0) >= atLeast)).hosts
          .installed as number;
      const ready = () => until('/readyz 200', async () => ((await readyz()) === 200 ? true : undefined), 60_000);

      let done = await installed(4); // lab, pilot and two production hosts
      process.kill(recordedPid('postgres'), 'SIGKILL');
      await ready();
      done = await installed(done + 2);
      process.kill(recordedPid('temporal dev server'), 'SIGKILL');
      await ready();
      await installed(done + 2);
      process.kill(stack.child.pid!, 'SIGKILL');
      await stack.exited;
      stack = await startStack();

      const due = await reach('the postmortem', (s) => s.awaiting === 'postmortem', 180_000);
      expect(due).toMatchObject({ phase: 'postmortem', halt: null, hosts: { installed: fleet.length + 1 } });
      expect(due.actions).toEqual([]); // never halted: no operator had to resume
      for (const wave of due.waves) expect(wave).toMatchObject({ status: 'done' });
      expect(due.waves.flatMap((w: any) => Object.keys(w.counts))).not.toContain('failed');
      const hosts = await api('GET', `/v1/patches/${id}/hosts?steps=true&limit=100`, operator);
      expect(hosts.status).toBe(200);
      for (const h of hosts.body.hosts) {
        expect(h.status, h.assetId).toBe('installed');
        // one install per attempt (the lab's rollback proof installs again, as attempt 2); production hosts once
        const installs = h.steps.filter((s: any) => s.step === 'install' && s.ok).map((s: any) => s.attempt);
        expect(installs, h.assetId).toEqual([...new Set(installs)]);
        if (h.ring === 'production') expect(installs, h.assetId).toHaveLength(1);
      }
      const written = await api('POST', `/v1/patches/${id}/postmortem`, operator, {
        lessonsLearned: 'Crashes were waited out.',
        actions: [],
      });
      expect(written.status).toBe(200);
      expect(await reach('completion', (s) => s.state === 'done')).toMatchObject({ outcome: 'completed' });
    },
  );
});

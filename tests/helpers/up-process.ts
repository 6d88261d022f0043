/**
 * `patchflow up` as a user runs it, for the tests that start, kill and restart it: the compiled
 * CLI (`npm test` builds it first) on a data directory and ports of the test's own, in its own
 * process group (so a test can send Ctrl-C's SIGINT to the whole group).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');

export interface UpPorts {
  api: number;
  temporal: number;
  ui: number;
  pg: number;
}

export interface RunningUp {
  child: ChildProcess;
  /** What it printed once it was up (the banner: the admin token only on a terminal). */
  banner: string;
  exited: Promise<number | null>;
  /** stdout so far. */
  stdout: () => string;
  /** stderr so far: JSON log lines and plain messages alike. */
  stderr: () => string;
}

/** The environment of an `up` on `dataDir` and `ports`, with nothing inherited that would point it elsewhere. */
export function upEnvironment(dataDir: string, ports: UpPorts): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATCHFLOW_DATA_DIR: dataDir,
    PORT: String(ports.api),
    PATCHFLOW_TEMPORAL_PORT: String(ports.temporal),
    PATCHFLOW_TEMPORAL_UI_PORT: String(ports.ui),
    PATCHFLOW_PG_PORT: String(ports.pg),
    TEMPORAL_CLI: inject('temporalCliPath'),
    TEMPORAL_ADDRESS: '',
    DATABASE_URL: '',
    PATCHFLOW_ADMIN_TOKEN: '',
    LOG_LEVEL: 'warn',
  };
}

/** Spawns `node bin/patchflow.js up`, without waiting for it. */
export function spawnUp(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'bin', 'patchflow.js'), 'up'], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Starts `up` and resolves once it says it is up (within 60 s), or rejects with what it printed. */
export async function startUp(dataDir: string, ports: UpPorts): Promise<RunningUp> {
  const child = spawnUp(upEnvironment(dataDir, ports));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not up after 60 s:\n${stdout}\n${stderr}`)), 60_000);
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve(stdout);
      }
    });
    void exited.then((code) => reject(new Error(`exited with ${code}:\n${stdout}\n${stderr}`)));
  });
  return { child, banner, exited, stdout: () => stdout, stderr: () => stderr };
}

/** A call to the API of an `up` on `port`, with a bearer token. */
export async function callApi(port: number, method: string, route: string, token: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** The `ps` lines of processes whose command line names `dir` (the test runner aside). */
export function processesUsing(dir: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(dir) && !line.includes('vitest'));
}

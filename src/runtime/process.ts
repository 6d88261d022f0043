/**
 * Child processes of `patchflow up` and the test harness: started so that they do not outlive
 * us, stopped politely, and recognised again later through /proc (see leftovers.ts).
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';

/** How a child ended: an exit code or a signal, or an error for something that is not a process (the worker). */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: unknown;
}

export function describeExit(exit: ChildExit): string {
  if (exit.error !== undefined) return exit.error instanceof Error ? exit.error.message : JSON.stringify(exit.error);
  if (exit.signal) return `signal ${exit.signal}`;
  return `exit code ${exit.code}`;
}

/** Resolves once the child has exited (at once if it already has), or failed to start at all. */
export function childExit(child: ChildProcess): Promise<ChildExit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // spawn failed (ENOENT, EACCES): there is no process and no 'exit' event
    child.once('error', (error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
  });
}

/** Asks a child to stop (SIGTERM unless told otherwise), waits, and kills it if it has not exited in time. */
export async function stopChild(child: ChildProcess, graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = childExit(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let setprivPath: string | null | undefined;

/**
 * util-linux `setpriv` with `--pdeathsig` (Debian, Ubuntu, Fedora… since util-linux 2.33), or
 * null where there is none (macOS, Alpine without util-linux).
 */
export function findSetpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = null;
    if (process.platform === 'linux') {
      for (const candidate of ['/usr/bin/setpriv', '/bin/setpriv', 'setpriv']) {
        try {
          const help = execFileSync(candidate, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
          if (help.includes('--pdeathsig')) {
            setprivPath = candidate;
            break;
          }
        } catch {
          // not there; try the next
        }
      }
    }
  }
  return setprivPath;
}

export interface TiedSpawnOptions extends SpawnOptions {
  /** What the child receives when this process dies: the signal that stops it cleanly. */
  deathSignal: NodeJS.Signals;
  /** 'auto' (default): setpriv where there is one, else the watchdog; 'watchdog' forces the fallback (tests). */
  tie?: 'auto' | 'watchdog';
}

/**
 * Spawns `command args` so that it does not outlive this process, however this process ends
 * (SIGKILL and the OOM killer included): through `setpriv --pdeathsig <signal> -- command args`,
 * which sets the kernel's parent-death signal (PR_SET_PDEATHSIG) and then execs the command in
 * place, so the pid, /proc/<pid>/cmdline and the exit status are the command's own. The kernel
 * sends the signal when the *thread* that forked the child ends: call this from the main thread,
 * which lives as long as the process (from a worker thread, the child would be stopped when that
 * thread ends). Where setpriv is missing, a small shell watchdog
 * (`kill -0` on our pid once a second) sends the signal instead, at most about a second late.
 */
export function spawnTied(command: string, args: string[], options: TiedSpawnOptions): ChildProcess {
  const { deathSignal, tie = 'auto', ...spawnOptions } = options;
  const setpriv = tie === 'auto' ? findSetpriv() : null;
  if (setpriv) return spawn(setpriv, ['--pdeathsig', deathSignal, '--', command, ...args], spawnOptions);
  const child = spawn(command, args, spawnOptions);
  if (child.pid !== undefined) {
    const watchdog = spawn(
      'sh',
      [
        '-c',
        'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -s "$3" "$2" 2>/dev/null',
        'patchflow-watchdog',
        String(process.pid),
        String(child.pid),
        deathSignal.replace(/^SIG/, ''),
      ],
      { detached: true, stdio: 'ignore' },
    );
    watchdog.on('error', () => undefined);
    watchdog.unref();
    child.once('exit', () => watchdog.kill());
  }
  return child;
}

/** What /proc says about a process (Linux). */
export interface ProcInfo {
  pid: number;
  /** Field 3 of /proc/<pid>/stat: R, S, D, Z (zombie), X (dead)… */
  state: string;
  /** Field 22 of /proc/<pid>/stat: when it started, in clock ticks after boot. With the pid, it names one process. */
  startTime: string;
  /** /proc/<pid>/cmdline, split on NUL. */
  cmdline: string[];
}

/** undefined when there is no such process (or no /proc). */
export function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // field 2 is "(comm)" and comm may hold spaces and parentheses: fields 3… follow the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const startTime = fields[19];
    if (!state || !startTime) return undefined;
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const cmdline = raw.split('\0');
    if (cmdline.at(-1) === '') cmdline.pop();
    return { pid, state, startTime, cmdline };
  } catch {
    return undefined;
  }
}

/** Running (or stopped, or sleeping), not gone and not a zombie waiting for its parent. */
export function isLive(info: ProcInfo | undefined): info is ProcInfo {
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

/** Whether /proc is there to tell processes apart (Linux). */
export function procAvailable(): boolean {
  return fs.existsSync('/proc/self/stat');
}

/** Live processes whose working directory is `dir` (PostgreSQL's server processes sit in their data directory). */
export function processesIn(dir: string): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return found;
  }
  const target = fs.existsSync(dir) ? fs.realpathSync(dir) : dir;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${pid}/cwd`) === target && isLive(readProc(pid))) found.push(pid);
    } catch {
      // gone, or not ours to look at
    }
  }
  return found;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

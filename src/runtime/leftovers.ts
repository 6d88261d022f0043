/**
 * What `patchflow up` started, written down in the data directory (`processes.json`), so that
 * the next `up` can find and stop what a crashed one left behind, and never anything else.
 *
 * A record is a pid, its start time as the kernel reports it (/proc/<pid>/stat field 22) and its
 * command line. A process counts as ours only when all three still match: a pid alone may by now
 * belong to anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { isLive, procAvailable, readProc, sleep } from './process';

export const UP_PROCESS = 'patchflow up';

export interface ProcessRecord {
  /** What it is: "patchflow up", "temporal dev server", "postgres". */
  name: string;
  pid: number;
  /** /proc/<pid>/stat field 22 (clock ticks after boot). */
  startTime: string;
  /** The command line it runs (after any wrapper such as setpriv has exec'd it). */
  cmdline: string[];
  /** The signal that stops it cleanly (SIGINT for PostgreSQL: a fast shutdown). */
  stopSignal: NodeJS.Signals;
  /** When it was recorded (for people reading the file). */
  recordedAt: string;
}

export type RecordStatus =
  | { status: 'running'; info: { pid: number } }
  | { status: 'gone' }
  /** The pid is alive but is another process now: never touch it. */
  | { status: 'other-process'; reason: string };

/** `actual` runs `recorded`, possibly still behind the wrapper that execs it (`setpriv … -- cmd args`). */
export function sameCommandLine(actual: string[], recorded: string[]): boolean {
  if (recorded.length === 0 || actual.length < recorded.length) return false;
  const tail = actual.slice(actual.length - recorded.length);
  return tail.every((arg, i) => arg === recorded[i]);
}

/** Is the recorded process still there, and is it still the same process? */
export function checkRecord(record: ProcessRecord): RecordStatus {
  const info = readProc(record.pid);
  if (!isLive(info)) return { status: 'gone' };
  if (info.startTime !== record.startTime) {
    return { status: 'other-process', reason: `started at tick ${info.startTime}, the record says ${record.startTime}` };
  }
  if (!sameCommandLine(info.cmdline, record.cmdline)) {
    return { status: 'other-process', reason: `runs ${JSON.stringify(info.cmdline.join(' '))}` };
  }
  return { status: 'running', info };
}

export class ProcessRegistry {
  constructor(readonly file: string) {}

  static inDataDir(dataDir: string): ProcessRegistry {
    return new ProcessRegistry(path.join(dataDir, 'processes.json'));
  }

  read(): ProcessRecord[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    try {
      const parsed = JSON.parse(text) as { processes?: unknown };
      if (!Array.isArray(parsed.processes)) return [];
      return parsed.processes.filter(
        (r): r is ProcessRecord =>
          typeof r === 'object' &&
          r !== null &&
          Number.isInteger((r as ProcessRecord).pid) &&
          typeof (r as ProcessRecord).startTime === 'string' &&
          Array.isArray((r as ProcessRecord).cmdline),
      );
    } catch {
      return [];
    }
  }

  /**
   * Records a process that was just started. `cmdline` is what it runs once any wrapper has
   * exec'd it. Returns undefined where it cannot be recorded (no /proc, or already gone).
   */
  add(name: string, pid: number, cmdline: string[], stopSignal: NodeJS.Signals = 'SIGTERM'): ProcessRecord | undefined {
    const info = readProc(pid);
    if (!info) return undefined;
    const record: ProcessRecord = { name, pid, startTime: info.startTime, cmdline, stopSignal, recordedAt: new Date().toISOString() };
    this.write([...this.read().filter((r) => r.pid !== pid), record]);
    return record;
  }

  remove(pid: number): void {
    const records = this.read();
    const rest = records.filter((r) => r.pid !== pid);
    if (rest.length !== records.length) this.write(rest);
  }

  private write(records: ProcessRecord[]): void {
    if (records.length === 0) {
      fs.rmSync(this.file, { force: true });
      return;
    }
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ processes: records }, null, 2)}\n`);
    fs.renameSync(tmp, this.file);
  }
}

/**
 * Stops one process if it is still the recorded one: its stop signal, then SIGKILL after
 * `graceMs`. Resolves once it is gone (true) or found to be another process (false).
 */
export async function stopRecorded(record: ProcessRecord, graceMs: number): Promise<boolean> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(record.pid, s);
    } catch {
      // gone in between
    }
  };
  if (checkRecord(record).status !== 'running') return false;
  signal(record.stopSignal);
  const killAt = Date.now() + graceMs;
  let killed = false;
  for (;;) {
    await sleep(100);
    const status = checkRecord(record).status;
    if (status !== 'running') return true;
    if (!killed && Date.now() >= killAt) {
      signal('SIGKILL');
      killed = true;
    } else if (killed && Date.now() >= killAt + 10_000) {
      throw new Error(`the ${record.name} left by a previous run (pid ${record.pid}) does not stop, even on SIGKILL`);
    }
  }
}

export class AlreadyRunningError extends Error {}

/**
 * Before `up` starts anything: refuses if another `up` is running on this data directory, stops
 * whatever a crashed one left running (checked record by record), and forgets the rest.
 */
export async function stopLeftovers(
  registry: ProcessRegistry,
  logger: Logger,
  options: { graceMs?: number } = {},
): Promise<ProcessRecord[]> {
  const records = registry.read();
  if (records.length === 0) return [];
  if (!procAvailable()) {
    logger.warn({ file: registry.file }, 'cannot check the processes of a previous run without /proc; ignoring the record');
    fs.rmSync(registry.file, { force: true });
    return [];
  }
  for (const record of records.filter((r) => r.name === UP_PROCESS && r.pid !== process.pid)) {
    if (checkRecord(record).status === 'running') {
      throw new AlreadyRunningError(
        `patchflow up is already running with the data directory ${path.dirname(registry.file)} (pid ${record.pid}); ` +
          'stop it first, or use another PATCHFLOW_DATA_DIR.',
      );
    }
  }
  const stopped: ProcessRecord[] = [];
  await Promise.all(
    records
      .filter((r) => r.name !== UP_PROCESS)
      .map(async (record) => {
        const status = checkRecord(record);
        if (status.status === 'other-process') {
          logger.info(
            { childPid: record.pid, name: record.name, reason: status.reason },
            'recorded pid now belongs to another process; left alone',
          );
        } else if (status.status === 'running') {
          logger.warn({ childPid: record.pid, name: record.name }, `stopping the ${record.name} left running by a previous patchflow up`);
          if (await stopRecorded(record, options.graceMs ?? 10_000)) stopped.push(record);
        }
      }),
  );
  for (const record of records) registry.remove(record.pid);
  return stopped;
}

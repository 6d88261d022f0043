/**
 * The agent's install journal: its own record, on the host, of what it changed for which patch,
 * and of the work orders it carried out. A rollback order may only restore versions this journal
 * recorded as "before" an install of the same patch, so no order, however well signed, can pick
 * the versions a host is downgraded to.
 *
 * JSON lines, appended and flushed (fsync) before the call that wrote them answers. Lines are
 * never rewritten; a line that does not parse (a torn write in a crash) is skipped.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HostResult } from '../../domain/deployment';
import type { WorkOperation } from '../../domain/work-order';

/** Where a real agent keeps its journal unless told otherwise. */
export const DEFAULT_JOURNAL = '/var/lib/patchflow-agent/journal.jsonl';

/** The journal of an agent started without `--journal`: a fresh temporary one in dry-run. */
export function defaultJournalFile(dryRun: boolean): string {
  if (!dryRun) return DEFAULT_JOURNAL;
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-agent-')), 'journal.jsonl');
}

export type JournalEntry =
  /**
   * One package version changed (or, in dry-run, that would have been) by an order. `planned`:
   * written before the install command runs, from the versions the agent read, so a crash in the
   * middle of an install still leaves the versions to restore.
   */
  | {
      kind: 'change';
      at: string;
      patchId: string;
      orderId: string;
      operation: WorkOperation;
      package: string;
      before: string | null;
      after: string | null;
      dryRun: boolean;
      planned?: true;
    }
  /** An order carried out, with how it ended: the same order again changes nothing. */
  | {
      kind: 'done';
      at: string;
      patchId: string;
      orderId: string;
      operation: WorkOperation;
      status: HostResult['status'];
      reason?: string;
      dryRun: boolean;
    };

export class Journal {
  /**
   * @param dryRun a dry-run agent writes entries marked `dryRun` and trusts only those; a real
   * agent trusts only real ones, so nothing a dry-run recorded can be restored for real.
   */
  constructor(
    readonly file: string,
    private readonly dryRun: boolean,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }

  append(entries: JournalEntry[]): void {
    if (entries.length === 0) return;
    const fd = fs.openSync(this.file, 'a', 0o600);
    try {
      fs.writeSync(fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private entries(): JournalEntry[] {
    if (!fs.existsSync(this.file)) return [];
    return fs
      .readFileSync(this.file, 'utf8')
      .split('\n')
      .flatMap((line) => {
        if (!line.trim()) return [];
        try {
          const entry = JSON.parse(line) as JournalEntry;
          return entry.dryRun === this.dryRun ? [entry] : [];
        } catch {
          return [];
        }
      });
  }

  /** How an order ended when this agent already carried it out. */
  done(orderId: string): Extract<JournalEntry, { kind: 'done' }> | undefined {
    return this.entries().find((e): e is Extract<JournalEntry, { kind: 'done' }> => e.kind === 'done' && e.orderId === orderId);
  }

  /** Every version a package had before an install of this patch changed it: what a rollback may restore. */
  versionsBefore(patchId: string): Map<string, Set<string>> {
    const before = new Map<string, Set<string>>();
    for (const e of this.entries()) {
      if (e.kind !== 'change' || e.operation !== 'deploy' || e.patchId !== patchId || e.before === null) continue;
      before.set(e.package, (before.get(e.package) ?? new Set()).add(e.before));
    }
    return before;
  }

  /** {name: version} before this patch first changed each package: what a failed post-check restores. */
  firstVersionsBefore(patchId: string): Record<string, string> {
    const first: Record<string, string> = {};
    for (const e of this.entries())
      if (e.kind === 'change' && e.operation === 'deploy' && e.patchId === patchId && e.before !== null) first[e.package] ??= e.before;
    return first;
  }
}

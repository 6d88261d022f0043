/** Reading what the host's tools print (C locale). Pure functions. */
import type { InstalledPackage } from '../../domain/asset';

/** /etc/os-release: `KEY=value` lines, values optionally quoted (os-release(5)). */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z0-9_]+)=(.*?)\s*$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    if (/^".*"$/.test(value)) value = value.slice(1, -1).replace(/\\([$"`\\])/g, '$1');
    else if (/^'.*'$/.test(value)) value = value.slice(1, -1);
    fields[match[1]!] = value;
  }
  return fields;
}

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

/**
 * `dpkg-query -W` in the agent's format: status, package, version, architecture, source. Packages
 * not installed or with only their configuration files left are not part of the inventory.
 */
export function parseDpkgInventory(text: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const line of lines(text)) {
    const [status = '', name, version, arch, source] = line.split('\t');
    if (!name || !version || 'nc'.includes(status[1] ?? 'n')) continue;
    packages.push({ name, version, ...(source && source !== name ? { source } : {}), ...(arch ? { arch } : {}) });
  }
  return packages;
}

/**
 * `rpm -qa` in the agent's format: name, epoch (`(none)`), version-release, architecture, source
 * RPM. Versions carry the epoch when there is one (`1:3.0.7-24.el9`); the `gpg-pubkey` entries are
 * keys, not packages.
 */
export function parseRpmInventory(text: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const line of lines(text)) {
    const [name, epoch, versionRelease, arch, sourceRpm] = line.split('\t');
    if (!name || !versionRelease || name === 'gpg-pubkey') continue;
    const version = epoch && epoch !== '(none)' ? `${epoch}:${versionRelease}` : versionRelease;
    const source =
      sourceRpm && sourceRpm !== '(none)'
        ? sourceRpm
            .replace(/\.(no)?src\.rpm$/, '')
            .split('-')
            .slice(0, -2)
            .join('-')
        : '';
    packages.push({ name, version, ...(source && source !== name ? { source } : {}), ...(arch && arch !== '(none)' ? { arch } : {}) });
  }
  return packages;
}

export interface FileSystemSpace {
  filesystem: string;
  availableKb: number;
  mount: string;
}

/** `df -Pk`: one line per file system after the header. */
export function parseDf(text: string): FileSystemSpace[] {
  return lines(text)
    .slice(1)
    .flatMap((line) => {
      const match = /^(.+?)\s+\d+\s+\d+\s+(\d+)\s+(?:\d+%|-)\s+(.+)$/.exec(line);
      return match ? [{ filesystem: match[1]!, availableKb: Number(match[2]), mount: match[3]! }] : [];
    });
}

/** What a simulated install would do to one package: `change` is an up- or downgrade. */
export interface PlannedChange {
  action: 'install' | 'change' | 'remove';
  name: string;
  from?: string;
  to?: string;
}

/** `apt-get -s` stdout: `Inst name [old] (new …)` and `Remv name [old]` lines. */
export function parseAptSimulation(stdout: string): PlannedChange[] {
  const changes: PlannedChange[] = [];
  for (const line of lines(stdout)) {
    const inst = /^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+)/.exec(line);
    if (inst) {
      changes.push({ action: inst[2] ? 'change' : 'install', name: inst[1]!, ...(inst[2] ? { from: inst[2] } : {}), to: inst[3]! });
      continue;
    }
    const remv = /^Remv (\S+)(?: \[([^\]]+)\])?/.exec(line);
    if (remv) changes.push({ action: 'remove', name: remv[1]!, ...(remv[2] ? { from: remv[2] } : {}) });
  }
  return changes;
}

/** apt's errors: its `E: …` lines, or undefined when there are none. */
export function aptErrors(stderr: string): string | undefined {
  const errors = lines(stderr).filter((line) => line.startsWith('E: '));
  return errors.length ? errors.map((line) => line.slice(3)).join('; ') : undefined;
}

const DNF_SECTIONS: Record<string, PlannedChange['action']> = {
  Installing: 'install',
  'Installing dependencies': 'install',
  'Installing weak dependencies': 'install',
  Upgrading: 'change',
  Downgrading: 'change',
  Reinstalling: 'change',
  Removing: 'remove',
  'Removing dependent packages': 'remove',
  'Removing unused dependencies': 'remove',
};

/**
 * `dnf install --assumeno`: the transaction table, then `Operation aborted.` and exit 1 when it
 * resolved; `Error: …` lines when it did not. Long package names wrap onto a line of their own.
 */
export function parseDnfSimulation(output: string, code: number): { ok: boolean; error?: string; changes: PlannedChange[] } {
  const errors = lines(output).filter((line) => line.startsWith('Error:') || line.startsWith('No match for argument'));
  const changes: PlannedChange[] = [];
  let action: PlannedChange['action'] | undefined;
  let wrapped: string | undefined;
  for (const line of output.split('\n')) {
    const header = /^([A-Z][a-z]+(?: [a-z]+)*):$/.exec(line);
    if (header) {
      action = DNF_SECTIONS[header[1]!];
      continue;
    }
    if (line.trim() === '') action = undefined;
    if (!action || !line.startsWith(' ')) continue;
    const fields = line.trim().split(/\s+/);
    if (fields.length === 1) {
      wrapped = fields[0];
      continue;
    }
    const [name, , version] = wrapped ? [wrapped, ...fields] : fields;
    wrapped = undefined;
    if (name && !name.startsWith('replacing')) changes.push({ action, name, ...(version ? { to: version } : {}) });
  }
  const resolved = code === 0 || /^Operation aborted/m.test(output);
  if (errors.length || !resolved) return { ok: false, error: errors.join('; ') || `dnf exited with ${code}`, changes };
  return { ok: true, changes };
}

/** `systemctl list-units --state=failed --plain --no-legend`: the unit names. */
export function parseFailedUnits(text: string): string[] {
  return lines(text).map((line) => line.trim().split(/\s+/)[0]!);
}

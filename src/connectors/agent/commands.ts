/**
 * The commands a host agent runs, as argv arrays (never shell strings), for the two package
 * managers it drives: apt (Debian, Ubuntu) and dnf (RHEL and its relatives). Pure: building a
 * command runs nothing.
 */
import type { VersionScheme } from '../../domain/versions';

export type PackageManager = 'apt' | 'dnf';

export interface Command {
  argv: string[];
  /** Added to the agent's environment. */
  env?: Record<string, string>;
}

/** One package pinned to one version; `arch` when the host has it in more than one architecture. */
export interface PackagePin {
  name: string;
  version: string;
  arch?: string;
}

export const VERSION_SCHEME: Readonly<Record<PackageManager, VersionScheme>> = { apt: 'dpkg', dnf: 'rpm' };

const APT_LIKE = ['debian', 'ubuntu'];
const DNF_LIKE = ['rhel', 'fedora', 'centos', 'rocky', 'almalinux', 'ol', 'amzn'];

/** The package manager of a host, from its /etc/os-release (`ID`, then `ID_LIKE`). */
export function packageManagerFor(osRelease: Record<string, string>): PackageManager {
  const ids = [osRelease.ID ?? '', ...(osRelease.ID_LIKE ?? '').split(/\s+/)].map((id) => id.toLowerCase());
  if (ids.some((id) => APT_LIKE.includes(id))) return 'apt';
  if (ids.some((id) => DNF_LIKE.includes(id))) return 'dnf';
  const name = osRelease.PRETTY_NAME ?? osRelease.ID ?? 'unknown';
  throw new Error(`unsupported OS "${name}": the agent drives apt (Debian, Ubuntu) and dnf (RHEL and relatives)`);
}

// Names and versions become arguments: refusing anything else keeps them from reading as options.
const NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+~^:-]*$/;
const ARCH = /^[A-Za-z0-9_]+$/;

/** Why a pin cannot be put on a command line, or undefined when it can. */
export function invalidPin(pin: PackagePin): string | undefined {
  if (!NAME.test(pin.name)) return `invalid package name ${JSON.stringify(pin.name)}`;
  if (!VERSION.test(pin.version)) return `invalid version ${JSON.stringify(pin.version)} for ${pin.name}`;
  if (pin.arch !== undefined && !ARCH.test(pin.arch)) return `invalid architecture ${JSON.stringify(pin.arch)} for ${pin.name}`;
  return undefined;
}

function pinArgs(pm: PackageManager, pins: PackagePin[]): string[] {
  if (pins.length === 0) throw new Error('no packages to pin');
  return pins.map((pin) => {
    const problem = invalidPin(pin);
    if (problem) throw new Error(problem);
    // apt: name[:arch]=version; dnf: name-[epoch:]version-release[.arch]
    if (pm === 'apt') return `${pin.name}${pin.arch ? `:${pin.arch}` : ''}=${pin.version}`;
    return `${pin.name}-${pin.version}${pin.arch ? `.${pin.arch}` : ''}`;
  });
}

const C_LOCALE = { LC_ALL: 'C' };
// no prompts; needrestart (Ubuntu) restarts the services using the replaced libraries
const APT_ENV = { ...C_LOCALE, DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_MODE: 'a' };
const APT_OPTIONS = [
  '-q',
  '-y',
  '-o',
  'DPkg::Lock::Timeout=300',
  '-o',
  'Dpkg::Options::=--force-confdef',
  '-o',
  'Dpkg::Options::=--force-confold',
  '--no-install-recommends',
  // a patch never removes a package: apt stops instead
  '--no-remove',
];
// dnf never removes packages without --allowerasing
const DNF_OPTIONS = ['--setopt=install_weak_deps=False'];

/** Every installed package: status, name, version, architecture, source package. */
export function inventoryCommand(pm: PackageManager): Command {
  if (pm === 'apt') {
    return {
      argv: ['dpkg-query', '-W', '--showformat=${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\n'],
      env: C_LOCALE,
    };
  }
  return { argv: ['rpm', '-qa', '--queryformat', '%{NAME}\\t%{EPOCH}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n'], env: C_LOCALE };
}

/** Refreshes the package lists (changes no package). */
export function refreshCommand(pm: PackageManager): Command {
  return pm === 'apt' ? { argv: ['apt-get', 'update', '-q'], env: APT_ENV } : { argv: ['dnf', 'makecache', '-q'], env: C_LOCALE };
}

/** The install resolved without changing anything: `apt-get -s`, `dnf --assumeno`. */
export function simulateInstallCommand(pm: PackageManager, pins: PackagePin[]): Command {
  if (pm === 'apt')
    return {
      argv: ['apt-get', 'install', '-s', '-q', '--only-upgrade', '--no-install-recommends', '--no-remove', ...pinArgs(pm, pins)],
      env: APT_ENV,
    };
  return { argv: ['dnf', 'install', '--assumeno', ...DNF_OPTIONS, ...pinArgs(pm, pins)], env: C_LOCALE };
}

/** Upgrades installed packages to exactly the pinned versions (never installs a package the host lacks). */
export function installCommand(pm: PackageManager, pins: PackagePin[]): Command {
  if (pm === 'apt') return { argv: ['apt-get', 'install', ...APT_OPTIONS, '--only-upgrade', ...pinArgs(pm, pins)], env: APT_ENV };
  return { argv: ['dnf', 'install', '-y', ...DNF_OPTIONS, ...pinArgs(pm, pins)], env: C_LOCALE };
}

/**
 * Puts packages back to the versions they had. `dnf install name-version` up- or downgrades to
 * exactly that version, so one command also covers a mixed set.
 */
export function rollbackCommand(pm: PackageManager, pins: PackagePin[]): Command {
  if (pm === 'apt') return { argv: ['apt-get', 'install', ...APT_OPTIONS, '--allow-downgrades', ...pinArgs(pm, pins)], env: APT_ENV };
  return { argv: ['dnf', 'install', '-y', ...DNF_OPTIONS, ...pinArgs(pm, pins)], env: C_LOCALE };
}

/** Reboots in one minute, so the agent reports the step before the host goes down. */
export function rebootCommand(message: string): Command {
  return { argv: ['shutdown', '-r', '+1', message] };
}

/** Free space of the file systems holding `paths`, in KiB, POSIX format. */
export function diskFreeCommand(paths: string[]): Command {
  return { argv: ['df', '-Pk', ...paths], env: C_LOCALE };
}

export function failedUnitsCommand(): Command {
  return { argv: ['systemctl', 'list-units', '--state=failed', '--no-legend', '--plain', '--no-pager'], env: C_LOCALE };
}

/** Journal entries of priority `err` and worse since `since` (a journalctl time, e.g. `-15min`). */
export function recentErrorsCommand(since: string): Command {
  return { argv: ['journalctl', '--quiet', '--no-pager', '--priority=err', `--since=${since}`], env: C_LOCALE };
}

/** sshd's configuration and host key test: logins depend on it. */
export function sshdTestCommand(): Command {
  return { argv: ['sshd', '-t'], env: C_LOCALE };
}

/** A command as a person would type it, for step details and logs. */
export function formatCommand(command: Command): string {
  return command.argv.map((arg) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}

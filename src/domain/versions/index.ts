import { compareApk } from './apk';
import { compareDpkg } from './dpkg';
import { compareMaven } from './maven';
import { compareRpmEvr } from './rpm';
import { compareSemver } from './semver';

/**
 * Package version comparison per ecosystem: one pure comparator per versioning scheme, each a total
 * order on arbitrary strings (malformed versions get a fixed place instead of an error).
 */

export { compareApk, isValidApkVersion } from './apk';
export { compareDpkg, isValidDpkgVersion } from './dpkg';
export { compareMaven } from './maven';
export { compareRpm, compareRpmEvr } from './rpm';
export { compareSemver, isValidSemver } from './semver';

export type VersionScheme = 'dpkg' | 'rpm' | 'apk' | 'semver' | 'maven';

const COMPARATORS: Readonly<Record<VersionScheme, (a: string, b: string) => -1 | 0 | 1>> = {
  dpkg: compareDpkg,
  // package versions in advisories are full `[epoch:]version-release` strings
  rpm: compareRpmEvr,
  apk: compareApk,
  semver: compareSemver,
  maven: compareMaven,
};

/** -1 when `a` is the older version under `scheme`, 1 when it is the newer, 0 when they are equal. */
export function compareVersions(scheme: VersionScheme, a: string, b: string): -1 | 0 | 1 {
  return COMPARATORS[scheme](a, b);
}

/**
 * OSV ecosystem names and the scheme their package versions follow. A name matches itself and its
 * variants after a colon (`Ubuntu:22.04:LTS`, `Ubuntu:Pro:18.04:LTS`, `Alpine:v3.18`,
 * `Red Hat:enterprise_linux:9::appstream`). Ecosystems not listed (NuGet, Packagist, PyPI,
 * RubyGems, …) have orders of their own and get no scheme.
 */
const SCHEMES: Readonly<Record<string, VersionScheme>> = {
  Debian: 'dpkg',
  Ubuntu: 'dpkg',
  'Red Hat': 'rpm',
  Alpine: 'apk',
  npm: 'semver',
  Go: 'semver',
  'crates.io': 'semver',
  Maven: 'maven',
};

/** RPM-based distributions, matched by prefix: `Rocky Linux:9`, `openSUSE:Leap 15.5`, `SUSE:Linux Enterprise Server 15`. */
const RPM_PREFIXES = ['Rocky Linux', 'AlmaLinux', 'openSUSE', 'SUSE', 'Mageia'];

/** The version scheme of an OSV ecosystem, or undefined when it has none here. */
export function schemeForEcosystem(ecosystem: string): VersionScheme | undefined {
  const colon = ecosystem.indexOf(':');
  const name = colon < 0 ? ecosystem : ecosystem.slice(0, colon);
  if (Object.hasOwn(SCHEMES, name)) return SCHEMES[name];
  return RPM_PREFIXES.some((prefix) => ecosystem.startsWith(prefix)) ? 'rpm' : undefined;
}

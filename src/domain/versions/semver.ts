/**
 * Semantic Versioning 2.0.0 precedence (semver.org §11), as npm, Go modules and crates.io order
 * versions. Pure functions, no I/O.
 */

type Ordering = -1 | 0 | 1;

interface Semver {
  /** Major, minor and patch as digit strings (a missing minor or patch is "0"). */
  core: [string, string, string];
  /** Pre-release identifiers; empty for a release. */
  prerelease: string[];
}

// Lenient where real ecosystems are: a leading `v` (Go's `v1.2.3`), a missing minor or patch (Go's
// `v1.2`) and leading zeros (compared by value) are accepted. Build metadata is checked and ignored.
const IDENTIFIERS = '[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*';
const SEMVER = new RegExp(`^[vV]?(\\d+)(?:\\.(\\d+)(?:\\.(\\d+))?)?(?:-(${IDENTIFIERS}))?(?:\\+${IDENTIFIERS})?$`);
const NUMERIC = /^[0-9]+$/;

function parseSemver(text: string): Semver | undefined {
  const match = SEMVER.exec(text.trim());
  if (!match) return undefined;
  const [, major = '0', minor = '0', patch = '0', prerelease] = match;
  return { core: [major, minor, patch], prerelease: prerelease === undefined ? [] : prerelease.split('.') };
}

function compareNumeric(a: string, b: string): Ordering {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return compareAscii(x, y);
}

function compareAscii(a: string, b: string): Ordering {
  return a === b ? 0 : a < b ? -1 : 1;
}

/** §11.4: numeric identifiers by value, below alphanumeric ones, which compare in ASCII order. */
function compareIdentifier(a: string, b: string): Ordering {
  const numericA = NUMERIC.test(a);
  const numericB = NUMERIC.test(b);
  if (numericA && numericB) return compareNumeric(a, b);
  if (numericA !== numericB) return numericA ? -1 : 1;
  return compareAscii(a, b);
}

/** §11.3–11.4: a pre-release sorts below its release; a longer run of equal identifiers wins. */
function comparePrerelease(a: string[], b: string[]): Ordering {
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
  for (let k = 0; k < Math.min(a.length, b.length); k++) {
    const result = compareIdentifier(a[k] ?? '', b[k] ?? '');
    if (result !== 0) return result;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Is this a semantic version (with the leniencies above)? */
export function isValidSemver(version: string): boolean {
  return parseSemver(version) !== undefined;
}

/**
 * Compares two semantic versions by precedence; build metadata is ignored (`1.0.0+a == 1.0.0+b`).
 * Strings that are not versions sort below every version and among themselves by their
 * (trimmed) text, so the order stays total.
 */
export function compareSemver(a: string, b: string): Ordering {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y) {
    if (x || y) return x ? 1 : -1;
    return compareAscii(a.trim(), b.trim());
  }
  for (let k = 0; k < 3; k++) {
    const result = compareNumeric(x.core[k] ?? '0', y.core[k] ?? '0');
    if (result !== 0) return result;
  }
  return comparePrerelease(x.prerelease, y.prerelease);
}

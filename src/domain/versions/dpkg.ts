/**
 * Debian package versions, `[epoch:]upstream_version[-debian_revision]`, compared the way
 * `dpkg --compare-versions` does (dpkg's lib/dpkg/version.c `dpkg_version_compare` and
 * lib/dpkg/parsehelp.c `parseversion`). Pure functions, no I/O.
 */

type Ordering = -1 | 0 | 1;

interface DpkgVersion {
  /** Decimal digits of the epoch, "0" when there is none. */
  epoch: string;
  upstream: string;
  revision: string;
}

/** What strtol(3) reads as an epoch: optional C whitespace, an optional sign, then digits. */
const EPOCH = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/;

/** The epoch's digits when `text` (what precedes the first colon) is one dpkg accepts. */
function epochDigits(text: string): string | undefined {
  const match = EPOCH.exec(text);
  if (!match) return undefined;
  const [, signPart, digits = ''] = match;
  // "-0" is zero; any other negative epoch is an error in dpkg
  return signPart === '-' && /[1-9]/.test(digits) ? undefined : digits;
}

/** dpkg trims leading and trailing blanks (space and tab); other whitespace is part of the version. */
function trimBlanks(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * Splits a version like dpkg's parseversion: the epoch ends at the FIRST colon, the revision starts
 * after the LAST hyphen. Where dpkg would refuse the string (an epoch that is not a number, or is
 * negative) the colon is kept as part of the upstream version instead, so any string still has a
 * place in the order.
 */
function parseDpkg(text: string): DpkgVersion {
  let rest = trimBlanks(text);
  let epoch = '0';
  const colon = rest.indexOf(':');
  const digits = colon >= 0 ? epochDigits(rest.slice(0, colon)) : undefined;
  if (digits !== undefined) {
    epoch = digits;
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen < 0) return { epoch, upstream: rest, revision: '' };
  return { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
}

/** Compares two runs of decimal digits by value (the empty run is 0), whatever their length. */
function compareDigits(a: string, b: string): Ordering {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x === y ? 0 : x < y ? -1 : 1;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isAsciiLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/**
 * Weight of one character in a non-digit run (dpkg's `order()`): `~` sorts before everything, even
 * the end of the string; the end (and a digit, which ends the run) weighs 0; letters sort before
 * every other character.
 */
function order(text: string, index: number): number {
  if (index >= text.length) return 0;
  const code = text.charCodeAt(index);
  if (isDigit(code)) return 0;
  if (isAsciiLetter(code)) return code;
  if (code === 0x7e) return -1; // '~'
  return code + 256;
}

/** dpkg's `verrevcmp`: alternating non-digit runs (by `order`) and digit runs (by numeric value). */
function verrevcmp(a: string, b: string): Ordering {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const diff = order(a, i) - order(b, j);
      if (diff !== 0) return diff < 0 ? -1 : 1;
      i++;
      j++;
    }
    const startA = i;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    const startB = j;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    const byNumber = compareDigits(a.slice(startA, i), b.slice(startB, j));
    if (byNumber !== 0) return byNumber;
  }
  return 0;
}

/** Compares two Debian versions: -1 when `a` is older, 1 when newer, 0 when dpkg deems them equal. */
export function compareDpkg(a: string, b: string): Ordering {
  const va = parseDpkg(a);
  const vb = parseDpkg(b);
  return compareDigits(va.epoch, vb.epoch) || verrevcmp(va.upstream, vb.upstream) || verrevcmp(va.revision, vb.revision);
}

const INT_MAX = '2147483647';
const UPSTREAM_CHARS = /^[0-9A-Za-z.+~:-]*$/;
const REVISION_CHARS = /^[0-9A-Za-z.+~]*$/;

/**
 * Would dpkg accept this version without complaint? Mirrors parseversion's errors (empty string,
 * embedded blanks, empty or non-numeric or too big epoch, nothing after the colon, empty revision or
 * upstream version) and its warnings (upstream version not starting with a digit, characters outside
 * `[A-Za-z0-9.+~:-]` in the upstream version or outside `[A-Za-z0-9.+~]` in the revision).
 */
export function isValidDpkgVersion(version: string): boolean {
  const text = trimBlanks(version);
  if (text === '' || /[ \t]/.test(text)) return false;
  let rest = text;
  const colon = text.indexOf(':');
  if (colon >= 0) {
    const epoch = epochDigits(text.slice(0, colon));
    if (epoch === undefined || compareDigits(epoch, INT_MAX) > 0) return false;
    rest = text.slice(colon + 1);
    if (rest === '') return false;
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen < 0 ? rest : rest.slice(0, hyphen);
  const revision = hyphen < 0 ? '' : rest.slice(hyphen + 1);
  if (hyphen >= 0 && revision === '') return false;
  if (!isDigit(upstream.charCodeAt(0))) return false;
  return UPSTREAM_CHARS.test(upstream) && REVISION_CHARS.test(revision);
}

/**
 * RPM versions: `rpmvercmp` as in rpm 4.18 (rpmio/rpmvercmp.c) and `epoch:version-release`
 * comparison on top of it. Pure functions, no I/O.
 */

type Ordering = -1 | 0 | 1;

const TILDE = 0x7e;
const CARET = 0x5e;

// rpm's risdigit/risalpha are ASCII-only (rpmstring.h), whatever the locale.
function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isAlpha(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isAlnum(code: number): boolean {
  return isDigit(code) || isAlpha(code);
}

/** A run of decimal digits by value: leading zeros dropped, then the longer wins, then strcmp. */
function compareNumeric(a: string, b: string): Ordering {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x === y ? 0 : x < y ? -1 : 1;
}

function compareText(a: string, b: string): Ordering {
  return a === b ? 0 : a < b ? -1 : 1;
}

/**
 * rpmvercmp, statement for statement. Segments are maximal runs of ASCII digits or ASCII letters;
 * every other character only separates them (so `2.0 == 2_0`). `~` sorts before anything, even the
 * end of the string; `^` sorts after the end but before any further segment. A numeric segment is
 * newer than an alphabetic one. (C strings end at a NUL; here a NUL is just another separator.)
 */
export function compareRpm(a: string, b: string): Ordering {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  // -1 stands for the end of the string (C's terminating NUL).
  const at = (s: string, k: number) => (k < s.length ? s.charCodeAt(k) : -1);
  const isSeparator = (code: number) => code !== -1 && !isAlnum(code) && code !== TILDE && code !== CARET;

  while (i < a.length || j < b.length) {
    while (isSeparator(at(a, i))) i++;
    while (isSeparator(at(b, j))) j++;
    const ca = at(a, i);
    const cb = at(b, j);

    if (ca === TILDE || cb === TILDE) {
      if (ca !== TILDE) return 1;
      if (cb !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === CARET || cb === CARET) {
      if (ca === -1) return -1;
      if (cb === -1) return 1;
      if (ca !== CARET) return 1;
      if (cb !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (ca === -1 || cb === -1) break;

    // The segment's kind is that of a's first character; b contributes its run of the same kind,
    // which may be empty (then the kinds differ and the numeric side wins).
    const numeric = isDigit(ca);
    const inSegment = numeric ? isDigit : isAlpha;
    const startA = i;
    while (inSegment(at(a, i))) i++;
    const startB = j;
    while (inSegment(at(b, j))) j++;
    if (startB === j) return numeric ? 1 : -1;

    const segA = a.slice(startA, i);
    const segB = b.slice(startB, j);
    const result = numeric ? compareNumeric(segA, segB) : compareText(segA, segB);
    if (result !== 0) return result;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

interface Evr {
  epoch: string;
  version: string;
  release: string | undefined;
}

/**
 * rpm's parseEVR: leading digits followed by `:` are the epoch (an empty one means 0), the release
 * follows the last `-`. A colon after anything but digits stays in the version.
 */
function parseEvr(text: string): Evr {
  const epochMatch = /^([0-9]*):/.exec(text);
  const epoch = epochMatch ? epochMatch[1] || '0' : '0';
  const rest = epochMatch ? text.slice(epochMatch[0].length) : text;
  const hyphen = rest.lastIndexOf('-');
  if (hyphen < 0) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1) };
}

/**
 * Compares `[epoch:]version[-release]`: the epoch by value (missing = 0), then version and release
 * with rpmvercmp. A missing release sorts before any release, as in rpm's Python `labelCompare`
 * (rpm's dependency matching instead ignores the release when one side lacks it, which is not an order).
 */
export function compareRpmEvr(a: string, b: string): Ordering {
  const x = parseEvr(a);
  const y = parseEvr(b);
  const byEpoch = compareNumeric(x.epoch, y.epoch);
  if (byEpoch !== 0) return byEpoch;
  const byVersion = compareRpm(x.version, y.version);
  if (byVersion !== 0) return byVersion;
  if (x.release === undefined || y.release === undefined) {
    if (x.release === y.release) return 0;
    return x.release === undefined ? -1 : 1;
  }
  return compareRpm(x.release, y.release);
}

/**
 * Maven versions, ordered like maven-artifact's `ComparableVersion` of Maven 3.9. Pure functions,
 * no I/O.
 *
 * A version parses into a list of items: numbers, qualifiers and sub-lists. `.` separates items;
 * `-` and a switch between digits and letters open a sub-list, which always becomes the last item
 * of its parent. Trailing null items (`0`, `ga`, `final`, `release`, empty lists) are trimmed off
 * every list. Lists are compared item by item, the shorter one padded with null: a number beats a
 * sub-list, which beats a qualifier; null sits between the pre-release qualifiers and the others.
 *
 * Maven's comparison is not transitive: a qualifier in the middle of a list is compared to null like
 * a qualifier but to anything else like a lowly string, and a zero to null like null but to anything
 * else like a number (in Maven, `1.0.Beta-1 < 1 < 1-1 < 1.0.Beta-1`). To be a total order, this
 * implementation departs from Maven in three rules:
 *  1. a pre-release qualifier right after a null item in the middle of a list opens a sub-list,
 *     as Maven itself does for a trailing `.X` and for `.X1` (MNG-7644): `1.0.Beta-1 == 1-beta-1`;
 *  2. a number, zero included, sorts above null (Maven: zero equals null); after rule 1 this
 *     changes no result, as every zero left in a list is followed by a non-zero number;
 *  3. a sub-list below null sorts below any qualifier at or above the release (Maven: below no
 *     qualifier), which only matters for odd shapes such as `1.sp.1` or `1-0-alpha`.
 * Versions of the usual shapes (`1.2.3`, `1.2-SNAPSHOT`, `2.0.0-rc.1`, `5.3.0.RELEASE`,
 * `4.1.86.Final`, `2.5.6.SEC01`, `1.0-alpha-1`, `31.1-jre`) compare exactly as in Maven.
 */

type Ordering = -1 | 0 | 1;

interface NumberItem {
  kind: 'number';
  /** The digits without leading zeros: "" is zero. */
  digits: string;
}

interface QualifierItem {
  kind: 'qualifier';
  /** ComparableVersion's `comparableQualifier`: "0" (alpha) … "6" (sp), or "7-" + an unknown one. */
  key: string;
}

type Scalar = NumberItem | QualifierItem;

/** A list: its numbers and qualifiers, then at most one sub-list, always last. */
interface ListItem {
  scalars: Scalar[];
  sub?: ListItem;
}

type Item = Scalar | ListItem;

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Readonly<Record<string, string>> = { ga: '', final: '', release: '', cr: 'rc' };
/** Shorthands that count only when a number follows at once: `a1` is alpha-1, `b2` beta-2, `m3` milestone-3. */
const SHORTHANDS: Readonly<Record<string, string>> = { a: 'alpha', b: 'beta', m: 'milestone' };
const RELEASE_KEY = String(QUALIFIERS.indexOf(''));

function isDigit(char: string): boolean {
  return char >= '0' && char <= '9';
}

function qualifier(text: string, followedByDigit: boolean): QualifierItem {
  let value = followedByDigit && Object.hasOwn(SHORTHANDS, text) ? (SHORTHANDS[text] ?? text) : text;
  value = Object.hasOwn(ALIASES, value) ? (ALIASES[value] ?? value) : value;
  const index = QUALIFIERS.indexOf(value);
  return { kind: 'qualifier', key: index === -1 ? `${QUALIFIERS.length}-${value}` : String(index) };
}

function parseItem(isNumber: boolean, text: string): Scalar {
  return isNumber ? { kind: 'number', digits: text.replace(/^0+/, '') } : qualifier(text, false);
}

/** alpha, beta, milestone, rc, snapshot: the qualifiers that sort below a release. */
function isPreRelease(item: Scalar): boolean {
  return item.kind === 'qualifier' && item.key < RELEASE_KEY;
}

function isNullScalar(item: Scalar): boolean {
  return item.kind === 'number' ? item.digits === '' : item.key === RELEASE_KEY;
}

/** ComparableVersion.parseVersion, including the normalisation that trims null items off each list. */
function parseMaven(version: string): ListItem {
  const text = version.toLowerCase();
  const root: ListItem = { scalars: [] };
  const lists: ListItem[] = [root];
  let list = root;
  const isEmpty = (l: ListItem) => l.scalars.length === 0 && l.sub === undefined;
  const endsWithNull = (l: ListItem) => {
    const last = l.scalars[l.scalars.length - 1];
    return last !== undefined && isNullScalar(last);
  };
  const openSubList = () => {
    const sub: ListItem = { scalars: [] };
    list.sub = sub;
    lists.push(sub);
    list = sub;
  };
  let isNumber = false;
  let start = 0;

  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? '';
    if (char === '.' || char === '-') {
      if (i === start) list.scalars.push({ kind: 'number', digits: '' });
      else {
        const item = parseItem(isNumber, text.slice(start, i));
        // departure from Maven (see above): a pre-release qualifier right after a null item starts a sub-list
        if (isPreRelease(item) && endsWithNull(list)) openSubList();
        list.scalars.push(item);
      }
      start = i + 1;
      if (char === '-') openSubList();
    } else if (isDigit(char)) {
      if (!isNumber && i > start) {
        // `1.0.0.X1 < 1.0.0-X2`: a qualifier right before a number starts its own sub-list
        if (!isEmpty(list)) openSubList();
        list.scalars.push(qualifier(text.slice(start, i), true));
        start = i;
        openSubList();
      }
      isNumber = true;
    } else {
      if (isNumber && i > start) {
        list.scalars.push(parseItem(true, text.slice(start, i)));
        start = i;
        openSubList();
      }
      isNumber = false;
    }
  }
  if (text.length > start) {
    // a trailing `.X` counts as `-X` for any qualifier X
    if (!isNumber && !isEmpty(list)) openSubList();
    list.scalars.push(parseItem(isNumber, text.slice(start)));
  }

  // innermost first, as Maven pops its stack: drop an empty sub-list, then trailing null items
  for (let k = lists.length - 1; k >= 0; k--) {
    const current = lists[k];
    if (!current) continue;
    if (current.sub && isEmpty(current.sub)) delete current.sub;
    while (current.scalars.length > 0 && isNullScalar(current.scalars[current.scalars.length - 1] as Scalar)) {
      current.scalars.pop();
    }
  }
  return root;
}

function itemAt(list: ListItem | null, index: number): Item | null {
  if (list === null) return null;
  if (index < list.scalars.length) return list.scalars[index] ?? null;
  return index === list.scalars.length && list.sub ? list.sub : null;
}

function length(list: ListItem | null): number {
  if (list === null) return 0;
  return list.scalars.length + (list.sub ? 1 : 0);
}

function isList(item: Item | null): item is ListItem {
  return item !== null && 'scalars' in item;
}

/**
 * Where an item sorts relative to the others of its position, coarsely; equal bands are resolved
 * by `compareWithinBand`. Qualifiers and sub-lists are placed against null first (below, equal,
 * above), numbers come last: low qualifiers < sub-lists below null < null, release < other
 * qualifiers < sub-lists above null < numbers.
 */
function band(item: Item | null): number {
  if (item === null) return 3;
  if (isList(item)) {
    const sign = compareLists(item, null);
    return sign < 0 ? 2 : sign === 0 ? 3 : 5;
  }
  if (item.kind === 'number') return 6;
  return item.key < RELEASE_KEY ? 1 : item.key === RELEASE_KEY ? 3 : 4;
}

function compareStrings(a: string, b: string): Ordering {
  return a === b ? 0 : a < b ? -1 : 1;
}

function compareNumbers(a: string, b: string): Ordering {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return compareStrings(a, b);
}

/** Two scalars (or null) of the same band; lists never get here. */
function compareWithinBand(a: Item | null, b: Item | null): Ordering {
  if (a === null || b === null || isList(a) || isList(b)) return 0;
  if (a.kind === 'number' && b.kind === 'number') return compareNumbers(a.digits, b.digits);
  if (a.kind === 'qualifier' && b.kind === 'qualifier') return compareStrings(a.key, b.key);
  return 0;
}

/**
 * Compares two lists item by item (null = a list of nothing but nulls). A sub-list is always the
 * last item of its list, so descending into a pair of sub-lists is a tail call: the loop below walks
 * any depth of nesting without recursion.
 */
function compareLists(first: ListItem | null, second: ListItem | null): Ordering {
  let a = first;
  let b = second;
  descend: while (a !== null || b !== null) {
    const size = Math.max(length(a), length(b));
    for (let k = 0; k < size; k++) {
      const x = itemAt(a, k);
      const y = itemAt(b, k);
      if ((isList(x) || x === null) && (isList(y) || y === null)) {
        a = x;
        b = y;
        continue descend;
      }
      const bandX = band(x);
      const bandY = band(y);
      if (bandX !== bandY) return bandX < bandY ? -1 : 1;
      const result = compareWithinBand(x, y);
      if (result !== 0) return result;
    }
    return 0;
  }
  return 0;
}

/** Compares two Maven versions: `1.0 == 1`, `1-ga == 1`, `1.0-alpha-1 < 1.0-beta-1 < 1.0-SNAPSHOT < 1.0 < 1.0-sp`. */
export function compareMaven(a: string, b: string): Ordering {
  return compareLists(parseMaven(a), parseMaven(b));
}

/**
 * Alpine package versions, `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}`, compared like
 * apk-tools' `apk_version_compare` (src/version.c of apk-tools 3, whose tokenizer replaced the
 * Gentoo-derived one of apk-tools 2; both agree on well-formed versions). Pure functions, no I/O.
 */

type Ordering = -1 | 0 | 1;

/** Token kinds in apk's order: a later kind at the same position means an OLDER version. */
const enum Token {
  InitialDigit,
  Digit,
  Letter,
  Suffix,
  SuffixNo,
  CommitHash,
  RevisionNo,
  End,
  Invalid,
}

// Suffix values in apk's order: the four pre-release suffixes sort below "no suffix" (NONE).
const SUFFIX_NONE = 5;
const SUFFIXES: Readonly<Record<string, number>> = {
  alpha: 1,
  beta: 2,
  pre: 3,
  rc: 4,
  cvs: 6,
  svn: 7,
  git: 8,
  hg: 9,
  p: 10,
};

interface TokenState {
  token: Token;
  /** The token's text: the digits of a number, the letter, the suffix name or the hash. */
  value: string;
  suffix: number;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isLower(code: number): boolean {
  return code >= 0x61 && code <= 0x7a;
}

function isHex(code: number): boolean {
  return isDigit(code) || (code >= 0x61 && code <= 0x66);
}

/** Length of the run of characters satisfying `accept` that starts at `from`. */
function span(text: string, from: number, accept: (code: number) => boolean): number {
  let end = from;
  while (end < text.length && accept(text.charCodeAt(end))) end++;
  return end - from;
}

/** Walks a version string token by token, as apk's token_first/token_next do. */
class Tokenizer {
  private pos = 0;
  readonly state: TokenState = { token: Token.InitialDigit, value: '', suffix: SUFFIX_NONE };

  constructor(private readonly text: string) {
    this.digits(Token.InitialDigit);
  }

  private digits(token: Token): void {
    const length = span(this.text, this.pos, isDigit);
    this.state.value = this.text.slice(this.pos, this.pos + length);
    this.pos += length;
    this.state.token = length === 0 ? Token.Invalid : token;
  }

  private invalid(): void {
    this.state.token = Token.Invalid;
  }

  /** Advances to the next token; each kind is only allowed after the kinds before it. */
  next(): void {
    const { text, state } = this;
    if (this.pos >= text.length) {
      state.token = Token.End;
      return;
    }
    const code = text.charCodeAt(this.pos);
    if (isLower(code)) {
      if (state.token > Token.Digit) return this.invalid();
      state.value = text[this.pos] ?? '';
      state.token = Token.Letter;
      this.pos++;
    } else if (code === 0x2e /* . */ || isDigit(code)) {
      if (code === 0x2e) {
        if (state.token > Token.Digit) return this.invalid();
        this.pos++;
      }
      if (state.token === Token.InitialDigit || state.token === Token.Digit) this.digits(Token.Digit);
      else if (state.token === Token.Suffix) this.digits(Token.SuffixNo);
      else this.invalid();
    } else if (code === 0x5f /* _ */) {
      if (state.token > Token.SuffixNo) return this.invalid();
      this.pos++;
      const length = span(text, this.pos, isLower);
      state.value = text.slice(this.pos, this.pos + length);
      this.pos += length;
      const suffix = Object.hasOwn(SUFFIXES, state.value) ? SUFFIXES[state.value] : undefined;
      if (suffix === undefined) return this.invalid();
      state.suffix = suffix;
      state.token = Token.Suffix;
    } else if (code === 0x7e /* ~ */) {
      if (state.token >= Token.CommitHash) return this.invalid();
      this.pos++;
      const length = span(text, this.pos, isHex);
      if (length === 0) return this.invalid();
      state.value = text.slice(this.pos, this.pos + length);
      this.pos += length;
      state.token = Token.CommitHash;
    } else if (code === 0x2d /* - */) {
      if (state.token >= Token.RevisionNo || text[this.pos + 1] !== 'r') return this.invalid();
      this.pos += 2;
      this.digits(Token.RevisionNo);
    } else {
      this.invalid();
    }
  }
}

function compareNumbers(a: string, b: string): Ordering {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return compareBytes(x, y);
}

function compareBytes(a: string, b: string): Ordering {
  return a === b ? 0 : a < b ? -1 : 1;
}

/** apk's token_cmp, for two tokens of the same kind. */
function compareTokens(kind: Token, a: TokenState, b: TokenState): Ordering {
  switch (kind) {
    case Token.Digit:
      // With a leading zero on either side apk compares the digits as text (as Gentoo does).
      if (a.value.startsWith('0') || b.value.startsWith('0')) return compareBytes(a.value, b.value);
      return compareNumbers(a.value, b.value);
    case Token.InitialDigit:
    case Token.SuffixNo:
    case Token.RevisionNo:
      return compareNumbers(a.value, b.value);
    case Token.Letter:
      return compareBytes(a.value, b.value);
    case Token.Suffix:
      return a.suffix === b.suffix ? 0 : a.suffix < b.suffix ? -1 : 1;
    default:
      return compareBytes(a.value, b.value);
  }
}

/**
 * Compares two Alpine versions. Tokens are compared in turn; where the kinds part, the version that
 * goes on is newer, unless it goes on with a pre-release suffix (`_alpha`, `_beta`, `_pre`, `_rc`).
 * As in apk, comparison stops at the first malformed part: versions that agree up to there are equal,
 * and a malformed tail sorts below the end of the string (`1.0b > 1.0bc`). Numbers are compared by
 * value at any length (apk keeps 64 bits).
 */
export function compareApk(a: string, b: string): Ordering {
  const ta = new Tokenizer(a);
  const tb = new Tokenizer(b);
  const sa = ta.state;
  const sb = tb.state;
  while (sa.token === sb.token && sa.token < Token.End) {
    const result = compareTokens(sa.token, sa, sb);
    if (result !== 0) return result;
    ta.next();
    tb.next();
  }
  if (sa.token === sb.token) return 0;
  if (sa.token === Token.Suffix && sa.suffix < SUFFIX_NONE) return -1;
  if (sb.token === Token.Suffix && sb.suffix < SUFFIX_NONE) return 1;
  return sa.token > sb.token ? -1 : 1;
}

/** apk_version_validate: does the whole string parse as an Alpine version? */
export function isValidApkVersion(version: string): boolean {
  const tokens = new Tokenizer(version);
  while (tokens.state.token < Token.End) tokens.next();
  return tokens.state.token === Token.End;
}

// The verifier's hot path at the byte level: for a COPY TO text line with nothing to unescape or
// quote (the usual case), build `prev_hash ‖ RFC 8785 canonical JSON` straight from the line's
// UTF-8 bytes, hash it and compare the digest with the stored hash column, without making a
// single string. Same bytes as canonicalHashed of the decoded row, for both row formats (row_format
// `2`: 29 keys; `\N`: format 1, 25 keys, and then kind, ref_event_id and detail must be `\N` too).
// The detail column (JSON text, hashed as a JSON string) may hold quotes and COPY-escaped
// backslashes, which map to JSON string escapes byte for byte. It only ever answers "this line is
// a plain row of this chain whose stored hash is right" or "don't know" (false): lines it
// declines take copy-text.ts decodeCopyLine + canonicalHashedFast, which decides.
import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';
import { HASHED_KEYS, HASHED_KEYS_2, ROW_COLUMNS } from './row.js';

const COLS = ROW_COLUMNS.length;
const TAB = 9;
const NEWLINE = 10;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const DOT = 46;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;
const LBRACE = 123;
const RBRACE = 125;
const COL_PREV = ROW_COLUMNS.indexOf('prev_hash');
const COL_HASH = ROW_COLUMNS.indexOf('hash');
const COL_SEQ = ROW_COLUMNS.indexOf('seq');
const COL_CHAIN = ROW_COLUMNS.indexOf('chain_id');
const COL_FORMAT = ROW_COLUMNS.indexOf('row_format');
const COL_KIND = ROW_COLUMNS.indexOf('kind');
const COL_REF = ROW_COLUMNS.indexOf('ref_event_id');
const COL_DETAIL = ROW_COLUMNS.indexOf('detail');
const HASH_HEX = 64;

const enum Kind { Str, Arr, Int, Float, Bool, Ts, Json }
const KIND: Partial<Record<string, Kind>> = {
  seq: Kind.Int, status: Kind.Int, latency_ms: Kind.Float, break_glass: Kind.Bool, phi: Kind.Bool, ts: Kind.Ts,
  reasons: Kind.Arr, roles: Kind.Arr, entity_ids: Kind.Arr, row_format: Kind.Int, detail: Kind.Json,
};
const enc = new TextEncoder();

interface Step { prefixLen: number; word: number; words: number; col: number; kind: Kind }
/** How to build one format's canonical JSON: a step per hashed key, and the key prefixes as words. */
interface Plan { steps: Step[]; prefixWords: Uint32Array }

// The key prefixes (`{"action":`, `,"agent":` …) as little-endian 32-bit words, written a word at
// a time; the last word may spill up to 3 bytes past the prefix, which the value written next
// overwrites (byte copies are the hot spot: measured ~2.5 ns per byte in short loops here).
function makePlan(keys: readonly string[]): Plan {
  const prefixes = keys.map((k, i) => enc.encode((i > 0 ? ',' : '{') + JSON.stringify(k) + ':'));
  const prefixWords = new Uint32Array(prefixes.reduce((n, pre) => n + Math.ceil(pre.length / 4), 0));
  const steps = keys.map((k, i): Step => {
    const pre = prefixes[i]!;
    const word = prefixes.slice(0, i).reduce((n, x) => n + Math.ceil(x.length / 4), 0);
    const padded = new Uint8Array(Math.ceil(pre.length / 4) * 4);
    padded.set(pre);
    const view = new DataView(padded.buffer);
    for (let w = 0; w < padded.length / 4; w++) prefixWords[word + w] = view.getUint32(4 * w, true);
    return { prefixLen: pre.length, word, words: padded.length / 4, col: (ROW_COLUMNS as readonly string[]).indexOf(k), kind: KIND[k] ?? Kind.Str };
  });
  return { steps, prefixWords };
}
const PLAN_1 = makePlan(HASHED_KEYS);
const PLAN_2 = makePlan(HASHED_KEYS_2);
const HEX = enc.encode('0123456789abcdef');
/** Lines up to this long get a cached view of the output buffer (ordinary rows are ~600 bytes). */
const VIEW_CACHE = 8192;
const NULL_JSON = enc.encode('null');
const TRUE_JSON = enc.encode('true');
const FALSE_JSON = enc.encode('false');

/** Reusable state: one per thread and chain. After check(), `end` is where the line ends; if it returned true, seq/prevAt/hashAt describe the line. */
export class LineHasher {
  /** Index of the checked line's newline (-1: the buffer ends inside the line). */
  end = -1;
  /** The line's seq. */
  seq = 0;
  /** Offsets in the buffer of the line's prev_hash and hash columns (64 ASCII bytes each). */
  prevAt = 0;
  hashAt = 0;
  private out = new Uint8Array(64 * 1024);
  private outView = new DataView(this.out.buffer);
  private views: Uint8Array[] = [];
  private src: Uint8Array | null = null;
  private srcView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private nonAscii = false;
  private readonly from = new Int32Array(COLS);
  private readonly to = new Int32Array(COLS);
  private readonly chainBytes: Uint8Array;

  constructor(chainId: string) {
    this.chainBytes = enc.encode(chainId);
  }

  /**
   * Checks the line starting at `start` and sets `end` to the index of its newline (-1: none, a
   * partial line). true = a plain line of this chain whose hash column equals
   * SHA-256(prev_hash column ‖ canonical JSON); false = anything else.
   */
  check(buf: Uint8Array, start: number): boolean {
    if (!this.split(buf, start)) return false;
    // Bytes are hashed as they come; the reference verifier hashes the driver's decoding, in
    // which an invalid UTF-8 sequence (storable by a superuser) becomes U+FFFD. Not ours to judge.
    if (this.nonAscii && !isUtf8(buf.subarray(start, this.end))) return false;
    const from = this.from;
    const to = this.to;
    if (to[COL_PREV]! - from[COL_PREV]! !== HASH_HEX || to[COL_HASH]! - from[COL_HASH]! !== HASH_HEX) return false;
    if (!this.sameChain(buf, from[COL_CHAIN]!, to[COL_CHAIN]!)) return false;
    // The row format decides the key set: `2` = format 2; `\N` = format 1, whose kind, ref_event_id
    // and detail must be NULL (its hash does not cover them). Anything else is not vouched for.
    let plan: Plan;
    const fa = from[COL_FORMAT]!;
    if (to[COL_FORMAT]! - fa === 1 && buf[fa] === 50 /* 2 */) plan = PLAN_2;
    else if (isNull(buf, fa, to[COL_FORMAT]!) && isNull(buf, from[COL_KIND]!, to[COL_KIND]!) && isNull(buf, from[COL_REF]!, to[COL_REF]!)
      && isNull(buf, from[COL_DETAIL]!, to[COL_DETAIL]!)) plan = PLAN_1;
    else return false;
    const need = 2 * (this.end - start) + 1024;
    if (this.out.length < need) {
      this.out = new Uint8Array(need);
      this.outView = new DataView(this.out.buffer);
      this.views = [];
    }
    if (this.src !== buf) {
      this.src = buf;
      this.srcView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    const p = this.canonical(buf, plan);
    if (p < 0) return false;
    // A string digest ('buffer' output measured twice as slow in Node 20): latin1, 32 raw bytes,
    // compared with the stored hex without decoding it. One view per length, reused: no allocation.
    const view = p < VIEW_CACHE ? (this.views[p] ??= this.out.subarray(0, p)) : this.out.subarray(0, p);
    const digest = hash('sha256', view, 'binary'); // 'binary' = latin1
    const at = from[COL_HASH]!;
    for (let i = 0; i < 32; i++) {
      const d = digest.charCodeAt(i);
      if (buf[at + 2 * i] !== HEX[d >> 4] || buf[at + 2 * i + 1] !== HEX[d & 15]) return false;
    }
    this.prevAt = from[COL_PREV]!;
    this.hashAt = at;
    return true;
  }

  /**
   * Column bounds into from/to and the line's end, in one pass that also refuses every byte JSON
   * would escape (control characters, quote) and every backslash except a whole-column \N (SQL
   * NULL) — but in the detail column quotes and `\\` (COPY's escaped backslash) — and notes whether
   * any byte is outside ASCII (then check() validates the UTF-8).
   */
  private split(buf: Uint8Array, start: number): boolean {
    const from = this.from;
    const to = this.to;
    let col = 0;
    from[0] = start;
    this.nonAscii = false;
    const n = buf.length;
    for (let k = start; k < n; k++) {
      const c = buf[k]!;
      if (c > QUOTE && c !== BACKSLASH && c < 128) continue;
      if (c >= 128) this.nonAscii = true;
      else if (c === TAB) {
        if (col === COLS - 1) return this.decline(buf, k);
        to[col] = k;
        from[++col] = k + 1;
      } else if (c === NEWLINE) {
        this.end = k;
        to[col] = k;
        return col === COLS - 1;
      } else if (c === BACKSLASH) {
        const next = buf[k + 1];
        if (col === COL_DETAIL && next === BACKSLASH) k++; // `\\`: one backslash of the text
        else {
          const after = buf[k + 2];
          if (k !== from[col] || next !== 78 /* N */ || (after !== TAB && after !== NEWLINE)) return this.decline(buf, k);
        }
      } else if (c === QUOTE) {
        if (col !== COL_DETAIL) return this.decline(buf, k);
      } else if (c < 32) return this.decline(buf, k);
    }
    this.end = -1;
    return false;
  }

  /** Not a line for this path: just find where it ends. */
  private decline(buf: Uint8Array, k: number): false {
    this.end = buf.indexOf(NEWLINE, k);
    return false;
  }

  private sameChain(buf: Uint8Array, a: number, b: number): boolean {
    const chain = this.chainBytes;
    if (b - a !== chain.length) return false;
    for (let k = 0; k < chain.length; k++) if (buf[a + k] !== chain[k]) return false;
    return true;
  }

  /** prev_hash ‖ canonical JSON into `out`; returns its length, or -1 for a value this path declines. */
  private canonical(buf: Uint8Array, plan: Plan): number {
    const out = this.out;
    const from = this.from;
    const to = this.to;
    const ov = this.outView;
    const steps = plan.steps;
    const prefixWords = plan.prefixWords;
    let p = 0;
    // prev_hash's bytes as stored = ASCII(prev_hash) when it is hex. A line only passes when its
    // prev_hash equals the previous line's hash (or genesis) and every passing hash equals a hex
    // digest computed here, so by induction every accepted prev_hash is hex.
    p = this.copy(from[COL_PREV]!, to[COL_PREV]!, p);
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      for (let w = 0; w < step.words; w++) ov.setUint32(p + 4 * w, prefixWords[step.word + w]!, true);
      p += step.prefixLen;
      const a = from[step.col]!;
      const b = to[step.col]!;
      switch (step.kind) {
        case Kind.Str:
          if (b - a === 2 && buf[a] === BACKSLASH) { // \N (split() allows no other backslash here)
            for (let k = 0; k < 4; k++) out[p++] = NULL_JSON[k]!;
            break;
          }
          out[p++] = QUOTE;
          p = this.copy(a, b, p);
          out[p++] = QUOTE;
          break;
        case Kind.Json:
          if (isNull(buf, a, b)) {
            for (let k = 0; k < 4; k++) out[p++] = NULL_JSON[k]!;
            break;
          }
          p = this.jsonString(buf, a, b, p);
          break;
        case Kind.Arr:
          p = this.array(buf, a, b, p);
          break;
        case Kind.Int:
          if (!isCanonicalNumber(buf, a, b, false)) return -1;
          if (step.col === COL_SEQ) this.seq = intValue(buf, a, b);
          p = this.copy(a, b, p);
          break;
        case Kind.Float:
          if (!isCanonicalNumber(buf, a, b, true)) return -1;
          p = this.copy(a, b, p);
          break;
        case Kind.Bool: {
          if (b - a !== 1 || (buf[a] !== 116 && buf[a] !== 102)) return -1;
          const s = buf[a] === 116 ? TRUE_JSON : FALSE_JSON;
          for (let k = 0; k < s.length; k++) out[p++] = s[k]!;
          break;
        }
        default:
          p = this.timestamp(buf, a, b, p);
      }
      if (p < 0) return -1;
    }
    out[p++] = RBRACE;
    return p;
  }

  /** Copies the source bytes [a, b) to out at p, a 32-bit word at a time; returns the new p. */
  private copy(a: number, b: number, p: number): number {
    const sv = this.srcView;
    const ov = this.outView;
    const out = this.out;
    const src = this.src!;
    let k = a;
    for (; k + 4 <= b; k += 4, p += 4) ov.setUint32(p, sv.getUint32(k, true), true);
    for (; k < b; k++) out[p++] = src[k]!;
    return p;
  }

  /**
   * The detail column as a JSON string: split() let through only quotes and `\\` pairs besides
   * plain bytes; JSON.stringify writes `"` as `\"` and a backslash as `\\`, which is the COPY
   * form already. Every other byte (≥ 0x20, valid UTF-8) stands for itself in both.
   */
  private jsonString(buf: Uint8Array, a: number, b: number, p: number): number {
    const out = this.out;
    out[p++] = QUOTE;
    for (let k = a; k < b; k++) {
      const c = buf[k]!;
      if (c === QUOTE) {
        out[p++] = BACKSLASH;
        out[p++] = QUOTE;
      } else if (c === BACKSLASH) {
        out[p++] = BACKSLASH;
        out[p++] = BACKSLASH;
        k++;
      } else out[p++] = c;
    }
    out[p++] = QUOTE;
    return p;
  }

  /** text[] with unquoted elements only (PostgreSQL quotes anything special) → JSON array. */
  private array(buf: Uint8Array, a: number, b: number, p: number): number {
    const out = this.out;
    if (b - a < 2 || buf[a] !== LBRACE || buf[b - 1] !== RBRACE) return -1;
    out[p++] = 91; // [
    if (b - a > 2) {
      out[p++] = QUOTE;
      let el = a + 1;
      for (let k = a + 1; k < b - 1; k++) {
        const c = buf[k]!;
        if (c === LBRACE || c === RBRACE) return -1; // nested: a multi-dimensional array
        if (c === COMMA) {
          if (isNullElement(buf, el, k)) return -1;
          out[p++] = QUOTE; out[p++] = COMMA; out[p++] = QUOTE;
          el = k + 1;
        } else out[p++] = c;
      }
      if (isNullElement(buf, el, b - 1)) return -1;
      out[p++] = QUOTE;
    }
    out[p++] = 93; // ]
    return p;
  }

  /** `YYYY-MM-DD HH:MM:SS[.f{1,3}]+00` (DateStyle ISO, UTC) → "YYYY-MM-DDTHH:MM:SS.fffZ"; finer is the reference reader's job. */
  private timestamp(buf: Uint8Array, a: number, b: number, p: number): number {
    const out = this.out;
    const n = b - a;
    // 19 characters of date and time, then "+00", optionally after "." and 1–3 digits.
    if (n !== 22 && (n < 24 || n > 26)) return -1;
    for (let i = 0; i < 19; i++) {
      const c = buf[a + i]!;
      const sep = i === 4 || i === 7 ? MINUS : i === 10 ? 32 : i === 13 || i === 16 ? 58 /* : */ : 0;
      if (sep !== 0 ? c !== sep : c < ZERO || c > NINE) return -1;
    }
    if (buf[b - 3] !== 43 /* + */ || buf[b - 2] !== ZERO || buf[b - 1] !== ZERO) return -1;
    const fracEnd = b - 3;
    if (n > 22 && buf[a + 19] !== DOT) return -1;
    out[p++] = QUOTE;
    for (let i = 0; i < 19; i++) out[p++] = i === 10 ? 84 /* T */ : buf[a + i]!;
    out[p++] = DOT;
    let digits = 0;
    for (let k = a + 20; k < fracEnd; k++, digits++) {
      const c = buf[k]!;
      if (c < ZERO || c > NINE) return -1;
      out[p++] = c;
    }
    for (; digits < 3; digits++) out[p++] = ZERO;
    out[p++] = 90; // Z
    out[p++] = QUOTE;
    return p;
  }
}

/** A whole column `\N` (SQL NULL). In the detail column `\\` is an escaped backslash, hence the N. */
function isNull(buf: Uint8Array, a: number, b: number): boolean {
  return b - a === 2 && buf[a] === BACKSLASH && buf[a + 1] === 78;
}

function isNullElement(buf: Uint8Array, a: number, b: number): boolean {
  return b - a === 4 && buf[a] === 78 && buf[a + 1] === 85 && buf[a + 2] === 76 && buf[a + 3] === 76; // NULL
}

function intValue(buf: Uint8Array, a: number, b: number): number {
  let v = 0;
  const neg = buf[a] === MINUS;
  for (let k = neg ? a + 1 : a; k < b; k++) v = v * 10 + (buf[k]! - ZERO);
  return neg ? -v : v;
}

/**
 * True when the number PostgreSQL printed is byte for byte what ECMAScript's Number::toString
 * (so RFC 8785) prints for the same value, so it can be copied as is:
 *   -?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?  with at most 15 digits, not "-0", and (for a value
 *   below 1) at most 5 zeros after the point before the first significant digit.
 * Why that is enough: a decimal of ≤ 15 significant digits converts to a double that no other
 * decimal of ≤ 15 digits converts to (DBL_DIG = 15), so it is that double's unique shortest
 * round-trip form — the digits both PostgreSQL (extra_float_digits ≥ 1) and ECMAScript print —
 * and for 1e-7 ≤ |x| < 1e21 ECMAScript prints them in exactly this fixed notation. Integers of
 * ≤ 15 digits are exact. Anything else (exponents, Infinity, NaN, longer) is declined.
 */
export function isCanonicalNumber(buf: Uint8Array, a: number, b: number, fraction: boolean): boolean {
  let k = a;
  if (buf[k] === MINUS) k++;
  if (k >= b) return false;
  const intStart = k;
  while (k < b && buf[k]! >= ZERO && buf[k]! <= NINE) k++;
  const intDigits = k - intStart;
  if (intDigits === 0 || (intDigits > 1 && buf[intStart] === ZERO)) return false;
  if (k === b) return intDigits <= 15 && !(intDigits === 1 && buf[intStart] === ZERO && intStart > a); // "-0"
  if (!fraction || buf[k] !== DOT) return false;
  const fracStart = ++k;
  while (k < b && buf[k]! >= ZERO && buf[k]! <= NINE) k++;
  const fracDigits = k - fracStart;
  if (k !== b || fracDigits === 0 || buf[b - 1] === ZERO || intDigits + fracDigits > 15) return false;
  if (buf[intStart] === ZERO) {
    let zeros = 0;
    while (buf[fracStart + zeros] === ZERO) zeros++;
    if (zeros > 5) return false;
  }
  return true;
}

// The verifier's hot path at the byte level: for a COPY TO text line with nothing to unescape or
// quote (the usual case), build `prev_hash ‖ RFC 8785 canonical JSON` straight from the line's
// UTF-8 bytes and hash it, without decoding the line into strings. Same bytes as canonicalHashed
// of the decoded row; lines it declines (null) take copy-text.ts decodeCopyLine + canonicalHashedFast.
import { hash } from 'node:crypto';
import { HASHED_KEYS, ROW_COLUMNS } from './row.js';

const COLS = ROW_COLUMNS.length;
const TAB = 9;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const LBRACE = 123;
const RBRACE = 125;
const COL_PREV = ROW_COLUMNS.indexOf('prev_hash');
const COL_HASH = ROW_COLUMNS.indexOf('hash');
const COL_SEQ = ROW_COLUMNS.indexOf('seq');
const COL_CHAIN = ROW_COLUMNS.indexOf('chain_id');

type Kind = 0 | 1 | 2 | 3 | 4; // str, arr, num, bool, ts
const KIND: Partial<Record<string, Kind>> = {
  seq: 2, status: 2, latency_ms: 2, break_glass: 3, phi: 3, ts: 4, reasons: 1, roles: 1, entity_ids: 1,
};
const enc = new TextEncoder();
const PLAN = HASHED_KEYS.map((k, i) => ({
  prefix: enc.encode((i > 0 ? ',' : '{') + JSON.stringify(k) + ':'),
  col: (ROW_COLUMNS as readonly string[]).indexOf(k),
  kind: KIND[k] ?? 0,
}));
const TS = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,3}))?\+00$/;

export interface LineDigest {
  chain: boolean;
  seq: number;
  prev: string;
  hash: string;
  computed: string;
}

/** Reusable state: one per thread. */
export class LineHasher {
  private out = new Uint8Array(64 * 1024);
  private readonly from = new Int32Array(COLS);
  private readonly to = new Int32Array(COLS);
  private readonly chainBytes: Uint8Array;

  constructor(chainId: string) {
    this.chainBytes = enc.encode(chainId);
  }

  /** `buf[start, end)` is one line without its newline; null = not a plain line, use the string path. */
  digest(buf: Buffer, start: number, end: number): LineDigest | null {
    const from = this.from;
    const to = this.to;
    // 1. Split at tabs (native search). Bytes JSON would escape (quote, control characters) and
    //    backslashes are refused while copying the text columns below; every other column is
    //    checked by its strict parser (number, t/f, timestamp) or compared with a computed hash.
    let k = start;
    for (let col = 0; col < COLS - 1; col++) {
      const t = buf.indexOf(TAB, k);
      if (t === -1 || t >= end) return null;
      from[col] = k;
      to[col] = t;
      k = t + 1;
    }
    if (buf.indexOf(TAB, k) !== -1 && buf.indexOf(TAB, k) < end) return null;
    from[COLS - 1] = k;
    to[COLS - 1] = end;
    // 2. prev_hash ‖ canonical JSON into `out`.
    const need = 2 * (end - start) + 1024;
    if (this.out.length < need) this.out = new Uint8Array(need);
    const out = this.out;
    let p = 0;
    // prev_hash's bytes as stored = ASCII(prev_hash) when it is hex. A row only passes when its
    // prev_hash equals the previous row's hash (or genesis) and every passing hash equals a hex
    // digest computed here, so by induction every accepted prev_hash is hex.
    for (let k = from[COL_PREV]!; k < to[COL_PREV]!; k++) out[p++] = buf[k]!;
    for (const step of PLAN) {
      const pre = step.prefix;
      for (let k = 0; k < pre.length; k++) out[p++] = pre[k]!;
      const a = from[step.col]!;
      const b = to[step.col]!;
      switch (step.kind) {
        case 0: { // string, or NULL
          if (b - a === 2 && buf[a] === BACKSLASH && buf[a + 1] === 78 /* N */) {
            out[p++] = 110; out[p++] = 117; out[p++] = 108; out[p++] = 108; // null
            break;
          }
          out[p++] = QUOTE;
          for (let k = a; k < b; k++) {
            const c = buf[k]!;
            if (c < 32 || c === QUOTE || c === BACKSLASH) return null;
            out[p++] = c;
          }
          out[p++] = QUOTE;
          break;
        }
        case 1: { // text[]: unquoted elements only (PostgreSQL quotes anything special)
          if (b - a < 2 || buf[a] !== LBRACE || buf[b - 1] !== RBRACE) return null;
          out[p++] = 91; // [
          if (b - a > 2) {
            out[p++] = QUOTE;
            let el = a + 1;
            for (let k = a + 1; k < b - 1; k++) {
              const c = buf[k]!;
              if (c < 32 || c === QUOTE || c === LBRACE || c === RBRACE || c === BACKSLASH) return null;
              if (c === COMMA) {
                if (k - el === 4 && buf[el] === 78 && buf[el + 1] === 85 && buf[el + 2] === 76 && buf[el + 3] === 76) return null; // NULL element
                out[p++] = QUOTE; out[p++] = COMMA; out[p++] = QUOTE;
                el = k + 1;
              } else out[p++] = c;
            }
            if (b - 1 - el === 4 && buf[el] === 78 && buf[el + 1] === 85 && buf[el + 2] === 76 && buf[el + 3] === 76) return null;
            out[p++] = QUOTE;
          }
          out[p++] = 93; // ]
          break;
        }
        case 2: { // number: ECMAScript form of the value PostgreSQL printed
          if (b === a || b - a > 32) return null;
          const n = Number(buf.toString('latin1', a, b));
          if (!Number.isFinite(n)) return null;
          const s = String(n);
          for (let k = 0; k < s.length; k++) out[p++] = s.charCodeAt(k);
          break;
        }
        case 3: { // boolean
          if (b - a !== 1) return null;
          const c = buf[a];
          const s = c === 116 ? 'true' : c === 102 ? 'false' : null;
          if (s === null) return null;
          for (let k = 0; k < s.length; k++) out[p++] = s.charCodeAt(k);
          break;
        }
        default: { // ts: ISO UTC with milliseconds; anything finer is the reference reader's job
          if (b - a > 40) return null;
          const m = TS.exec(buf.toString('latin1', a, b));
          if (m === null) return null;
          const s = `"${m[1]}T${m[2]}.${m[3] === undefined ? '000' : m[3].padEnd(3, '0')}Z"`;
          for (let k = 0; k < s.length; k++) out[p++] = s.charCodeAt(k);
        }
      }
    }
    out[p++] = RBRACE;
    // 3. The row's own fields the caller needs.
    let chain = to[COL_CHAIN]! - from[COL_CHAIN]! === this.chainBytes.length;
    for (let k = 0; chain && k < this.chainBytes.length; k++) chain = buf[from[COL_CHAIN]! + k] === this.chainBytes[k];
    return {
      chain,
      seq: Number(buf.toString('latin1', from[COL_SEQ]!, to[COL_SEQ]!)),
      prev: buf.toString('latin1', from[COL_PREV]!, to[COL_PREV]!),
      hash: buf.toString('latin1', from[COL_HASH]!, to[COL_HASH]!),
      computed: hash('sha256', out.subarray(0, p), 'hex'),
    };
  }
}

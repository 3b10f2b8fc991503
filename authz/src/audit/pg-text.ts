// PostgreSQL's text forms of audit rows, without the driver (verify workers import this): text[]
// literals both ways, and a row read back as PostgreSQL prints ROW_SELECT_SQL (paged reader, COPY).
import { ROW_COLUMNS, rowFormatFromText, type AuditRow } from './row.js';

/** A text[] as a PostgreSQL array literal (every element quoted; " and \ escaped). */
export function arrayLiteral(a: readonly string[]): string {
  let s = '{';
  for (let i = 0; i < a.length; i++) s += (i > 0 ? ',"' : '"') + a[i]!.replace(/[\\"]/g, (m) => '\\' + m) + '"';
  return s + '}';
}

/** Parses a one-dimensional text[] literal as PostgreSQL prints it (`{a,"b c","d\\"e"}`). */
export function parseTextArray(lit: string): string[] {
  const out: string[] = [];
  if (lit === '{}') return out;
  let i = 1;
  const n = lit.length - 1; // position of the closing brace
  while (i < n) {
    if (lit.charCodeAt(i) === 34 /* " */) {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = lit.indexOf('"', j);
        const b = lit.indexOf('\\', j);
        if (b !== -1 && b < q) {
          v += lit.slice(j, b) + lit[b + 1];
          j = b + 2;
          continue;
        }
        v += lit.slice(j, q);
        i = q + 2; // skip quote and comma
        break;
      }
      out.push(v);
    } else {
      let j = lit.indexOf(',', i);
      if (j === -1 || j > n) j = n;
      const el = lit.slice(i, j);
      // Unquoted NULL is an SQL NULL element (a string "NULL" is printed quoted). The service never
      // writes one; map it to a value no stored text can equal (text cannot hold U+0000), so a
      // string swapped for NULL by a superuser cannot hash like the original.
      out.push(el === 'NULL' ? '\u0000NULL' : el);
      i = j + 1;
    }
  }
  return out;
}

/**
 * Columns for reading rows back, every value as PostgreSQL's text output (no per-type parsing in
 * the driver): ts as epoch milliseconds (numeric, so sub-millisecond tampering stays visible),
 * float8 in its shortest round-trip form (extra_float_digits = 1, set by pg.ts connect), text[]
 * as array literals.
 */
export const ROW_SELECT_SQL = ROW_COLUMNS.map((c) => (c === 'ts' ? 'extract(epoch from ts) * 1000' : c)).join(', ');

// A ts with sub-millisecond digits was never written by the service (it hashes ms precision):
// render it so that it cannot match the hash instead of rounding the tampering away. The same for
// ±infinity, which has no ISO form, and for instants beyond the ECMAScript Date range (PostgreSQL
// goes further), which have none either.
const DATE_LIMIT_MS = 8.64e15;
// Rows come in time order: the ISO text of the current second is kept and only the milliseconds
// are appended (Date's toISOString per row was 6 % of the verifier's CPU).
let isoSecond = Number.NaN;
let isoPrefix = '';
export function msToIso(text: string): string {
  const ms = Number(text);
  if (!Number.isFinite(ms) || Math.abs(ms) > DATE_LIMIT_MS) return `${text}ms`;
  if (!Number.isInteger(ms)) return `${new Date(Math.floor(ms)).toISOString()}+${text}ms`;
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, -4); // "…:SS." of "…:SS.000Z"
    isoSecond = second;
  }
  const frac = ms - second * 1000;
  return `${isoPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

/** One row of ROW_SELECT_SQL as text values (null = SQL NULL), in ROW_COLUMNS order. */
export type RawRow = (string | null)[];

// SQL NULL stays null in every column, so it hashes as JSON null: never like a stored value, and
// never a crash. The schema forbids NULL in most columns; a superuser who drops that constraint
// still gets the row named, not a default value in its place.
const orNull = <T>(v: string | null, f: (x: string) => T): T | null => (v === null ? null : f(v));
const bool = (v: string): boolean => v === 't';

// rowFromRaw reads columns by position.
if (ROW_COLUMNS[24] !== 'status' || ROW_COLUMNS[25] !== 'row_format' || ROW_COLUMNS[28] !== 'detail' || ROW_COLUMNS[30] !== 'hash') {
  throw new Error('pg-text.ts: ROW_COLUMNS changed, update rowFromRaw');
}

export function rowFromRaw(a: RawRow): AuditRow {
  // A literal in one fixed shape: fast property access in the verifier's hot loop.
  return {
    chain_id: a[0], seq: Number(a[1]), event_id: a[2], ts: orNull(a[3] ?? null, msToIso), decision: a[4], reasons: orNull(a[5] ?? null, parseTextArray),
    actor_sub: a[6], roles: orNull(a[7] ?? null, parseTextArray), tenant: a[8], agent: a[9], session: a[10], action: a[11], route: a[12],
    method: a[13], path: a[14], entity_ids: orNull(a[15] ?? null, parseTextArray), memory_id: a[16], source_ip: a[17], request_id: a[18],
    policy_revision: a[19], break_glass: orNull(a[20] ?? null, bool), phi: orNull(a[21] ?? null, bool), latency_ms: orNull(a[22] ?? null, Number), body_digest: a[23],
    status: orNull(a[24] ?? null, Number), row_format: rowFormatFromText(a[25] ?? null), kind: a[26], ref_event_id: a[27], detail: a[28],
    prev_hash: a[29], hash: a[30],
  } as AuditRow;
}

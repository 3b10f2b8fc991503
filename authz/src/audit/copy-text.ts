// PostgreSQL COPY text format for audit rows, both ways. Pure string work, no I/O.
//   write: one line per row, columns in ROW_COLUMNS order, tab-separated, \N = NULL, and
//          backslash, tab, newline and carriage return backslash-escaped (COPY "Text Format").
//   read:  lines of COPY (SELECT ROW_SELECT_SQL …) TO STDOUT, unescaped into the text values the
//          paged reader gets, then the one rowFromRaw (pg-text.ts).
import { arrayLiteral, rowFromRaw, type RawRow } from './pg-text.js';
import { ROW_COLUMNS, type AuditRow } from './row.js';

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESC: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function esc(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (m) => COPY_ESC[m]!) : s;
}
function escOrNull(s: string | null): string {
  return s === null ? '\\N' : esc(s);
}
function arr(a: readonly string[]): string {
  return esc(arrayLiteral(a));
}

/**
 * COPY text lines for rows (ROW_COLUMNS order). Numbers print in ECMAScript's shortest
 * round-trip form, which float8in/int8in read back exactly; ts is the normalized ISO string;
 * row_format 1 is stored as NULL.
 */
export function encodeCopyRows(rows: readonly AuditRow[]): string {
  // One flat string per row, joined once: cheaper for V8 than one long chain of concatenations.
  const lines = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    lines[i] = esc(r.chain_id) + '\t' + r.seq + '\t' + esc(r.event_id) + '\t' + r.ts + '\t' + r.decision + '\t'
      + arr(r.reasons) + '\t' + escOrNull(r.actor_sub) + '\t' + arr(r.roles) + '\t' + escOrNull(r.tenant) + '\t'
      + escOrNull(r.agent) + '\t' + escOrNull(r.session) + '\t' + escOrNull(r.action) + '\t' + escOrNull(r.route) + '\t'
      + esc(r.method) + '\t' + esc(r.path) + '\t' + arr(r.entity_ids) + '\t' + escOrNull(r.memory_id) + '\t'
      + escOrNull(r.source_ip) + '\t' + esc(r.request_id) + '\t' + escOrNull(r.policy_revision) + '\t'
      + (r.break_glass ? 't' : 'f') + '\t' + (r.phi ? 't' : 'f') + '\t' + r.latency_ms + '\t' + escOrNull(r.body_digest) + '\t'
      + r.status + '\t' + (r.row_format === 1 ? '\\N' : r.row_format) + '\t' + escOrNull(r.kind) + '\t' + escOrNull(r.ref_event_id) + '\t'
      + escOrNull(r.detail) + '\t' + r.prev_hash + '\t' + r.hash + '\n';
  }
  return lines.join('');
}

// COPY TO only ever emits these escapes (never octal or hex forms).
const UNESC: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
const unescapeField = (s: string): string => s.replace(/\\(.)/gs, (_, c: string) => UNESC[c] ?? c);

/**
 * One line of `COPY (SELECT ROW_SELECT_SQL …) TO STDOUT` (without its newline) as an AuditRow,
 * built by the same rowFromRaw as the paged reader's; null when it does not have one field per
 * column (verify reports such a line as its own problem).
 */
export function decodeCopyLine(line: string): AuditRow | null {
  // The fields are unescaped in place: the verifier decodes every row, one array less per row.
  const a: RawRow = line.split('\t');
  if (a.length !== ROW_COLUMNS.length) return null;
  for (let i = 0; i < a.length; i++) {
    const s = a[i]!;
    if (s === '\\N') a[i] = null;
    else if (s.indexOf('\\') !== -1) a[i] = unescapeField(s);
  }
  return rowFromRaw(a);
}

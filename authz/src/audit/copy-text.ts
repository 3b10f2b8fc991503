// PostgreSQL COPY text format for audit rows, both ways. Pure string work, no I/O.
//   write: one line per row, columns in ROW_COLUMNS order, tab-separated, \N = NULL, and
//          backslash, tab, newline and carriage return backslash-escaped (COPY "Text Format").
//   read:  the same lines as COPY TO prints them, back into AuditRow values exactly as the
//          paged reader (pg.ts rowFromRaw) would build them, or null when a value is in a form
//          this fast reader does not handle (then the caller uses the reference reader).
import { arrayLiteral, parseTextArray } from './pg-text.js';
import { ROW_COLUMNS, rowFormatFromText, type AuditRow } from './row.js';

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
function unesc(s: string): string {
  return s.indexOf('\\') === -1 ? s : s.replace(/\\(.)/gs, (_, c: string) => UNESC[c] ?? c);
}
function field(s: string): string | null {
  return s === '\\N' ? null : unesc(s);
}

// timestamptz as printed with DateStyle ISO and TimeZone UTC. Only up to milliseconds: anything
// finer (never written by the service) is left to the reference reader, which keeps it visible.
const TS = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,3}))?\+00$/;
function isoTs(s: string): string | null {
  const m = TS.exec(s);
  if (m === null) return null;
  const frac = m[3] === undefined ? '000' : m[3].padEnd(3, '0');
  return `${m[1]}T${m[2]}.${frac}Z`;
}

export const COPY_COLUMN_COUNT = ROW_COLUMNS.length;
// decodeCopyLine reads columns by position.
if (ROW_COLUMNS[24] !== 'status' || ROW_COLUMNS[25] !== 'row_format' || ROW_COLUMNS[28] !== 'detail' || ROW_COLUMNS[30] !== 'hash') {
  throw new Error('copy-text.ts: ROW_COLUMNS changed, update decodeCopyLine');
}

/**
 * One COPY TO text line (without its newline) as an AuditRow, or null if any value is outside
 * the forms the service writes (NULL where NOT NULL, odd timestamps, bad column count...).
 */
export function decodeCopyLine(line: string): AuditRow | null {
  const a = line.split('\t');
  if (a.length !== COPY_COLUMN_COUNT) return null;
  const f = line.indexOf('\\') === -1 ? (i: number): string | null => (a[i] === '\\N' ? null : a[i]!) : (i: number): string | null => field(a[i]!);
  const ts = isoTs(a[3]!);
  const reasons = f(5);
  const roles = f(7);
  const entities = f(15);
  const chain = f(0);
  const eventId = f(2);
  const method = f(13);
  const path = f(14);
  const requestId = f(18);
  if (ts === null || reasons === null || roles === null || entities === null || chain === null || eventId === null
    || method === null || path === null || requestId === null) return null;
  const bg = a[20];
  const phi = a[21];
  if ((bg !== 't' && bg !== 'f') || (phi !== 't' && phi !== 'f')) return null;
  return {
    chain_id: chain, seq: Number(a[1]), event_id: eventId, ts, decision: f(4) as AuditRow['decision'], reasons: parseTextArray(reasons),
    actor_sub: f(6), roles: parseTextArray(roles), tenant: f(8), agent: f(9), session: f(10), action: f(11), route: f(12),
    method, path, entity_ids: parseTextArray(entities), memory_id: f(16), source_ip: f(17), request_id: requestId,
    policy_revision: f(19), break_glass: bg === 't', phi: phi === 't', latency_ms: Number(a[22]), body_digest: f(23),
    status: Number(a[24]), row_format: rowFormatFromText(f(25)), kind: f(26) as AuditRow['kind'], ref_event_id: f(27), detail: f(28),
    prev_hash: a[29]!, hash: a[30]!,
  };
}


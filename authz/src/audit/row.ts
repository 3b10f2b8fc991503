// The chained audit row and its hash (audit/README.md "Canonicalization and hash").
//   hash = lowercase hex SHA-256( ASCII(prev_hash as 64 lowercase hex chars) ‖ UTF-8(JCS(hashed object)) )
// The hashed object depends on the row's format (row_format):
//   format 1 (row_format NULL in the table: rows written before format 2): the 25 columns of
//     HASHED_KEYS; such a row must have kind, ref_event_id and detail NULL.
//   format 2 (what the writer writes): the same 25 plus row_format, kind, ref_event_id, detail (29).
// Genesis prev_hash = 64 zeros.
import { createHash, hash } from 'node:crypto';
import { jcs, jcsSortedFlat } from './jcs.js';
import { DECISION_VALUES, ROW_KINDS, type AuditEvent, type RowKind } from '../types.js';

export const GENESIS_HASH = '0'.repeat(64);

/** The row format the writer writes. */
export const ROW_FORMAT = 2;

/** What the hash covers: the event plus its place in the chain and its row format. */
export interface HashedRow extends Omit<AuditEvent, 'kind'> {
  chain_id: string;
  seq: number;
  /**
   * 1 (stored as NULL: written before row format 2) or 2. Readers of the table give 0 for any
   * other stored value (never written, refused by a CHECK): such a row cannot verify.
   */
  row_format: number;
  /** null only in format-1 rows (they predate kinds). */
  kind: RowKind | null;
}

export interface AuditRow extends HashedRow {
  prev_hash: string;
  hash: string;
}

/** Columns added by row format 2 (audit/migrations/002_row_format.sql); NULL in format-1 rows. */
export const FORMAT_2_COLUMNS = ['row_format', 'kind', 'ref_event_id', 'detail'] as const satisfies readonly (keyof AuditRow)[];

/** The 27 columns of format 1, in their order (export files of format /1 use it). */
export const ROW_COLUMNS_1 = [
  'chain_id', 'seq', 'event_id', 'ts', 'decision', 'reasons', 'actor_sub', 'roles', 'tenant', 'agent',
  'session', 'action', 'route', 'method', 'path', 'entity_ids', 'memory_id', 'source_ip', 'request_id',
  'policy_revision', 'break_glass', 'phi', 'latency_ms', 'body_digest', 'status', 'prev_hash', 'hash',
] as const satisfies readonly (keyof AuditRow)[];

/** Column order used by INSERT, SELECT, COPY, export and the spool: format 1's, the format-2 columns before prev_hash. */
export const ROW_COLUMNS = [
  ...ROW_COLUMNS_1.slice(0, -2), ...FORMAT_2_COLUMNS, 'prev_hash', 'hash',
] as const satisfies readonly (keyof AuditRow)[];

const sortedKeys = (cols: readonly (keyof AuditRow)[]): (keyof HashedRow)[] =>
  (cols.filter((c) => c !== 'prev_hash' && c !== 'hash') as (keyof HashedRow)[]).sort();

/** The hashed keys of a format-1 row (25), in RFC 8785 order (UTF-16 code-unit order; all keys are ASCII). */
export const HASHED_KEYS = sortedKeys(ROW_COLUMNS_1);
/** The hashed keys of a format-2 row (29): format 1's plus row_format, kind, ref_event_id, detail. */
export const HASHED_KEYS_2 = sortedKeys(ROW_COLUMNS);

/** The hashed keys of a row of this format (1 or 2; anything else is not hashable: see formatProblem). */
export function hashedKeys(format: number): readonly (keyof HashedRow)[] {
  return format === 1 ? HASHED_KEYS : HASHED_KEYS_2;
}

/**
 * Why this row has no hash under any format, or null when it has one. A format-1 row carrying
 * kind, ref_event_id or detail would show values its hash does not cover; a row_format other
 * than 1 (NULL in the table) or 2 was never written. Verify reports either as hash_mismatch.
 */
export function formatProblem(row: Pick<HashedRow, 'row_format' | 'kind' | 'ref_event_id' | 'detail'>): string | null {
  if (row.row_format === 2) return null;
  if (row.row_format !== 1) return `row_format ${JSON.stringify(row.row_format)} is not a row format (NULL = 1, or 2)`;
  if (row.kind !== null || row.ref_event_id !== null || row.detail !== null) {
    return 'a format-1 row (row_format NULL) has kind, ref_event_id or detail set: values its hash does not cover';
  }
  return null;
}

function checkFormat(row: HashedRow): void {
  const p = formatProblem(row);
  if (p !== null) throw new AuditError('invalid_row', `chain ${row.chain_id} seq ${row.seq}: ${p}`);
}

/**
 * RFC 8785 canonical JSON of the hashed object, by the RFC 8785 library (npm `canonicalize`, jcs.ts):
 * the one canonical form, for writing (seal) and verifying. The object is built in key order, so
 * the library's sort has nothing to move.
 */
export function canonicalHashed(row: HashedRow): string {
  checkFormat(row);
  return jcsSortedFlat(row.row_format === 1 ? hashedObject1(row) : hashedObject2(row));
}

// The hashed objects as literals in key order (one hidden class each: cheap to build, nothing for
// the library's sort to move). The module check below keeps them equal to HASHED_KEYS(_2).
const hashedObject1 = (r: HashedRow): Record<string, unknown> => ({
  action: r.action, actor_sub: r.actor_sub, agent: r.agent, body_digest: r.body_digest, break_glass: r.break_glass, chain_id: r.chain_id,
  decision: r.decision, entity_ids: r.entity_ids, event_id: r.event_id, latency_ms: r.latency_ms, memory_id: r.memory_id, method: r.method,
  path: r.path, phi: r.phi, policy_revision: r.policy_revision, reasons: r.reasons, request_id: r.request_id, roles: r.roles, route: r.route,
  seq: r.seq, session: r.session, source_ip: r.source_ip, status: r.status, tenant: r.tenant, ts: r.ts,
});
const hashedObject2 = (r: HashedRow): Record<string, unknown> => ({
  action: r.action, actor_sub: r.actor_sub, agent: r.agent, body_digest: r.body_digest, break_glass: r.break_glass, chain_id: r.chain_id,
  decision: r.decision, detail: r.detail, entity_ids: r.entity_ids, event_id: r.event_id, kind: r.kind, latency_ms: r.latency_ms,
  memory_id: r.memory_id, method: r.method, path: r.path, phi: r.phi, policy_revision: r.policy_revision, reasons: r.reasons,
  ref_event_id: r.ref_event_id, request_id: r.request_id, roles: r.roles, route: r.route, row_format: r.row_format, seq: r.seq,
  session: r.session, source_ip: r.source_ip, status: r.status, tenant: r.tenant, ts: r.ts,
});
{
  const probe = {} as HashedRow;
  if (Object.keys(hashedObject1(probe)).join() !== HASHED_KEYS.join() || Object.keys(hashedObject2(probe)).join() !== HASHED_KEYS_2.join()) {
    throw new Error('row.ts: the hashed object literals differ from HASHED_KEYS / HASHED_KEYS_2');
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
export function chainHash(prevHash: string, canonical: string): string {
  // For a hex prev_hash (always, unless tampered) ASCII = UTF-8, and the one-shot hash is faster.
  if (HEX64.test(prevHash)) return hash('sha256', prevHash + canonical, 'hex');
  return createHash('sha256').update(prevHash, 'latin1').update(canonical, 'utf8').digest('hex');
}

// PostgreSQL text cannot hold NUL, and lone UTF-16 surrogates would be stored as U+FFFD:
// replace both before hashing so the stored row hashes to the same value.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Cheap pre-test (no look-around): most strings have neither NUL nor any surrogate.
const MAYBE_UNSTORABLE = /[\u0000\uD800-\uDFFF]/;
function clean(s: string): string {
  return MAYBE_UNSTORABLE.test(s) ? s.replace(UNSTORABLE, '\uFFFD') : s;
}
function cleanOrNull(s: string | null): string | null {
  return s === null ? null : clean(s);
}

/** Normalizes an event so every value round-trips through PostgreSQL unchanged. */
export function normalizeEvent(ev: AuditEvent): AuditEvent {
  const ms = Date.parse(ev.ts);
  if (!Number.isFinite(ms)) throw new AuditError('invalid_event', `event ${ev.event_id}: ts is not a date`);
  if (!Number.isFinite(ev.latency_ms)) throw new AuditError('invalid_event', `event ${ev.event_id}: latency_ms not finite`);
  if (!DECISION_VALUES.includes(ev.decision)) throw new AuditError('invalid_event', `event ${ev.event_id}: unknown decision`);
  if (!Number.isInteger(ev.status) || Math.abs(ev.status) > 2 ** 31 - 1) {
    throw new AuditError('invalid_event', `event ${ev.event_id}: status is not an int4`);
  }
  if (!ROW_KINDS.includes(ev.kind)) throw new AuditError('invalid_event', `event ${ev.event_id}: unknown kind`);
  if (ev.ref_event_id !== null && typeof ev.ref_event_id !== 'string') {
    throw new AuditError('invalid_event', `event ${ev.event_id}: ref_event_id is not a string or null`);
  }
  checkDetail(ev);
  return {
    event_id: clean(ev.event_id),
    ts: new Date(ms).toISOString(),
    decision: ev.decision,
    reasons: ev.reasons.map(clean),
    actor_sub: cleanOrNull(ev.actor_sub),
    roles: ev.roles.map(clean),
    tenant: cleanOrNull(ev.tenant),
    agent: cleanOrNull(ev.agent),
    session: cleanOrNull(ev.session),
    action: cleanOrNull(ev.action),
    route: cleanOrNull(ev.route),
    method: clean(ev.method),
    path: clean(ev.path),
    entity_ids: ev.entity_ids.map(clean),
    memory_id: cleanOrNull(ev.memory_id),
    source_ip: cleanOrNull(ev.source_ip),
    request_id: clean(ev.request_id),
    policy_revision: cleanOrNull(ev.policy_revision),
    break_glass: ev.break_glass,
    phi: ev.phi,
    // -0 would serialize as 0 but store as -0; normalize so PG and the hash agree.
    latency_ms: ev.latency_ms === 0 ? 0 : ev.latency_ms,
    body_digest: cleanOrNull(ev.body_digest),
    status: ev.status,
    kind: ev.kind,
    ref_event_id: cleanOrNull(ev.ref_event_id),
    // Canonical JSON text is ASCII-escaped where it matters (no NUL, no lone surrogate): stored as is.
    detail: ev.detail,
  };
}

/**
 * detail is null or the RFC 8785 canonical JSON text of an object, exactly: jcs(JSON.parse(d)) === d.
 * So one set of facts has one text (and one hash), and readers can parse it.
 */
function checkDetail(ev: AuditEvent): void {
  const d: unknown = ev.detail;
  if (d === null) return;
  const bad = (why: string): AuditError => new AuditError('invalid_event', `event ${ev.event_id}: detail ${why}`);
  if (typeof d !== 'string') throw bad('is not a string or null');
  let parsed: unknown;
  try {
    parsed = JSON.parse(d);
  } catch {
    throw bad('is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('is not a JSON object');
  let canonical: string;
  try {
    canonical = jcs(parsed);
  } catch {
    throw bad('has no RFC 8785 form');
  }
  if (canonical !== d) throw bad('is not in RFC 8785 canonical form (serialize it with jcs())');
}

/** Seals an event into the chain after `prev` as a row of format ROW_FORMAT: the only place seq and hash are assigned. */
export function seal(chainId: string, prev: { seq: number; hash: string }, ev: AuditEvent): AuditRow {
  return sealNormalized(chainId, prev, normalizeEvent(ev));
}

/** seal() for an event that already went through normalizeEvent (the writer normalizes in append()). */
export function sealNormalized(chainId: string, prev: { seq: number; hash: string }, ev: AuditEvent): AuditRow {
  // One object: the canonical form reads only the hashed keys, so `hash` can be filled in after.
  const row: AuditRow = { chain_id: chainId, seq: prev.seq + 1, ...ev, row_format: ROW_FORMAT, prev_hash: prev.hash, hash: '' };
  row.hash = chainHash(prev.hash, canonicalHashed(row));
  return row;
}

export class AuditError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
    this.name = 'AuditError';
  }
}

/**
 * A row read back from JSON (spool, JSONL export) as an AuditRow: files written before row
 * format 2 have no row_format, kind, ref_event_id or detail: those rows are format 1 (null
 * row_format is read the same way). Everything else is taken as it is; verify judges it.
 */
export function rowFromJson(o: Record<string, unknown>): AuditRow {
  const r = o as unknown as AuditRow;
  if (o.row_format === undefined || o.row_format === null) r.row_format = 1;
  if (o.kind === undefined) r.kind = null;
  if (o.ref_event_id === undefined) r.ref_event_id = null;
  if (o.detail === undefined) r.detail = null;
  return r;
}

/** row_format as stored in the table: NULL for format 1. */
export function storedRowFormat(format: number): number | null {
  return format === 1 ? null : format;
}

/** row_format read from the table's text form: NULL = 1, "2" = 2, anything else 0 (no format: cannot verify). */
export function rowFormatFromText(text: string | null): number {
  return text === null ? 1 : text === '2' ? 2 : 0;
}

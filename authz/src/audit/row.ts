// The chained audit row and its hash (audit/README.md "Canonicalization").
//   hash = lowercase hex SHA-256( ASCII(prev_hash as 64 lowercase hex chars) ‖ UTF-8(JCS(hashed object)) )
// The hashed object is every column except prev_hash and hash. Genesis prev_hash = 64 zeros.
import { createHash, hash } from 'node:crypto';
import { jcs } from './jcs.js';
import { DECISION_VALUES, type AuditEvent } from '../types.js';

export const GENESIS_HASH = '0'.repeat(64);

/** What the hash covers: the event plus its place in the chain. */
export interface HashedRow extends AuditEvent {
  chain_id: string;
  seq: number;
}

export interface AuditRow extends HashedRow {
  prev_hash: string;
  hash: string;
}

/** Column order used by INSERT, SELECT, export and the spool. */
export const ROW_COLUMNS = [
  'chain_id', 'seq', 'event_id', 'ts', 'decision', 'reasons', 'actor_sub', 'roles', 'tenant', 'agent',
  'session', 'action', 'route', 'method', 'path', 'entity_ids', 'memory_id', 'source_ip', 'request_id',
  'policy_revision', 'break_glass', 'phi', 'latency_ms', 'body_digest', 'status', 'prev_hash', 'hash',
] as const satisfies readonly (keyof AuditRow)[];

/** The hashed keys in RFC 8785 order (UTF-16 code-unit order; all keys are ASCII). */
export const HASHED_KEYS = (ROW_COLUMNS.filter((c) => c !== 'prev_hash' && c !== 'hash') as (keyof HashedRow)[]).sort();

/** RFC 8785 canonical JSON of the hashed object, by the reference implementation (npm `canonicalize`). */
export function canonicalHashed(row: HashedRow): string {
  const obj: Record<string, unknown> = {};
  for (const k of HASHED_KEYS) obj[k] = row[k];
  return jcs(obj);
}

/**
 * The same bytes as canonicalHashed, without the generic recursion: the key set is fixed and
 * every value is a string, number, boolean, null or array of strings, for which RFC 8785's
 * serialization is exactly ECMAScript JSON.stringify. Used by verify (hot loop); a unit test
 * checks it equals canonicalHashed on random rows.
 */
export function canonicalHashedFast(row: HashedRow): string {
  let s = '{';
  for (let i = 0; i < HASHED_KEYS.length; i++) {
    const k = HASHED_KEYS[i]!;
    const v = row[k];
    s += KEY_PREFIX[i]!;
    if (typeof v === 'string') s += str(v);
    else if (Array.isArray(v)) {
      s += '[';
      for (let j = 0; j < v.length; j++) s += (j > 0 ? ',' : '') + str(v[j] as string);
      s += ']';
    } else {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${k}: non-finite number`);
      s += JSON.stringify(v);
    }
  }
  return s + '}';
}

const KEY_PREFIX = HASHED_KEYS.map((k, i) => (i > 0 ? ',' : '') + JSON.stringify(k) + ':');
// Strings without quote, backslash, control characters or surrogates serialize as themselves.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
function str(v: string): string {
  if (typeof v !== 'string') return JSON.stringify(v);
  return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : '"' + v + '"';
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
  };
}

/** Seals an event into the chain after `prev`: the only place seq and hash are assigned. */
export function seal(chainId: string, prev: { seq: number; hash: string }, ev: AuditEvent): AuditRow {
  return sealNormalized(chainId, prev, normalizeEvent(ev));
}

/** seal() for an event that already went through normalizeEvent (the writer normalizes in append()). */
export function sealNormalized(chainId: string, prev: { seq: number; hash: string }, ev: AuditEvent): AuditRow {
  // One object: the canonical form reads only the hashed keys, so `hash` can be filled in after.
  const row: AuditRow = { chain_id: chainId, seq: prev.seq + 1, ...ev, prev_hash: prev.hash, hash: '' };
  row.hash = chainHash(prev.hash, canonicalHashedFast(row));
  return row;
}

export class AuditError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
    this.name = 'AuditError';
  }
}

// Target `audit`: the audit row codecs (authz/src/audit/row.ts, copy-text.ts, csv.ts, the
// spool/export JSON form) and the verifier (verify.ts) on events whose every attacker-reachable
// field (subject, roles, agent, session, path, ids, reasons, detail) holds what an attacker can put
// in a JWT or a request: NUL, lone surrogates, tabs, newlines, quotes, backslashes, braces,
// commas, "NULL", "\N", emoji. A chain of such events is sealed, then:
//   1. normalizeEvent is idempotent; it refuses (AuditError invalid_event) or accepts, nothing else;
//   2. the sealed chain verifies, and each row's hash is SHA-256(prev_hash ‖ its canonical form);
//   3. JSON (spool, JSONL export) and CSV (export) round-trip every row exactly, and the chain
//      verifies from them;
//   4. what COPY FROM reads from our encoding is the row, value for value;
//   5. what PostgreSQL prints (COPY TO, modelled in pg-text-emulation.ts) decodes to the row — the
//      decoder verify runs on every row it reads — and the chain verifies from the decoded rows;
//   6. one changed value (any hashed column, prev_hash, hash, seq, chain id) makes the verifier
//      stop at exactly that row, from the rows and from what PostgreSQL would print of them.
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import {
  AuditError, canonicalHashed, chainHash, GENESIS_HASH, normalizeEvent, rowFromJson, seal, type AuditRow,
} from '../../authz/src/audit/row.js';
import { encodeCopyRows, decodeCopyLine } from '../../authz/src/audit/copy-text.js';
import { CSV_HEADER, parseCsvRows, rowToCsv } from '../../authz/src/audit/csv.js';
import { ChainVerifier } from '../../authz/src/audit/verify.js';
import { jcs } from '../../authz/src/audit/jcs.js';
import { DECISION_VALUES, ROW_KINDS, type AuditEvent } from '../../authz/src/types.js';
import { holds, violated, type Target } from '../engine/target.js';
import { anyString, asString, isRecord, show } from './shared.js';
import { arrayIn, copyInFields, copyOutLine } from './pg-text-emulation.js';

export interface AuditInput {
  chain: string;
  events: unknown[];
  tamper: { row: number; field: string; n: number } | null;
}

const TAMPERABLE = [
  'event_id', 'ts', 'decision', 'reasons', 'actor_sub', 'roles', 'tenant', 'agent', 'session', 'action', 'route', 'method', 'path',
  'entity_ids', 'memory_id', 'source_ip', 'request_id', 'policy_revision', 'break_glass', 'phi', 'latency_ms', 'body_digest', 'status',
  'row_format', 'kind', 'ref_event_id', 'detail', 'prev_hash', 'hash', 'seq', 'chain_id',
] as const;

const WEIRD = ['NULL', 'null', '\\N', '\\', '"', '{}', '{', '}', ',', '', ' ', '\t', '\n', '\r\n', '\u0000', '\ud800', '\udfff', '\ud83d\ude00', 'é', '\u2028', 'a\\"b', '{"a":1}', '\\.'];
const str = (max = 24): fc.Arbitrary<string> => fc.oneof({ weight: 3, arbitrary: anyString(max) }, { weight: 1, arbitrary: fc.constantFrom(...WEIRD) });
const nstr = (max = 24): fc.Arbitrary<string | null> => fc.option(str(max), { nil: null, freq: 4 });
const strs = fc.array(str(12), { maxLength: 4 });

const detailArb: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.dictionary(str(8), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((o) => jcs(o)) },
  { weight: 1, arbitrary: fc.constantFrom('{"b":1,"a":2}', '{ }', '[]', 'x', '{"a":1.0}') },
);

const eventArb: fc.Arbitrary<Record<string, unknown>> = fc.record({
  event_id: fc.oneof({ weight: 4, arbitrary: fc.uuid() }, { weight: 1, arbitrary: str(20) }),
  ts: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2199, 11, 31) }).map((ms) => new Date(ms).toISOString()) },
    { weight: 1, arbitrary: fc.constantFrom('2026-11-23T12:00:00Z', '2026-11-23T12:00:00.123456Z', '2026-11-23T13:00:00.5+01:00', '2026-02-30T00:00:00Z', 'yesterday') },
  ),
  decision: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...DECISION_VALUES) }, { weight: 1, arbitrary: fc.constant('bogus') }),
  reasons: strs, actor_sub: nstr(), roles: strs, tenant: nstr(10), agent: nstr(), session: nstr(), action: nstr(8), route: nstr(16),
  method: str(8), path: str(40), entity_ids: strs, memory_id: nstr(40), source_ip: nstr(16), request_id: str(20), policy_revision: nstr(16),
  break_glass: fc.boolean(), phi: fc.boolean(),
  latency_ms: fc.oneof({ weight: 4, arbitrary: fc.double({ min: 0, max: 1e5, noNaN: true }) }, { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) }, { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e15, 1e16, 1e-5, 0.0001, 123456789012345.6, 5e-324, 1.7976931348623157e308) }),
  body_digest: nstr(64),
  status: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(200, 400, 401, 403, 404, 422, 429, 502, 503) }, { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }) }),
  kind: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...ROW_KINDS) }, { weight: 1, arbitrary: fc.constant('other') }),
  ref_event_id: nstr(36),
  detail: detailArb,
});

const arbitrary: fc.Arbitrary<AuditInput> = fc.record({
  // MEM0_GOV_AUDIT_CHAIN_ID is validated at start: [A-Za-z0-9._:@-]{1,128}.
  chain: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('authz-1', 'admin:host', 'stack-42') }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:@-]{1,128}$/) }),
  events: fc.array(eventArb, { minLength: 1, maxLength: 6 }),
  tamper: fc.option(fc.record({ row: fc.nat(10), field: fc.constantFrom(...TAMPERABLE), n: fc.integer({ min: 1, max: 1_000_000 }) }), { nil: null, freq: 2 }),
});

export function coerceEvent(x: unknown): AuditEvent {
  const o = isRecord(x) ? x : {};
  const s = (k: string): string => asString(o[k]);
  const ns = (k: string): string | null => (o[k] === null || o[k] === undefined ? null : asString(o[k]));
  const arr = (k: string): string[] => (Array.isArray(o[k]) ? (o[k] as unknown[]).map((v) => asString(v)) : []);
  const num = (k: string, d: number): number => (typeof o[k] === 'number' ? (o[k] as number) : d);
  // The service stamps ts from its own clock: keep what parses within four-digit years (what
  // PostgreSQL prints as such), and strings that do not parse at all (normalizeEvent refuses them).
  let ts = s('ts');
  const ms = Date.parse(ts);
  if (Number.isFinite(ms) && (ms < Date.UTC(1000, 0, 1) || ms >= Date.UTC(9999, 11, 1))) ts = '2026-01-01T00:00:00.000Z';
  return {
    event_id: s('event_id'), ts, decision: s('decision') as AuditEvent['decision'], reasons: arr('reasons'), actor_sub: ns('actor_sub'),
    roles: arr('roles'), tenant: ns('tenant'), agent: ns('agent'), session: ns('session'), action: ns('action'), route: ns('route'),
    method: s('method'), path: s('path'), entity_ids: arr('entity_ids'), memory_id: ns('memory_id'), source_ip: ns('source_ip'),
    request_id: s('request_id'), policy_revision: ns('policy_revision'), break_glass: o.break_glass === true, phi: o.phi === true,
    latency_ms: num('latency_ms', 0), body_digest: ns('body_digest'), status: num('status', 200), kind: s('kind') as AuditEvent['kind'],
    ref_event_id: ns('ref_event_id'), detail: ns('detail'),
  };
}

function fromJson(x: unknown): AuditInput {
  const o = isRecord(x) ? x : {};
  const events = Array.isArray(o.events) ? o.events.slice(0, 12) : [o.events];
  let tamper: AuditInput['tamper'] = null;
  if (isRecord(o.tamper)) {
    const n = typeof o.tamper.n === 'number' && Number.isFinite(o.tamper.n) ? Math.abs(Math.trunc(o.tamper.n)) % 1_000_000_000 + 1 : 1;
    tamper = { row: typeof o.tamper.row === 'number' ? Math.abs(Math.trunc(o.tamper.row)) % 1000 : 0, field: asString(o.tamper.field), n };
  }
  const chain = asString(o.chain, 'authz-1');
  return { chain: /^[A-Za-z0-9._:@-]{1,128}$/.test(chain) ? chain : 'authz-1', events, tamper };
}

/** What PostgreSQL text can hold: no NUL, no lone surrogate (the writer's own rule, re-stated). */
const storable = (s: string): string => s.replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

/** A different value of the same column type, derived from n (a superuser's UPDATE). */
function tampered(row: AuditRow, field: string, n: number): AuditRow | null {
  const t: AuditRow = { ...row, reasons: [...row.reasons], roles: [...row.roles], entity_ids: [...row.entity_ids] };
  const r = t as unknown as Record<string, unknown>;
  const old = r[field];
  switch (field) {
    case 'ts': t.ts = new Date(Date.parse(row.ts) + (n % 86_400_000 || 1)).toISOString(); break;
    case 'seq': t.seq = row.seq + (n % 5) + 1; break;
    case 'status': t.status = row.status === 200 ? 403 : 200; break;
    case 'latency_ms': t.latency_ms = row.latency_ms + (n % 1000) + 1; break;
    case 'break_glass': case 'phi': r[field] = !old; break;
    case 'row_format': t.row_format = row.row_format === 2 ? 1 : 2; break;
    case 'decision': t.decision = row.decision === 'allow' ? 'deny' : 'allow'; break;
    case 'kind': t.kind = row.kind === 'decision' ? 'outcome' : 'decision'; break;
    case 'detail': t.detail = row.detail === null ? jcs({ n }) : null; break;
    case 'reasons': case 'roles': case 'entity_ids': {
      const a = r[field] as string[];
      if (a.length > 0 && n % 2 === 0) a.pop();
      else a.push(n % 3 === 0 ? 'admin' : `x${n}`);
      break;
    }
    case 'prev_hash': case 'hash': {
      const h = old as string;
      const i = n % 64;
      r[field] = h.slice(0, i) + (h[i] === '0' ? '1' : '0') + h.slice(i + 1);
      break;
    }
    default:
      if (!(field in r)) return null;
      r[field] = old === null ? `v${n}` : n % 4 === 0 ? (field === 'chain_id' || field === 'event_id' || field === 'method' || field === 'path' || field === 'request_id' ? `${old as string}x` : null) : `${old as string}${String.fromCharCode(32 + (n % 90))}`;
  }
  return isDeepStrictEqual(t, row) ? null : t;
}

function verifyRows(chain: string, rows: readonly AuditRow[]): { okUntil: number } {
  const v = new ChainVerifier(chain);
  let i = 0;
  for (; i < rows.length; i++) if (!v.push(rows[i]!)) break;
  return { okUntil: i };
}

function check(i: AuditInput): void {
  const chain = i.chain;
  const rows: AuditRow[] = [];
  let prev = { seq: 0, hash: GENESIS_HASH };
  for (const x of i.events) {
    const ev = coerceEvent(x);
    let norm: AuditEvent;
    try {
      norm = normalizeEvent(ev);
    } catch (err) {
      if (err instanceof AuditError && err.reason === 'invalid_event') continue;
      violated('normalize-only-refuses-with-invalid_event', (err as Error).stack ?? String(err));
    }
    holds(isDeepStrictEqual(normalizeEvent(norm), norm), 'normalize-idempotent', show(norm));
    let row: AuditRow;
    try {
      row = seal(chain, prev, ev);
    } catch (err) {
      violated('seal-after-normalize', (err as Error).stack ?? String(err));
    }
    prev = { seq: row.seq, hash: row.hash };
    rows.push(row);
  }
  if (rows.length === 0) return;

  for (const r of rows) holds(chainHash(r.prev_hash, canonicalHashed(r)) === r.hash, 'hash-is-sha256-of-canonical-row', show(r));
  holds(verifyRows(chain, rows).okUntil === rows.length, 'sealed-chain-verifies');

  // JSON: spool lines and JSONL export.
  const fromJsonl = rows.map((r) => rowFromJson(JSON.parse(JSON.stringify(r)) as Record<string, unknown>));
  for (let k = 0; k < rows.length; k++) holds(isDeepStrictEqual(fromJsonl[k], rows[k]), 'jsonl-round-trip', { want: show(rows[k]), got: show(fromJsonl[k]) });
  // CSV export.
  let fromCsv: AuditRow[];
  try {
    fromCsv = parseCsvRows(`${CSV_HEADER}\n${rows.map(rowToCsv).join('\n')}\n`);
  } catch (err) {
    violated('csv-parses', (err as Error).message);
  }
  holds(fromCsv.length === rows.length, 'csv-row-count', { want: rows.length, got: fromCsv.length });
  for (let k = 0; k < rows.length; k++) holds(isDeepStrictEqual(fromCsv[k], rows[k]), 'csv-round-trip', { want: show(rows[k]), got: show(fromCsv[k]) });
  holds(verifyRows(chain, fromCsv).okUntil === rows.length, 'csv-chain-verifies');

  // COPY FROM: what PostgreSQL reads from the writer's encoding.
  const lines = encodeCopyRows(rows).split('\n');
  holds(lines.pop() === '' && lines.length === rows.length, 'copy-in-one-line-per-row');
  for (let k = 0; k < rows.length; k++) {
    const f = copyInFields(lines[k]!);
    const r = rows[k]!;
    holds(f.length === 31, 'copy-in-31-fields', f.length);
    const want: (string | null)[] = [r.chain_id, String(r.seq), r.event_id, r.ts, r.decision, null, r.actor_sub, null, r.tenant, r.agent, r.session, r.action, r.route,
      r.method, r.path, null, r.memory_id, r.source_ip, r.request_id, r.policy_revision, r.break_glass ? 't' : 'f', r.phi ? 't' : 'f', String(r.latency_ms),
      r.body_digest, String(r.status), r.row_format === 1 ? null : String(r.row_format), r.kind, r.ref_event_id, r.detail, r.prev_hash, r.hash];
    for (const [col, idx] of [['reasons', 5], ['roles', 7], ['entity_ids', 15]] as const) {
      holds(isDeepStrictEqual(arrayIn(f[idx] ?? ''), r[col]), 'copy-in-array', { col, want: r[col], got: f[idx] });
      f[idx] = null;
    }
    holds(Number(f[22]) === r.latency_ms, 'copy-in-float', { want: r.latency_ms, got: f[22] });
    f[22] = want[22]!;
    holds(isDeepStrictEqual(f, want), 'copy-in-fields', { want: show(want), got: show(f) });
  }

  // COPY TO: what the verifier reads back.
  const out = rows.map(copyOutLine);
  for (let k = 0; k < rows.length; k++) {
    const d = decodeCopyLine(out[k]!);
    holds(d !== null && isDeepStrictEqual(d, rows[k]), 'copy-out-decodes-to-row', { line: show(out[k]), got: show(d), want: show(rows[k]) });
  }
  const decoded = out.map((l) => decodeCopyLine(l)!);
  holds(verifyRows(chain, decoded).okUntil === rows.length, 'copy-out-chain-verifies');

  // Tampering.
  if (i.tamper !== null) {
    const at = i.tamper.row % rows.length;
    const t = tampered(rows[at]!, i.tamper.field, i.tamper.n);
    if (t === null) return;
    const bad = [...rows];
    bad[at] = t;
    holds(verifyRows(chain, bad).okUntil === at, 'tamper-stops-verify-at-that-row', { field: i.tamper.field, at, got: verifyRows(chain, bad).okUntil });
    // The same change made in the database (values PostgreSQL can hold, within the column's CHECKs
    // a superuser could drop), read back as verify reads it: it must stop at that row too.
    const stored: AuditRow = { ...t };
    for (const k of Object.keys(stored) as (keyof AuditRow)[]) {
      const v = stored[k];
      if (typeof v === 'string') (stored as unknown as Record<string, unknown>)[k] = storable(v);
      else if (Array.isArray(v)) (stored as unknown as Record<string, unknown>)[k] = v.map(storable);
    }
    if (isDeepStrictEqual(stored, rows[at])) return;
    const line = copyOutLine(stored);
    const back = decodeCopyLine(line);
    if (back === null) return; // the verifier names a row it cannot read (hashBlock: a problem)
    const badDecoded = [...decoded];
    badDecoded[at] = back;
    holds(verifyRows(chain, badDecoded).okUntil === at, 'tamper-in-database-stops-verify-at-that-row', { field: i.tamper.field, at, line: show(line) });
  }
}

export const auditTarget: Target<AuditInput> = {
  name: 'audit',
  about: 'authz/src/audit: row normalize/seal/hash, JSON, CSV, COPY in/out encodings, verifier, tamper detection',
  arbitrary,
  fromJson,
  check,
  dictionary: [...WEIRD, 'allow', 'deny', 'decision', 'outcome', 'admin', 'config', 'authz-1', 'admin:host', '2026-11-23T12:00:00.000Z', 'detail:k=v'],
};

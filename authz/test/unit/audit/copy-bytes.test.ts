// The verifier's byte path (copy-bytes.ts): it may only say "verified" for a line whose stored
// hash is SHA-256(prev ‖ RFC 8785 JSON) of exactly the values PostgreSQL printed.
import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCanonicalNumber, LineHasher } from '../../../src/audit/copy-bytes.js';
import { canonicalHashed, chainHash, GENESIS_HASH, hashedKeys, ROW_COLUMNS, seal, type AuditRow } from '../../../src/audit/row.js';
import type { AuditEvent } from '../../../src/types.js';

const enc = new TextEncoder();
const canonical = (s: string): boolean => {
  const b = enc.encode(s);
  return isCanonicalNumber(b, 0, b.length, true);
};

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A row as PostgreSQL's COPY TO prints it (DateStyle ISO, UTC; no escapes needed for these values but backslashes in detail). */
function pgLine(r: AuditRow): string {
  const ts = r.ts.replace('T', ' ').replace(/\.?0*Z$/, '+00');
  const arr = (a: readonly string[]): string => `{${a.join(',')}}`;
  const v: Record<string, string> = {};
  for (const c of ROW_COLUMNS) {
    const x = r[c];
    v[c] = x === null ? '\\N' : typeof x === 'boolean' ? (x ? 't' : 'f') : Array.isArray(x) ? arr(x) : String(x);
  }
  v.ts = ts;
  if (r.row_format === 1) v.row_format = '\\N'; // format 1 is stored as NULL
  if (r.detail !== null) v.detail = r.detail.replace(/\\/g, '\\\\');
  return ROW_COLUMNS.map((c) => v[c]).join('\t') + '\n';
}

function event(over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    event_id: randomUUID(), ts: '2026-11-23T12:00:00.120Z', decision: 'allow', reasons: ['policy_allow'], actor_sub: 'user-1',
    roles: ['agent-writer', 'reader'], tenant: 'acme', agent: null, session: 's-1', action: 'write', route: 'memories.create',
    method: 'POST', path: '/memories', entity_ids: ['acme:user-1'], memory_id: null, source_ip: '10.1.2.3', request_id: randomUUID(),
    policy_revision: 'f'.repeat(64), break_glass: false, phi: true, latency_ms: 1.25, body_digest: 'a'.repeat(64), status: 201,
    kind: 'decision', ref_event_id: null, detail: null,
    ...over,
  };
}

describe('byte-level canonical numbers', () => {
  it('accepts only numbers whose PostgreSQL text is exactly their ECMAScript (RFC 8785) text', () => {
    const next = rng(8785);
    const digits = (n: number): string => Array.from({ length: n }, () => String(Math.floor(next() * 10))).join('');
    let accepted = 0;
    for (let i = 0; i < 50_000; i++) {
      // Integer part, fraction, sign and exponent of every shape, canonical or not.
      const int = next() < 0.3 ? '0' : digits(1 + Math.floor(next() * 17));
      const frac = next() < 0.3 ? '' : `.${next() < 0.3 ? '0'.repeat(Math.floor(next() * 9)) : ''}${digits(Math.floor(next() * 12))}`;
      const exp = next() < 0.05 ? `e${next() < 0.5 ? '-' : '+'}${Math.floor(next() * 30)}` : '';
      const s = `${next() < 0.2 ? '-' : ''}${int}${frac}${exp}`;
      if (canonical(s)) {
        accepted++;
        expect(String(Number(s)), s).toBe(s);
      }
    }
    expect(accepted).toBeGreaterThan(5_000); // the property is not satisfied by refusing everything
    for (const s of ['0', '1', '-1', '0.5', '123.456', '0.000123', '999999999999999', '-0.25']) expect(canonical(s), s).toBe(true);
    for (const s of ['-0', '01', '1.50', '1.', '.5', '1e-07', '1e+21', '0.0000001', '1234567890123456', 'Infinity', 'NaN', '', '-', '1.2.3'])
      expect(canonical(s), s).toBe(false);
    // Integer columns take no fraction.
    const b = enc.encode('1.5');
    expect(isCanonicalNumber(b, 0, b.length, false)).toBe(false);
  });
});

describe('LineHasher (byte path of verify)', () => {
  const chain = 'c-1';
  const r1 = seal(chain, { seq: 0, hash: GENESIS_HASH }, event());
  const r2 = seal(chain, r1, event({ ts: '2026-11-23T12:00:01.000Z', latency_ms: 0.000125, status: 403, decision: 'deny', reasons: [], memory_id: 'm-9' }));
  const text = pgLine(r1) + pgLine(r2);
  const bytes = enc.encode(text);

  it('verifies plain lines as PostgreSQL prints them, and reports where each ends and its seq', () => {
    const h = new LineHasher(chain);
    expect(h.check(bytes, 0)).toBe(true);
    expect(h.seq).toBe(1);
    expect(h.end).toBe(text.indexOf('\n'));
    expect(new TextDecoder().decode(bytes.subarray(h.hashAt, h.hashAt + 64))).toBe(r1.hash);
    expect(new TextDecoder().decode(bytes.subarray(h.prevAt, h.prevAt + 64))).toBe(GENESIS_HASH);
    expect(h.check(bytes, h.end + 1)).toBe(true);
    expect(h.seq).toBe(2);
    expect(h.end).toBe(bytes.length - 1);
  });

  /**
   * A line plus a hash column forged over prev ‖ the JSON a byte path WITHOUT the guard under test
   * would build from it (the column's bytes copied into `json` as given). So only the guard can
   * make check() say no: for each case the reference verifier would hash something else.
   */
  function forged(r: AuditRow, col?: keyof AuditRow, copy?: Uint8Array | string, json?: Uint8Array | string): Uint8Array {
    const bytes = (x: Uint8Array | string): Uint8Array => (typeof x === 'string' ? enc.encode(x) : x);
    const fields = pgLine(r).slice(0, -1).split('\t').map((f): Uint8Array => enc.encode(f));
    const value = (k: keyof AuditRow): Uint8Array => (k === col && json !== undefined ? bytes(json) : enc.encode(JSON.stringify(r[k])));
    const parts: Uint8Array[] = [enc.encode(r.prev_hash)];
    hashedKeys(r.row_format).forEach((k, i) => parts.push(enc.encode(`${i > 0 ? ',' : '{'}${JSON.stringify(k)}:`), value(k)));
    parts.push(enc.encode('}'));
    if (col !== undefined && copy !== undefined) fields[ROW_COLUMNS.indexOf(col as (typeof ROW_COLUMNS)[number])] = bytes(copy);
    fields[ROW_COLUMNS.indexOf('hash')] = enc.encode(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
    const line: Uint8Array[] = [];
    fields.forEach((f, i) => line.push(...(i > 0 ? [enc.encode('\t')] : []), f));
    return Buffer.concat([...line, enc.encode('\n')]);
  }

  it('the forging helper builds exactly what the byte path hashes (control: accepted unchanged)', () => {
    expect(new LineHasher(chain).check(forged(r1), 0)).toBe(true);
    expect(new LineHasher(chain).check(forged(r2), 0)).toBe(true);
    const old = seal(chain, { seq: 0, hash: GENESIS_HASH }, event());
    old.row_format = 1;
    old.kind = null;
    expect(new LineHasher(chain).check(forged(old), 0)).toBe(true);
  });

  it('verifies both row formats, and format-2 details with quotes and backslashes, exactly as the reference hashes them', () => {
    // Format 1 (row_format NULL, 25 keys), then format-2 rows of each kind.
    const old = { ...seal(chain, { seq: 0, hash: GENESIS_HASH }, event()), row_format: 1, kind: null };
    old.hash = chainHash(old.prev_hash, canonicalHashed(old));
    const details = ['{"a":"q\\"b\\\\c","n":2}', '{"content_findings":["email"],"returned":3,"u":"日本\\u0000\\n"}', '{}', '{"x":"\\\\"}'];
    const rows: AuditRow[] = [old];
    for (let i = 0; i < 8; i++) {
      rows.push(seal(chain, rows[rows.length - 1]!, event({
        kind: (['decision', 'outcome', 'admin', 'config'] as const)[i % 4]!, ref_event_id: i % 4 === 1 ? old.event_id : null,
        detail: i % 5 === 0 ? null : details[i % details.length]!,
      })));
    }
    const text = rows.map(pgLine).join('');
    const buf = enc.encode(text);
    const h = new LineHasher(chain);
    let start = 0;
    for (const r of rows) {
      expect(h.check(buf, start), `seq ${r.seq}`).toBe(true);
      expect(h.seq).toBe(r.seq);
      start = h.end + 1;
    }
    expect(start).toBe(buf.length);
    // And a detail changed by one byte is not vouched for.
    const withN = rows.find((r) => r.detail?.includes('"n":2') === true)!;
    const bad = enc.encode(pgLine(withN).replace('"n":2', '"n":3'));
    expect(new LineHasher(chain).check(enc.encode(pgLine(withN)), 0)).toBe(true);
    expect(new LineHasher(chain).check(bad, 0)).toBe(false);
  });

  it('says "don\'t know" to lines whose stored hash only a guard-less byte path would match', () => {
    const cases: [string, keyof AuditRow, Uint8Array | string, Uint8Array | string][] = [
      ['quote', 'path', '/mem"ories', '"/mem"ories"'],
      ['escape \\v (JSON wants \\u000b)', 'path', '/mem\\vories', '"/mem\\vories"'],
      ['raw control byte', 'path', '/mem\u0001ories', '"/mem\u0001ories"'],
      ['invalid UTF-8', 'path', Buffer.from([0x2f, 0x6d, 0xff]), Buffer.from([0x22, 0x2f, 0x6d, 0xff, 0x22])],
      ['NULL element', 'reasons', '{policy_allow,NULL}', '["policy_allow","NULL"]'],
      ['2-D array', 'reasons', '{{policy_allow}}', '["{policy_allow}"]'],
      ['microseconds', 'ts', '2026-11-23 12:00:00.120001+00', '"2026-11-23T12:00:00.120001Z"'],
      ['other zone', 'ts', '2026-11-23 12:00:00.12+01', '"2026-11-23T12:00:00.120Z"'],
      ['exponent', 'latency_ms', '1.25e0', '1.25e0'],
      ['negative zero', 'latency_ms', '-0', '-0'],
      ['17 significant digits', 'latency_ms', '1234567890123456.7', '1234567890123456.7'],
      ['NULL boolean (read as f)', 'phi', '\\N', 'false'],
      ['other chain', 'chain_id', 'c-2', '"c-1"'],
    ];
    for (const [name, col, copy, json] of cases) {
      const line = forged(r1, col, copy, json);
      const h = new LineHasher(chain);
      expect(h.check(line, 0), name).toBe(false);
      expect(h.end, name).toBe(line.length - 1);
    }
    // Row format 2's columns. Format-1 lines (row_format \N) whose kind, ref_event_id or detail is
    // set: the 25-key hash does not cover them. row_format values no writer writes.
    const old = seal(chain, { seq: 0, hash: GENESIS_HASH }, event());
    old.row_format = 1;
    old.kind = null;
    const r3 = seal(chain, r1, event({ kind: 'outcome', ref_event_id: r1.event_id, detail: '{"a":"q\\"b\\\\c","n":2}' }));
    const format2Cases: [string, AuditRow, keyof AuditRow, Uint8Array | string, Uint8Array | string][] = [
      ['format 1 with kind', old, 'kind', 'outcome', 'null'],
      ['format 1 with ref_event_id', old, 'ref_event_id', 'd-1', 'null'],
      ['format 1 with detail', old, 'detail', '{}', 'null'],
      ['row_format 1 stored', old, 'row_format', '1', 'null'],
      ['row_format 3 (29 keys hashed with 3)', r1, 'row_format', '3', '3'],
      ['row_format 02', r1, 'row_format', '02', '2'],
      ['detail \\\\ (one backslash) is not NULL', r1, 'detail', '\\\\', 'null'],
      ['detail with a COPY escape JSON writes otherwise (\\v)', r3, 'detail', '{"a":"\\v"}', '"{\\"a\\":\\"\\v\\"}"'],
      ['detail with a raw control byte', r3, 'detail', '{"a":"\u0001"}', '"{\\"a\\":\\"\u0001\\"}"'],
      ['quote outside detail', r3, 'kind', 'out"come', '"out\\"come"'],
    ];
    for (const [name, row, col, copy, json] of format2Cases) {
      const line = forged(row, col, copy, json);
      const h = new LineHasher(chain);
      expect(h.check(line, 0), name).toBe(false);
      expect(h.end, name).toBe(line.length - 1);
    }
    // A stored hash that is simply wrong, and a partial line.
    const wrong = enc.encode(pgLine(r1).replace(r1.hash, r1.hash.replace(/.$/, (c) => (c === '0' ? '1' : '0'))));
    expect(new LineHasher(chain).check(wrong, 0)).toBe(false);
    const partial = enc.encode(pgLine(r1).slice(0, -1));
    const h = new LineHasher(chain);
    expect(h.check(partial, 0)).toBe(false);
    expect(h.end).toBe(-1);
  });
});

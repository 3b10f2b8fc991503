// The verifier's byte path (copy-bytes.ts): it may only say "verified" for a line whose stored
// hash is SHA-256(prev ‖ RFC 8785 JSON) of exactly the values PostgreSQL printed.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCanonicalNumber, LineHasher } from '../../../src/audit/copy-bytes.js';
import { GENESIS_HASH, ROW_COLUMNS, seal, type AuditRow } from '../../../src/audit/row.js';
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

/** A row as PostgreSQL's COPY TO prints it (DateStyle ISO, UTC; no escapes needed for these values). */
function pgLine(r: AuditRow): string {
  const ts = r.ts.replace('T', ' ').replace(/\.?0*Z$/, '+00');
  const arr = (a: readonly string[]): string => `{${a.join(',')}}`;
  const v: Record<string, string> = {};
  for (const c of ROW_COLUMNS) {
    const x = r[c];
    v[c] = x === null ? '\\N' : typeof x === 'boolean' ? (x ? 't' : 'f') : Array.isArray(x) ? arr(x) : String(x);
  }
  v.ts = ts;
  return ROW_COLUMNS.map((c) => v[c]).join('\t') + '\n';
}

function event(over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    event_id: randomUUID(), ts: '2026-11-23T12:00:00.120Z', decision: 'allow', reasons: ['policy_allow'], actor_sub: 'user-1',
    roles: ['agent-writer', 'reader'], tenant: 'acme', agent: null, session: 's-1', action: 'write', route: 'memories.create',
    method: 'POST', path: '/memories', entity_ids: ['acme:user-1'], memory_id: null, source_ip: '10.1.2.3', request_id: randomUUID(),
    policy_revision: 'f'.repeat(64), break_glass: false, phi: true, latency_ms: 1.25, body_digest: 'a'.repeat(64), status: 201,
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

  it('says "don\'t know" for a changed value, another chain, escapes, odd timestamps or a partial line', () => {
    const variants: [string, string][] = [
      ['changed value', pgLine(r1).replace('acme:user-1', 'acme:user-2')],
      ['changed hash', pgLine(r1).replace(r1.hash, r1.hash.replace(/.$/, (c) => (c === '0' ? '1' : '0')))],
      ['other chain', pgLine(r1).replace(/^c-1/, 'c-2')],
      ['quote', pgLine(r1).replace('/memories', '/mem"ories')],
      ['escape', pgLine(r1).replace('/memories', '/mem\\tories')],
      ['control byte', pgLine(r1).replace('/memories', '/mem\u0001ories')],
      ['NULL element', pgLine(r1).replace('{policy_allow}', '{policy_allow,NULL}')],
      ['microseconds', pgLine(r1).replace('12:00:00.12+00', '12:00:00.120001+00')],
      ['other zone', pgLine(r1).replace('12:00:00.12+00', '12:00:00.12+01')],
      ['exponent', pgLine(r1).replace('\t1.25\t', '\t1.25e0\t')],
      ['2-D array', pgLine(r1).replace('{policy_allow}', '{{policy_allow}}')],
    ];
    for (const [name, line] of variants) {
      const b = enc.encode(line);
      const h = new LineHasher(chain);
      expect(h.check(b, 0), name).toBe(false);
      expect(h.end, name).toBe(b.length - 1);
    }
    const partial = enc.encode(pgLine(r1).slice(0, -1));
    const h = new LineHasher(chain);
    expect(h.check(partial, 0)).toBe(false);
    expect(h.end).toBe(-1);
  });
});

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalHashed, canonicalHashedFast, chainHash, GENESIS_HASH, HASHED_KEYS, normalizeEvent, seal } from '../../../src/audit/row.js';
import type { AuditEvent } from '../../../src/types.js';

const WEIRD = ['', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0001ctl', 'é', '日本', '😀', '\u2028', '\u007f', '</script>'];
function pick<T>(a: readonly T[], i: number): T { return a[i % a.length]!; }

function ev(i: number): AuditEvent {
  return {
    event_id: randomUUID(), ts: new Date(1_700_000_000_000 + i * 37).toISOString(), decision: pick(['allow', 'deny', 'error'] as const, i),
    reasons: [pick(WEIRD, i), pick(WEIRD, i + 3)], actor_sub: i % 4 === 0 ? null : pick(WEIRD, i + 1), roles: i % 3 ? [] : ['admin', pick(WEIRD, i)],
    tenant: pick(WEIRD, i + 2), agent: null, session: pick(WEIRD, i + 5), action: 'read', route: 'memories.get', method: 'GET',
    path: `/memories/${pick(WEIRD, i)}`, entity_ids: [pick(WEIRD, i + 7)], memory_id: i % 2 ? null : 'm1', source_ip: '::1',
    request_id: 'r', policy_revision: null, break_glass: i % 5 === 0, phi: i % 2 === 0,
    latency_ms: pick([0, 1, 0.1, 1e-7, 1e21, 123.456, 2 ** 53, 5e-324], i), body_digest: null, status: pick([200, 403, 503], i),
  };
}

describe('audit row canonicalization and hash', () => {
  it('the fast serializer equals RFC 8785 (npm canonicalize) on varied rows', () => {
    for (let i = 0; i < 500; i++) {
      const row = { chain_id: 'c', seq: i + 1, ...normalizeEvent(ev(i)) };
      expect(canonicalHashedFast(row)).toBe(canonicalHashed(row));
    }
  });

  it('hashes exactly the documented keys, sorted, without prev_hash/hash', () => {
    expect(HASHED_KEYS).toEqual([...HASHED_KEYS].sort());
    expect(HASHED_KEYS).not.toContain('prev_hash');
    expect(HASHED_KEYS).not.toContain('hash');
    expect(HASHED_KEYS).toContain('chain_id');
    expect(HASHED_KEYS).toContain('seq');
    expect(HASHED_KEYS.length).toBe(25);
  });

  it('hash = sha256(prev_hash hex ‖ canonical JSON) with a 64-zero genesis (known answer)', () => {
    // Known answer, computed outside this code: printf '%s' "$(printf '0%.0s' {1..64})"'{"a":1}' | sha256sum
    expect(chainHash(GENESIS_HASH, '{"a":1}')).toBe('fc6cee09194dd2578bd7664604fcb72a539066fd34544cea0009c43eb6cdc289');
    const r1 = seal('c', { seq: 0, hash: GENESIS_HASH }, ev(1));
    const r2 = seal('c', { seq: r1.seq, hash: r1.hash }, ev(2));
    expect(r1).toMatchObject({ seq: 1, prev_hash: GENESIS_HASH });
    expect(r2.prev_hash).toBe(r1.hash);
    expect(r2.hash).toBe(chainHash(r1.hash, canonicalHashed(r2)));
  });

  it('normalizes what PostgreSQL could not store identically (NUL, lone surrogates, ts precision, -0)', () => {
    const n = normalizeEvent({ ...ev(1), path: 'a\u0000b\ud800c', ts: '2026-11-23T10:00:00.123456Z', latency_ms: -0 });
    expect(n.path).toBe('a\ufffdb\ufffdc');
    expect(n.ts).toBe('2026-11-23T10:00:00.123Z');
    expect(Object.is(n.latency_ms, 0)).toBe(true);
    expect(() => normalizeEvent({ ...ev(1), ts: 'yesterday' })).toThrow(/ts/);
    expect(() => normalizeEvent({ ...ev(1), latency_ms: Number.NaN })).toThrow(/latency/);
  });
});

describe('PostgreSQL text[] literal parsing', () => {
  it('reads what PostgreSQL prints', async () => {
    const { parseTextArray, arrayLiteral } = await import('../../../src/audit/pg.js');
    expect(parseTextArray('{}')).toEqual([]);
    expect(parseTextArray('{a,b}')).toEqual(['a', 'b']);
    expect(parseTextArray('{"",NULLx,"NULL","a b","c\\"d","e\\\\f","{x,y}"}')).toEqual(['', 'NULLx', 'NULL', 'a b', 'c"d', 'e\\f', '{x,y}']);
    const weird = ['', 'q"', 'b\\', '{,}', '日本'];
    expect(parseTextArray(arrayLiteral(weird))).toEqual(weird);
  });
});

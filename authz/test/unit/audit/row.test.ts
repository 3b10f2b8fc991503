import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalHashed, chainHash, formatProblem, GENESIS_HASH, HASHED_KEYS, HASHED_KEYS_2, normalizeEvent, rowFromJson, seal,
  type HashedRow,
} from '../../../src/audit/row.js';
import { jcs } from '../../../src/audit/jcs.js';
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
    kind: 'decision', ref_event_id: null, detail: null,
  };
}

describe('audit row canonicalization and hash', () => {
  it('the canonical form is the RFC 8785 library\'s (npm canonicalize) serialization of the hashed keys, on varied rows', () => {
    for (let i = 0; i < 500; i++) {
      const row = { chain_id: 'c', seq: i + 1, row_format: 2, ...normalizeEvent(ev(i)) };
      const obj = Object.fromEntries(Object.entries(row).reverse()); // key order must not matter
      expect(canonicalHashed(row)).toBe(jcs(obj));
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

describe('row format 2', () => {
  // The known answer of audit/README.md "Canonicalization and hash": an outcome row. The canonical
  // JSON and the hash were checked outside this code (Python's json + sha256sum).
  const KNOWN: HashedRow = {
    chain_id: 'authz-1', seq: 2, event_id: '7c1f3b52-0d4e-4b8a-9f61-2e5a8c9d0b13', ts: '2026-11-23T12:00:00.125Z', decision: 'allow',
    reasons: ['outcome'], actor_sub: 'user-1', roles: ['agent-reader'], tenant: 'acme', agent: 'agent-1', session: 's-1',
    action: 'read', route: 'memories.list', method: 'GET', path: '/memories', entity_ids: ['user_id=acme:u1'], memory_id: null,
    source_ip: '10.0.0.7', request_id: 'req-1', policy_revision: null, break_glass: false, phi: false, latency_ms: 12.5, body_digest: null,
    status: 200, row_format: 2, kind: 'outcome', ref_event_id: '3e9a0c4d-6b2f-4d71-8e15-a0c7b4f29d68',
    detail: '{"returned":2,"upstream_status":200,"withheld_phi":["m-7"]}',
  };
  const KNOWN_JSON = '{"action":"read","actor_sub":"user-1","agent":"agent-1","body_digest":null,"break_glass":false,"chain_id":"authz-1",'
    + '"decision":"allow","detail":"{\\"returned\\":2,\\"upstream_status\\":200,\\"withheld_phi\\":[\\"m-7\\"]}",'
    + '"entity_ids":["user_id=acme:u1"],"event_id":"7c1f3b52-0d4e-4b8a-9f61-2e5a8c9d0b13","kind":"outcome",'
    + '"latency_ms":12.5,"memory_id":null,"method":"GET","path":"/memories","phi":false,"policy_revision":null,"reasons":["outcome"],'
    + '"ref_event_id":"3e9a0c4d-6b2f-4d71-8e15-a0c7b4f29d68","request_id":"req-1","roles":["agent-reader"],"route":"memories.list",'
    + '"row_format":2,"seq":2,"session":"s-1","source_ip":"10.0.0.7","status":200,"tenant":"acme","ts":"2026-11-23T12:00:00.125Z"}';
  const KNOWN_PREV = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const KNOWN_HASH = 'e34ddec02d9c3d86156a1b75fec308b08ae875c9374125cb0264d8e01fa861f0';

  it('hashes the 25 format-1 keys plus row_format, kind, ref_event_id, detail (29), sorted', () => {
    expect(HASHED_KEYS_2).toEqual([...HASHED_KEYS_2].sort());
    expect(HASHED_KEYS_2.length).toBe(29);
    expect(HASHED_KEYS_2.filter((k) => !HASHED_KEYS.includes(k)).sort()).toEqual(['detail', 'kind', 'ref_event_id', 'row_format']);
  });

  it('known answer: canonical JSON (detail as a JSON string) and hash', () => {
    expect(canonicalHashed(KNOWN)).toBe(KNOWN_JSON);
    expect(chainHash(KNOWN_PREV, KNOWN_JSON)).toBe(KNOWN_HASH);
  });

  it('the writer seals format 2; a format-1 row hashes exactly as before (25 keys, no new ones)', () => {
    const r = seal('c', { seq: 0, hash: GENESIS_HASH }, ev(3));
    expect(r).toMatchObject({ row_format: 2, kind: 'decision', ref_event_id: null, detail: null });
    expect(Object.keys(JSON.parse(canonicalHashed(r)))).toHaveLength(29);
    const old: HashedRow = { ...r, row_format: 1, kind: null };
    const json = canonicalHashed(old);
    expect(Object.keys(JSON.parse(json))).toEqual(HASHED_KEYS);
    // What the format-1 code hashed: the object of the 25 columns.
    const legacy: Record<string, unknown> = {};
    for (const k of HASHED_KEYS) legacy[k] = old[k];
    expect(json).toBe(jcs(legacy));
  });

  it('format-2 rows of every kind, details with quotes, backslashes and unicode: the library\'s form, and it round-trips', () => {
    const details = [null, '{}', '{"a":"x\\"y\\\\z"}', '{"content_findings":["ssn","email"],"n":1e+21,"u":"日本😀\\u0000"}', '{"returned":0}'];
    for (let i = 0; i < 200; i++) {
      const e = normalizeEvent({ ...ev(i), kind: (['decision', 'outcome', 'admin', 'config'] as const)[i % 4]!, ref_event_id: i % 4 === 1 ? `d-${i}` : null,
        detail: details[i % details.length]! });
      const row = { chain_id: 'c', seq: i + 1, row_format: 2, ...e };
      const json = canonicalHashed(row);
      expect(jcs(JSON.parse(json))).toBe(json);
      expect(JSON.parse(json).detail).toBe(row.detail);
    }
  });

  it('refuses rows without a hash rule: unknown row_format, a format-1 row showing format-2 values', () => {
    const r = seal('c', { seq: 0, hash: GENESIS_HASH }, { ...ev(1), kind: 'outcome', ref_event_id: 'd-1', detail: '{"returned":1}' });
    expect(formatProblem(r)).toBeNull();
    expect(formatProblem({ ...r, row_format: 0 })).toMatch(/not a row format/);
    expect(formatProblem({ ...r, row_format: 3 })).toMatch(/not a row format/);
    for (const extra of [{ kind: 'outcome' as const }, { ref_event_id: 'd-1' }, { detail: '{}' }]) {
      const bad = { ...r, row_format: 1, kind: null, ref_event_id: null, detail: null, ...extra };
      expect(formatProblem(bad)).toMatch(/format-1 row/);
      expect(() => canonicalHashed(bad)).toThrow(/format-1 row/);
    }
  });

  it('normalizeEvent checks kind and takes detail only as canonical JSON text of an object', () => {
    const ok = (detail: string | null) => normalizeEvent({ ...ev(1), kind: 'outcome', ref_event_id: 'd', detail }).detail;
    expect(ok(null)).toBeNull();
    expect(ok('{}')).toBe('{}');
    expect(ok('{"a":[1,"x"],"b":{"c":null}}')).toBe('{"a":[1,"x"],"b":{"c":null}}');
    expect(ok(jcs({ withheld_ids: ['m-1'], returned: 3, upstream_status: 200 }))).toBe('{"returned":3,"upstream_status":200,"withheld_ids":["m-1"]}');
    const bad = ['{"b":1,"a":2}', '{ "a":1}', '{"a":1.0}', '{"a":1e2}', '{"a":"\\u0041"}', '[1]', '1', '"x"', 'null', '{', '', '{"a":12345678901234567890}'];
    for (const detail of bad) {
      expect(() => normalizeEvent({ ...ev(1), detail }), detail).toThrow(expect.objectContaining({ reason: 'invalid_event', message: expect.stringMatching(/detail/) }));
    }
    expect(() => normalizeEvent({ ...ev(1), detail: { a: 1 } as never })).toThrow(expect.objectContaining({ reason: 'invalid_event' }));
    expect(() => normalizeEvent({ ...ev(1), kind: 'verdict' as never })).toThrow(expect.objectContaining({ reason: 'invalid_event', message: expect.stringMatching(/kind/) }));
    expect(() => normalizeEvent({ ...ev(1), kind: undefined as never })).toThrow(expect.objectContaining({ reason: 'invalid_event' }));
    expect(() => normalizeEvent({ ...ev(1), ref_event_id: 7 as never })).toThrow(expect.objectContaining({ reason: 'invalid_event' }));
  });

  it('rows from files written before format 2 (spool, export) read as format-1 rows', () => {
    const r = seal('c', { seq: 0, hash: GENESIS_HASH }, ev(2));
    const { row_format: _f, kind: _k, ref_event_id: _r, detail: _d, ...old } = r;
    expect(rowFromJson(JSON.parse(JSON.stringify(old)))).toMatchObject({ row_format: 1, kind: null, ref_event_id: null, detail: null });
    expect(rowFromJson(JSON.parse(JSON.stringify(r)))).toEqual(r);
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

import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { loadSigner, loadVerifier } from '../../../src/audit/checkpoint.js';
import { canonicalHashed, chainHash, GENESIS_HASH, seal, type AuditRow } from '../../../src/audit/row.js';
import { ChainVerifier } from '../../../src/audit/verify.js';
import type { AuditEvent } from '../../../src/types.js';

function ev(i: number): AuditEvent {
  return {
    event_id: randomUUID(), ts: new Date(1_700_000_000_000 + i).toISOString(), decision: 'allow', reasons: [], actor_sub: 'u', roles: [],
    tenant: i % 2 ? 'a' : 'b', agent: null, session: null, action: 'read', route: 'search', method: 'POST', path: '/search', entity_ids: [],
    memory_id: null, source_ip: null, request_id: 'r', policy_revision: null, break_glass: false, phi: false, latency_ms: 1, body_digest: null, status: 200,
    kind: 'decision', ref_event_id: null, detail: null,
  };
}
function chain(n: number): AuditRow[] {
  const rows: AuditRow[] = [];
  let head = { seq: 0, hash: GENESIS_HASH };
  for (let i = 0; i < n; i++) {
    const r = seal('c', head, ev(i));
    rows.push(r);
    head = { seq: r.seq, hash: r.hash };
  }
  return rows;
}
function run(rows: AuditRow[], opts: ConstructorParameters<typeof ChainVerifier>[1] = {}) {
  const v = new ChainVerifier('c', opts);
  for (const r of rows) if (!v.push(r)) break;
  return v.finish();
}

describe('ChainVerifier', () => {
  it('accepts a valid chain and reports its head', () => {
    const rows = chain(10);
    expect(run(rows)).toMatchObject({ rows: 10, last_seq: 10, head_hash: rows[9]!.hash, problem: null });
  });

  it('names the first bad row for modification, deletion, duplication and a wrong chain', () => {
    const mod = chain(10);
    mod[3] = { ...mod[3]!, status: 500 };
    expect(run(mod).problem).toMatchObject({ seq: 4, reason: 'hash_mismatch', event_id: mod[3]!.event_id });
    const del = chain(10);
    del.splice(5, 2);
    expect(run(del).problem).toMatchObject({ seq: 8, reason: 'rows_missing' });
    const dup = chain(5);
    dup.splice(3, 0, dup[2]!);
    expect(run(dup).problem).toMatchObject({ seq: 3, reason: 'seq_out_of_order' });
    const other = chain(3);
    other[1] = { ...other[1]!, chain_id: 'x' };
    expect(run(other).problem).toMatchObject({ seq: 2, reason: 'wrong_chain' });
  });

  it('a segment anchored mid-chain verifies; a sparse (tenant) export checks each row and skips gaps', () => {
    const rows = chain(20);
    expect(run(rows.slice(10), { startSeq: 11, startPrevHash: rows[9]!.hash }).problem).toBeNull();
    const sparse = rows.filter((r) => r.tenant === 'a');
    expect(run(sparse, { startSeq: sparse[0]!.seq, sparse: true }).problem).toBeNull();
    const bad = sparse.map((r, i) => (i === 3 ? { ...r, tenant: 'b' } : r));
    expect(run(bad, { startSeq: sparse[0]!.seq, sparse: true }).problem).toMatchObject({ seq: sparse[3]!.seq, reason: 'hash_mismatch' });
  });

  it('checks checkpoint signatures and hashes; unchecked without a key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const signer = loadSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const rows = chain(10);
    const cp = signer.sign('c', 5, rows[4]!.hash, new Date(0).toISOString());
    const keys = [loadVerifier(signer.publicKeyPem)];
    expect(run(rows, { checkpoints: [cp], keys })).toMatchObject({ problem: null, checkpoints_verified: 1 });
    expect(run(rows, { checkpoints: [cp] })).toMatchObject({ problem: null, checkpoints_unsigned_check: 1 });
    expect(run(rows, { checkpoints: [{ ...cp, hash: rows[3]!.hash }], keys }).problem).toMatchObject({ seq: 5, reason: 'checkpoint_bad_signature' });
    expect(run(rows.slice(0, 4), { checkpoints: [cp], keys }).problem).toMatchObject({ seq: 5, reason: 'checkpoint_beyond_head' });
  });

  it('a chain of format-1 rows continued by format-2 rows verifies; format-2 tampering is named', () => {
    // Format-1 rows as the previous version sealed them: 25 keys, new columns NULL.
    const rows: AuditRow[] = [];
    let head = { seq: 0, hash: GENESIS_HASH };
    for (let i = 0; i < 5; i++) {
      const r: AuditRow = { ...seal('c', head, ev(i)), row_format: 1, kind: null };
      r.hash = chainHash(r.prev_hash, canonicalHashed(r));
      rows.push(r);
      head = r;
    }
    for (let i = 5; i < 10; i++) {
      const r = seal('c', head, { ...ev(i), kind: i % 2 ? 'outcome' : 'decision', ref_event_id: i % 2 ? rows[i - 1]!.event_id : null,
        detail: i % 2 ? '{"returned":1,"upstream_status":200}' : null });
      rows.push(r);
      head = r;
    }
    expect(run(rows)).toMatchObject({ rows: 10, problem: null });
    const at = (i: number, change: Partial<AuditRow>) => rows.map((r, k) => (k === i ? { ...r, ...change } : r));
    const cases: [string, AuditRow[], number][] = [
      ['kind', at(5, { kind: 'admin' }), 6],
      ['ref_event_id', at(6, { ref_event_id: rows[0]!.event_id }), 7],
      ['detail', at(6, { detail: '{"returned":0,"upstream_status":200}' }), 7],
      ['row_format NULL, new columns kept', at(6, { row_format: 1 }), 7],
      ['row_format NULL, new columns dropped', at(6, { row_format: 1, kind: null, ref_event_id: null, detail: null }), 7],
      ['row_format not a format', at(7, { row_format: 0 }), 8],
      ['a format-1 row given a kind', at(2, { kind: 'outcome' }), 3],
      ['a format-1 row made format 2', at(2, { row_format: 2, kind: 'decision' }), 3],
    ];
    for (const [name, tampered, seq] of cases) {
      expect(run(tampered).problem, name).toMatchObject({ seq, reason: 'hash_mismatch', event_id: rows[seq - 1]!.event_id });
    }
  });

  it('rejects a non-Ed25519 checkpoint key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => loadSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())).toThrow(/Ed25519/);
  });
});

// What verify does per row off the main thread: decode a COPY line of ROW_SELECT_SQL and judge the
// row's own hash; the in-order checks on the results name the same rows as the plain verifier.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeCopyRows } from '../../../src/audit/copy-text.js';
import { GENESIS_HASH, seal, type AuditRow } from '../../../src/audit/row.js';
import { ChainVerifier } from '../../../src/audit/verify.js';
import { hashBlock } from '../../../src/audit/verify-worker.js';
import type { AuditEvent } from '../../../src/types.js';

function ev(i: number): AuditEvent {
  return {
    event_id: randomUUID(), ts: new Date(1_790_000_000_000 + i).toISOString(), decision: 'allow', reasons: ['allowed', 'tab\there'], actor_sub: `u-${i}`,
    roles: ['a"b', 'c\\d'], tenant: 'acme', agent: null, session: null, action: 'read', route: 'memories.get', method: 'GET', path: `/memories/${i}\nx`,
    entity_ids: [], memory_id: null, source_ip: null, request_id: 'r', policy_revision: null, break_glass: false, phi: i % 2 === 0,
    latency_ms: i / 7, body_digest: null, status: 200, kind: i % 2 ? 'outcome' : 'decision', ref_event_id: null,
    detail: i % 2 ? '{"returned":1,"withheld_phi":["m\\"1"]}' : null,
  };
}

/** As COPY (SELECT ROW_SELECT_SQL …) prints rows: ts as epoch milliseconds. */
function copyText(rows: AuditRow[]): string {
  return encodeCopyRows(rows).split('\n').filter((l) => l !== '').map((l) => {
    const f = l.split('\t');
    f[3] = String(Date.parse(f[3]!));
    return f.join('\t');
  }).join('\n') + '\n';
}

function chain(n: number): AuditRow[] {
  let head = { seq: 0, hash: GENESIS_HASH };
  return Array.from({ length: n }, (_, i) => {
    const r = seal('c', head, ev(i));
    head = { seq: r.seq, hash: r.hash };
    return r;
  });
}

function judge(text: string) {
  const b = hashBlock(text);
  const v = new ChainVerifier('c');
  for (let i = 0; i < b.seq.length; i++) v.pushHashed({ chain_id: b.chain[i]!, seq: b.seq[i]!, event_id: b.event[i]!, prev_hash: b.prev[i]!, hash: b.hash[i]! }, b.problem[i]!);
  return v.finish();
}

describe('hashBlock', () => {
  it('decodes escaped COPY lines into the stored values and finds every hash right', () => {
    const rows = chain(40);
    const b = hashBlock(copyText(rows));
    expect(b.seq).toEqual(rows.map((r) => r.seq));
    expect(b.problem.every((p) => p === null)).toBe(true);
    expect(judge(copyText(rows))).toMatchObject({ problem: null, rows: 40 });
  });

  it('names a changed field, a sub-millisecond ts and a line of the wrong shape', () => {
    const rows = chain(10);
    const lines = copyText(rows).split('\n');
    lines[4] = lines[4]!.replace('\tacme\t', '\tevil\t');
    expect(judge(lines.join('\n')).problem).toMatchObject({ seq: 5, reason: 'hash_mismatch' });
    const ts = copyText(rows).split('\n');
    const f = ts[6]!.split('\t');
    f[3] = `${f[3]}.3`;
    ts[6] = f.join('\t');
    expect(judge(ts.join('\n')).problem).toMatchObject({ seq: 7, reason: 'hash_mismatch' });
    const short = copyText(rows).split('\n');
    short[2] = short[2]!.split('\t').slice(0, 20).join('\t');
    // Never printed by COPY for this query; still named, at the seq of its second field.
    expect(judge(short.join('\n')).problem).toMatchObject({ seq: 3 });
    expect(hashBlock(short.join('\n')).problem[2]).toBe('the row came back with 20 fields');
  });
});

// What verify does per block of rows (on its worker threads, or on the calling thread): decode the
// COPY lines of ROW_SELECT_SQL, judge each row's own hash and the links inside the block, and hand
// back only the rows the in-order checks must see. Stitched in order, the blocks must give the
// plain verifier's report, row for row, however the rows are cut into blocks and whatever was
// tampered with.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCopyLine, encodeCopyRows } from '../../../src/audit/copy-text.js';
import { loadSigner, loadVerifier, type Checkpoint, type CheckpointVerifier } from '../../../src/audit/checkpoint.js';
import { GENESIS_HASH, seal, type AuditRow } from '../../../src/audit/row.js';
import { ChainVerifier, type ChainReport } from '../../../src/audit/verify.js';
import { applyBlock, judgeBlock } from '../../../src/audit/verify-worker.js';
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

/** COPY lines of a chain sealed with the given seqs (and chain ids): every hash and link right. */
function resealed(n: number, seqOf: (k: number) => number, chainOf: (k: number) => string = () => 'c'): string[] {
  let head = { seq: 0, hash: GENESIS_HASH };
  const rows = Array.from({ length: n }, (_, i) => {
    const r = seal(chainOf(i + 1), { seq: seqOf(i + 1) - 1, hash: head.hash }, ev(i));
    head = { seq: r.seq, hash: r.hash };
    return r;
  });
  return copyText(rows).split('\n').filter((l) => l !== '');
}

/** Judges `text` cut into blocks at the given line counts, stitched in order, as verify-db.ts does. */
function judge(text: string, opts: { cuts?: number[]; checkpoints?: Checkpoint[]; keys?: CheckpointVerifier[] } = {}): ChainReport {
  const v = new ChainVerifier('c', { checkpoints: opts.checkpoints ?? [], keys: opts.keys ?? [] });
  const ctx = { chainId: 'c', checkpointSeqs: new Set(v.checkpointSeqs) };
  const lines = text.split('\n').filter((l) => l !== '');
  let at = 0;
  for (const n of [...(opts.cuts ?? []), lines.length]) {
    const block = lines.slice(at, Math.max(at, n));
    at = Math.max(at, n);
    if (block.length > 0 && !v.failed) applyBlock(v, judgeBlock(block.join('\n') + '\n', ctx));
  }
  return v.finish();
}

/** The same rows one by one through ChainVerifier.push: the verdicts judgeBlock + applyBlock must give. */
function reference(text: string, opts: { checkpoints?: Checkpoint[]; keys?: CheckpointVerifier[] } = {}): ChainReport {
  const v = new ChainVerifier('c', { checkpoints: opts.checkpoints ?? [], keys: opts.keys ?? [] });
  for (const l of text.split('\n')) if (l !== '' && !v.push(decodeCopyLine(l)!)) break;
  return v.finish();
}

const { privateKey } = generateKeyPairSync('ed25519');
const signer = loadSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
const keys = [loadVerifier(signer.publicKeyPem)];
const other = loadSigner(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());

describe('judgeBlock + applyBlock', () => {
  it('decodes escaped COPY lines into the stored values and finds every hash right, in one block or many', () => {
    const rows = chain(40);
    const text = copyText(rows);
    const whole = judgeBlock(text, { chainId: 'c', checkpointSeqs: new Set() });
    // A clean block comes back as its first row and its last: nothing per row.
    expect(whole.keys.map((k) => k.meta.seq)).toEqual([1]);
    expect(whole.tail).toEqual({ seq: 40, hash: rows[39]!.hash });
    const ok = { problem: null, rows: 40, first_seq: 1, last_seq: 40, head_hash: rows[39]!.hash };
    expect(judge(text)).toMatchObject(ok);
    expect(judge(text, { cuts: [1, 2, 17, 39] })).toMatchObject(ok);
    // Checkpoint rows come back for the in-order checks (signature, hash).
    const cps = [signer.sign('c', 10, rows[9]!.hash, 'x'), signer.sign('c', 11, rows[10]!.hash, 'x')];
    expect(judgeBlock(text, { chainId: 'c', checkpointSeqs: new Set([10, 11]) }).keys.map((k) => k.meta.seq)).toEqual([1, 10, 11]);
    expect(judge(text, { cuts: [10], checkpoints: cps, keys })).toMatchObject({ ...ok, checkpoints_verified: 2, verified_checkpoint: { seq: 11, hash: rows[10]!.hash } });
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
    expect(judge(short.join('\n'), { cuts: [2] }).problem).toMatchObject({ seq: 3 });
    expect(judgeBlock(short.join('\n'), { chainId: 'c', checkpointSeqs: new Set() }).keys[1]).toMatchObject({ meta: { seq: 3 }, problem: 'the row came back with 20 fields' });
  });

  it('gives the plain verifier\'s report for any tampering and any cut into blocks (property)', () => {
    const rows = chain(30);
    const lines = copyText(rows).split('\n').filter((l) => l !== '');
    const field = (l: string, i: number, v: string): string => l.split('\t').map((x, j) => (j === i ? v : x)).join('\t');
    const tamper = fc.oneof(
      fc.constant((l: string[]): string[] => l),
      fc.nat(29).map((i) => (l: string[]) => l.map((x, j) => (j === i ? field(x, 12, 'evil.route') : x))), // a field
      fc.nat(29).map((i) => (l: string[]) => l.map((x, j) => (j === i ? field(x, 29, rows[(i + 5) % 30]!.hash) : x))), // prev_hash
      fc.nat(29).map((i) => (l: string[]) => l.map((x, j) => (j === i ? field(x, 0, 'd') : x))), // another chain's row
      fc.tuple(fc.nat(29), fc.integer({ min: 1, max: 5 })).map(([i, n]) => (l: string[]) => l.filter((_, j) => j < i || j >= i + n)), // rows deleted
      fc.nat(29).map((i) => (l: string[]) => [...l.slice(0, i + 1), l[i]!, ...l.slice(i + 1)]), // a row twice
      fc.nat(28).map((i) => (l: string[]) => [...l.slice(0, i), l[i + 1]!, l[i]!, ...l.slice(i + 2)]), // two rows swapped
      fc.nat(29).map((i) => (l: string[]) => l.slice(0, i + 1)), // the tail cut
      // Rows re-hashed by someone who can (no checkpoint key): every row's hash and link hold, only
      // the seqs or the chain give it away — a gap, a repeat, a step back, a row of another chain.
      fc.tuple(fc.integer({ min: 1, max: 28 }), fc.constantFrom(2, 0, -1)).map(([i, step]) => () => resealed(30, (k) => (k <= i ? k : k - 1 + step))),
      fc.integer({ min: 1, max: 29 }).map((i) => () => resealed(30, (k) => k, (k) => (k === i + 1 ? 'd' : 'c'))),
      // A forged stretch: rows hashed right on their own, not linked to the rows before them.
      fc.tuple(fc.nat(29), fc.integer({ min: 1, max: 5 })).map(([i, n]) => (l: string[]) => {
        const alt = resealed(30, (k) => k);
        return l.map((x, j) => (j >= i && j < i + n ? alt[j]! : x));
      }),
    );
    // Checkpoints signed right, at a wrong hash, by an unknown key, or with a broken signature.
    const checkpoint = fc.tuple(fc.integer({ min: 1, max: 32 }), fc.constantFrom('ok', 'hash', 'key', 'sig')).map(([seq, how]): Checkpoint => {
      const hash = rows[Math.min(seq, 30) - 1]!.hash;
      if (how === 'key') return other.sign('c', seq, hash, 'x');
      const cp = signer.sign('c', seq, how === 'hash' ? GENESIS_HASH : hash, 'x');
      return how === 'sig' ? { ...cp, hash: rows[(seq + 1) % 30]!.hash } : cp;
    });
    fc.assert(fc.property(tamper, fc.array(checkpoint, { maxLength: 4 }), fc.array(fc.nat(31), { maxLength: 6 }), fc.boolean(), (t, cps, cuts, signed) => {
      const text = t(lines).join('\n') + '\n';
      const opts = { checkpoints: cps, keys: signed ? keys : [] };
      expect(judge(text, { ...opts, cuts: cuts.sort((a, b) => a - b) })).toEqual(reference(text, opts));
    }), { numRuns: 400 });
  });
});

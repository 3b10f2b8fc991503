// Fast path of `verify` for a chain in PostgreSQL: one COPY TO stream read as blocks of whole
// lines (copy-out.ts), blocks verified in parallel (verify-pool.ts), then the links between blocks, the
// checkpoint signatures and the head checked here in order. Returns a report only when the
// whole chain is valid; null means "not vouched for" and the caller runs the reference verifier
// (verify.ts), which finds and names the first bad row exactly as documented.
import type pg from 'pg';
import type { Checkpoint, CheckpointVerifier } from './checkpoint.js';
import { copyChainBlocks } from './pg.js';
import { GENESIS_HASH } from './row.js';
import type { BlockSummary } from './verify-block.js';
import type { VerifyPool } from './verify-pool.js';
import type { ChainReport } from './verify.js';

export async function fastVerifyChain(
  client: pg.Client, chainId: string, upTo: number, checkpoints: readonly Checkpoint[], keys: readonly CheckpointVerifier[], pool: VerifyPool,
): Promise<ChainReport | null> {
  const cps = new Map<number, string[]>();
  let cpCount = 0;
  for (const cp of checkpoints) {
    if (cp.chain_id !== chainId || cp.seq < 1) continue; // the reference verifier ignores these too
    if (keys.length > 0) {
      const key = keys.find((k) => k.keyId === cp.key_id);
      if (key === undefined || !key.verify(cp)) return null;
    }
    const list = cps.get(cp.seq) ?? [];
    list.push(cp.hash);
    cps.set(cp.seq, list);
    cpCount++;
  }
  pool.startJob(chainId, cps);
  const results: Promise<BlockSummary>[] = [];
  let n = 0;
  // Read to the end even after a bad block: the COPY must complete before the session is reused.
  for await (const block of copyChainBlocks(client, chainId, upTo, (bytes) => pool.allocBlock(bytes))) {
    results.push((await pool.submit(n++, block)).summary);
  }
  let expected = 1;
  let prev = GENESIS_HASH;
  let rows = 0;
  for (const r of results) {
    const s = await r;
    if (!s.ok || s.firstSeq !== expected || s.firstPrev !== prev) return null;
    expected = s.lastSeq + 1;
    prev = s.lastHash;
    rows += s.rows;
  }
  const lastSeq = expected - 1;
  if (rows === 0 || [...cps.keys()].some((seq) => seq > lastSeq)) return null;
  return {
    chain_id: chainId,
    rows,
    first_seq: 1,
    last_seq: lastSeq,
    head_hash: prev,
    checkpoints_verified: keys.length > 0 ? cpCount : 0,
    checkpoints_unsigned_check: keys.length > 0 ? 0 : cpCount,
    problem: null,
  };
}

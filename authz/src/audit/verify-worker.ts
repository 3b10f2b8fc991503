// What verify does per block of rows before the in-order checks that need the rows before it:
// decode the COPY lines, judge each row's own hash (verify.ts hashProblem) and check the links
// *inside* the block. Pure; runs on the calling thread (short reads, the service) or as the task
// of verify's worker threads (piscina; verify-worker.mjs loads it from TypeScript). What comes
// back is a few rows per block, not one entry per row: handing per-row results between threads
// cost more CPU than hashing them (audit/README.md "Verification").
import { decodeCopyLine } from './copy-text.js';
import { hashProblem, type ChainVerifier, type RowMeta } from './verify.js';

/** A row the in-order checks look at themselves (ChainVerifier.pushHashed). */
export interface KeyRow {
  meta: RowMeta;
  /** hashProblem's answer for the row. */
  problem: string | null;
  /** The row before it in the block (null for the block's first row): the rows since the last key row end there. */
  before: { seq: number; hash: string } | null;
}

/**
 * One block, judged. Every row that is not a key row continues the key row before it: the chain's
 * own, its seq one more, its prev_hash that row's hash, its own hash holding, no checkpoint at its
 * seq — exactly what ChainVerifier.pushHashed would accept after that row, so pushing the key rows
 * and skipping the runs between them (ChainVerifier.pushRun) gives its verdicts, row for row.
 */
export interface BlockSummary {
  /** In order: the block's first row, each row at a checkpoint seq, and the first row that does not continue the one before it (the last key row then; later rows are not looked at). */
  keys: KeyRow[];
  /** The block's last row when the block ends without such a row (null otherwise). */
  tail: { seq: number; hash: string } | null;
}

/** What a block is judged against: the chain, and the seqs that have a checkpoint (those rows are key rows). */
export interface BlockContext {
  chainId: string;
  checkpointSeqs: ReadonlySet<number>;
}

/** `text`: whole COPY lines of ROW_SELECT_SQL, each ending in "\n". */
export function judgeBlock(text: string, ctx: BlockContext): BlockSummary {
  const keys: KeyRow[] = [];
  // The row before (none yet for the first).
  let first = true;
  let prevSeq = 0;
  let prevHash = '';
  const before = (): { seq: number; hash: string } | null => (first ? null : { seq: prevSeq, hash: prevHash });
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const line = text.slice(start, nl === -1 ? text.length : nl);
    start = nl === -1 ? text.length : nl + 1;
    const row = decodeCopyLine(line);
    let meta: RowMeta;
    let problem: string | null;
    if (row === null) {
      // Never printed by COPY for this query; named at the seq its second field gives.
      const fields = line.split('\t');
      meta = { chain_id: fields[0] ?? '', seq: Number(fields[1]), event_id: fields[2] ?? '', prev_hash: '', hash: '' };
      problem = `the row came back with ${fields.length} fields`;
    } else {
      meta = row;
      problem = row.chain_id === ctx.chainId ? hashProblem(row) : null;
    }
    if (first || problem !== null || meta.chain_id !== ctx.chainId || meta.seq !== prevSeq + 1 || meta.prev_hash !== prevHash) {
      keys.push({ meta: pick(meta), problem, before: before() });
      if (!first) return { keys, tail: null };
    } else if (ctx.checkpointSeqs.has(meta.seq)) {
      keys.push({ meta: pick(meta), problem, before: before() });
    }
    first = false;
    prevSeq = meta.seq;
    prevHash = meta.hash;
  }
  return { keys, tail: before() };
}

/** Stitches a judged block onto the rows before it: the key rows pushed, the runs between them counted. */
export function applyBlock(v: ChainVerifier, b: BlockSummary): void {
  for (const k of b.keys) {
    if (k.before !== null) v.pushRun(k.before);
    if (!v.pushHashed(k.meta, k.problem)) return;
  }
  if (b.tail !== null) v.pushRun(b.tail);
}

// Only what the in-order checks read (a decoded row carries every column).
function pick(m: RowMeta): RowMeta {
  return { chain_id: m.chain_id, seq: m.seq, event_id: m.event_id, prev_hash: m.prev_hash, hash: m.hash };
}

/** A worker-thread task: a block of COPY bytes (transferred) and what to judge it against. */
export interface BlockTask {
  bytes: Uint8Array;
  chainId: string;
  checkpointSeqs: Float64Array;
}

// A pool serves one chain at a time; the set is built once per chain, not per block.
let cached: { from: Float64Array; set: Set<number> } | null = null;
function seqSet(seqs: Float64Array): Set<number> {
  if (cached === null || cached.from.length !== seqs.length || cached.from.some((s, i) => s !== seqs[i])) cached = { from: seqs, set: new Set(seqs) };
  return cached.set;
}

/** The worker-thread task. */
export default function task(t: BlockTask): BlockSummary {
  const text = Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength).toString('utf8');
  return judgeBlock(text, { chainId: t.chainId, checkpointSeqs: seqSet(t.checkpointSeqs) });
}

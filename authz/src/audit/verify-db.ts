// Verifies chains stored in PostgreSQL (audit/README.md "Verification"). Per chain it starts at
// the latest anchor it can trust — the signed boundary of the last archive, or (incremental runs)
// the last signed checkpoint this verifier verified (verify-state.ts) — streams the rows after it
// with COPY (pg-copy-streams) in blocks, judges each block — every row's own hash, the links inside
// it (verify-worker.ts) — on this thread or, for long reads, in worker threads too (piscina), and
// stitches the blocks in order (verify.ts: order, links, checkpoints), which names the first bad row.
import { availableParallelism } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { Piscina } from 'piscina';
import * as metrics from '../metrics.js';
import type { Checkpoint, CheckpointVerifier } from './checkpoint.js';
import { chainBounds, copyChainRows, listChains, readArchives, readCheckpoints, readRowsUpTo, rowHash, type ArchiveBoundary, type ChainStatus } from './pg.js';
import { GENESIS_HASH } from './row.js';
import { ChainVerifier, type ChainReport, type VerifyProblem, type VerifyReason } from './verify.js';
import { applyBlock, judgeBlock, type BlockSummary, type BlockTask } from './verify-worker.js';
import type { VerifyMarks } from './verify-state.js';

/** Where a run started reading a chain. */
export type Anchor = 'genesis' | 'archive' | 'checkpoint';

export interface DbChainReport extends ChainReport {
  anchor: Anchor;
  /** First seq this run read (anchor seq + 1). */
  from_seq: number;
  /** Rows at or below the archive boundary still stored (checked row by row). */
  archived_rows_left: number;
  /** The archive boundary's signature could not be checked (no public key given). */
  archive_unsigned_check: boolean;
}

export interface VerifyDbOptions {
  chain?: string;
  keys: readonly CheckpointVerifier[];
  /** Re-read every stored row, whatever the marks say. */
  full?: boolean;
  /** The last signed checkpoint verified per chain: read to start incremental runs, moved on after each chain verifies. */
  marks?: VerifyMarks;
  /** Worker threads for long reads; 0 = this thread only. Default: one per core, at most 2. */
  workers?: number;
  /** Reads of fewer rows are hashed on the calling thread. Default WORKER_MIN_ROWS. */
  workerMinRows?: number;
  /** Give the event loop a turn between blocks (the service verifies beside live traffic). */
  yielding?: boolean;
  /**
   * Without public keys there is no signed checkpoint to start from: keep (and start from) the last
   * row this verifier read itself instead. The service's verifier loop, whose marks live in its
   * own memory and file; `audit verify` without a key reads everything.
   */
  unsignedMarks?: boolean;
}

/** Reads shorter than this are hashed on the calling thread: starting workers costs more. */
export const WORKER_MIN_ROWS = 20_000;
/** Bytes of COPY text per block (a task for a worker, or a slice between yields). */
const BLOCK_BYTES = 512 * 1024;
const YIELD_BLOCK_BYTES = 64 * 1024;

function defaultWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/** The worker entry: compiled JS runs verify-worker.js itself; from TypeScript, a shim loads it through tsx. */
function workerFile(): string {
  return new URL(import.meta.url.endsWith('.ts') ? './verify-worker.mjs' : './verify-worker.js', import.meta.url).href;
}

/** A pool for one verification run (closed by the caller). */
export function startWorkers(threads: number): Piscina {
  return new Piscina({ filename: workerFile(), minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
}

/**
 * Feeds the rows of one COPY stream to `v` in blocks of whole lines, judged (verify-worker.ts) in
 * `pool` or here, then stitched in order. Reads the stream to its end even after the first
 * problem: the COPY must complete before the session is used again.
 */
export async function feed(stream: Readable, v: ChainVerifier, pool: Piscina | null, yielding: boolean): Promise<void> {
  const blockBytes = yielding ? YIELD_BLOCK_BYTES : BLOCK_BYTES;
  const inFlight: Promise<BlockSummary>[] = [];
  const maxInFlight = pool === null ? 0 : pool.options.maxThreads * 2;
  const decoder = new StringDecoder('utf8');
  const cpSeqs = v.checkpointSeqs;
  const ctx = { chainId: v.chainId, checkpointSeqs: new Set(cpSeqs) };
  const taskSeqs = Float64Array.from(cpSeqs);
  const apply = (b: BlockSummary): void => applyBlock(v, b);
  const submit = async (block: Uint8Array): Promise<void> => {
    if (v.failed) return;
    if (pool === null) {
      apply(judgeBlock(decoder.write(block), ctx));
      if (yielding) await new Promise<void>((r) => setImmediate(r));
      return;
    }
    let judged: Promise<BlockSummary>;
    if (pool.queueSize > 0) {
      // Every worker busy (or still starting: ~0.5 s from TypeScript sources) and a block already
      // waiting: this thread judges this one itself rather than queue it.
      judged = Promise.resolve(judgeBlock(decoder.write(block), ctx));
    } else {
      const t: BlockTask = { bytes: block, chainId: v.chainId, checkpointSeqs: taskSeqs };
      judged = pool.run(t, { transferList: [block.buffer as ArrayBuffer] }) as Promise<BlockSummary>;
      judged.catch(() => undefined); // surfaced when awaited, in order
    }
    inFlight.push(judged);
    while (inFlight.length > maxInFlight) apply(await inFlight.shift()!);
  };
  // A failure (a worker gone) stops the work, not the reading.
  let error: unknown = null;
  const guarded = async (block: Uint8Array): Promise<void> => {
    try {
      await submit(block);
    } catch (err) {
      error ??= err;
    }
  };
  // Chunks are copied once, into the block (its own buffer: transferable to a worker); the bytes
  // after its last newline start the next block.
  let block = new Uint8Array(blockBytes * 2);
  let size = 0;
  let lineEnd = 0; // just after the block's last newline so far
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (v.failed || error !== null) continue;
    if (size + chunk.length > block.length) {
      const bigger = new Uint8Array(Math.max(block.length * 2, size + chunk.length));
      bigger.set(block.subarray(0, size));
      block = bigger;
    }
    block.set(chunk, size);
    const nl = chunk.lastIndexOf(10);
    if (nl !== -1) lineEnd = size + nl + 1;
    size += chunk.length;
    if (size < blockBytes || lineEnd === 0) continue;
    const next = new Uint8Array(Math.max(blockBytes * 2, size - lineEnd));
    next.set(block.subarray(lineEnd, size));
    const whole = block.subarray(0, lineEnd);
    size -= lineEnd;
    lineEnd = 0;
    block = next;
    await guarded(whole);
  }
  if (size > 0 && !v.failed && error === null) await guarded(block.subarray(0, size));
  for (const p of inFlight.splice(0)) {
    try {
      const b = await p;
      if (!v.failed && error === null) apply(b);
    } catch (err) {
      error ??= err;
    }
  }
  if (error !== null) throw error;
}

function anchorProblem(chainId: string, seq: number, reason: VerifyReason, detail: string): VerifyProblem {
  return { chain_id: chainId, seq, event_id: null, reason, detail };
}

/** The latest archive boundary whose signature holds (or, without keys, the latest); a problem when the latest is not signed by a key we trust. */
function archiveAnchor(chainId: string, archives: readonly ArchiveBoundary[], keys: readonly CheckpointVerifier[]): { boundary: ArchiveBoundary | null; problem: VerifyProblem | null } {
  const b = archives[archives.length - 1];
  if (b === undefined) return { boundary: null, problem: null };
  if (keys.length === 0) return { boundary: b, problem: null };
  const key = keys.find((k) => k.keyId === b.key_id);
  if (key === undefined) return { boundary: b, problem: anchorProblem(chainId, b.seq, 'checkpoint_unknown_key', `archive boundary at seq ${b.seq} is signed by unknown key ${b.key_id}`) };
  if (!key.verifyArchive(b, b.signature)) {
    return { boundary: b, problem: anchorProblem(chainId, b.seq, 'checkpoint_bad_signature', `archive boundary at seq ${b.seq} (before ${b.before}) has an invalid signature`) };
  }
  return { boundary: b, problem: null };
}

/** Rows of an archived segment that stayed (their partition was newer): each row's own hash, links between neighbours. */
async function checkArchivedLeft(client: pg.Client, chainId: string, b: ArchiveBoundary, cps: readonly Checkpoint[], keys: readonly CheckpointVerifier[]): Promise<{ rows: number; problem: VerifyProblem | null }> {
  const left = await readRowsUpTo(client, chainId, b.seq);
  if (left.length === 0) return { rows: 0, problem: null };
  const v = new ChainVerifier(chainId, { startSeq: left[0]!.seq, startPrevHash: left[0]!.prev_hash, checkpoints: cps, keys, sparse: true });
  for (const r of left) if (!v.push(r)) break;
  const rep = v.finish();
  if (rep.problem !== null) return { rows: left.length, problem: rep.problem };
  const last = left[left.length - 1]!;
  if (last.seq === b.seq && last.hash !== b.hash) {
    return { rows: left.length, problem: { chain_id: chainId, seq: last.seq, event_id: last.event_id, reason: 'checkpoint_mismatch', detail: `the archive boundary says seq ${b.seq} has hash ${b.hash}, the stored row has ${last.hash}` } };
  }
  return { rows: left.length, problem: null };
}

export async function verifyChainInDb(client: pg.Client, chainId: string, opts: VerifyDbOptions, pool: () => Piscina | null): Promise<DbChainReport> {
  const keys = opts.keys;
  const archives = await readArchives(client, chainId);
  const { boundary, problem: boundaryProblem } = archiveAnchor(chainId, archives, keys);
  let start = { seq: 0, hash: GENESIS_HASH };
  let anchor: Anchor = 'genesis';
  if (boundary !== null) {
    start = { seq: boundary.seq, hash: boundary.hash };
    anchor = 'archive';
  }
  // Checkpoints first: any checkpoint beyond the rows read next must have its rows there.
  const cps = await readCheckpoints(client, chainId);
  const useMarks = opts.full !== true && (keys.length > 0 || opts.unsignedMarks === true);
  const mark = useMarks ? opts.marks?.get(chainId) : undefined;
  let problem: VerifyProblem | null = boundaryProblem;
  if (problem === null && mark !== undefined && mark.seq > start.seq) {
    // The row the mark names must still be there, unchanged: a cut or a rewrite up to it shows here.
    const stored = await rowHash(client, chainId, mark.seq);
    if (stored === null) problem = anchorProblem(chainId, mark.seq, 'rows_missing', `seq ${mark.seq}, verified at ${mark.at}, is gone`);
    else if (stored !== mark.hash) problem = anchorProblem(chainId, mark.seq, 'checkpoint_mismatch', `seq ${mark.seq} had hash ${mark.hash} when verified at ${mark.at}, now ${stored}: the chain was rewritten`);
    start = { seq: mark.seq, hash: mark.hash };
    anchor = 'checkpoint';
  }
  // The chain as it is now (max seq): rows appended while verifying are left for the next run.
  const bounds = await chainBounds(client, chainId);
  const v = new ChainVerifier(chainId, { startSeq: start.seq + 1, startPrevHash: start.hash, checkpoints: cps, keys });
  if (problem === null && bounds !== null && bounds.hi > start.seq) {
    const p = bounds.hi - start.seq >= (opts.workerMinRows ?? WORKER_MIN_ROWS) ? pool() : null;
    await copyChainRows(client, chainId, start.seq, bounds.hi, (stream) => feed(stream, v, p, opts.yielding === true));
  }
  const rep = v.finish();
  let left = { rows: 0, problem: null as VerifyProblem | null };
  if (problem === null && rep.problem === null && boundary !== null) left = await checkArchivedLeft(client, chainId, boundary, cps, keys);
  const report: DbChainReport = {
    ...rep,
    problem: problem ?? rep.problem ?? left.problem,
    anchor,
    from_seq: start.seq + 1,
    archived_rows_left: left.rows,
    archive_unsigned_check: boundary !== null && keys.length === 0,
  };
  if (report.problem !== null) report.verified_checkpoint = null;
  // Nothing new since the anchor: the chain's head is the anchor.
  if (report.problem === null && rep.rows === 0 && start.seq > 0) {
    report.last_seq = start.seq;
    report.head_hash = start.hash;
  }
  const next = keys.length > 0 ? rep.verified_checkpoint
    : opts.unsignedMarks === true && rep.last_seq !== null && rep.head_hash !== null ? { seq: rep.last_seq, hash: rep.head_hash } : null;
  if (report.problem === null && next !== null) opts.marks?.set(chainId, { ...next, at: new Date().toISOString() });
  if (report.problem !== null) metrics.auditChainVerifyFailures.inc({ chain: chainId });
  return report;
}

export async function verifyDatabase(client: pg.Client, opts: VerifyDbOptions): Promise<DbChainReport[]> {
  const chains = opts.chain !== undefined ? [opts.chain] : await listChains(client);
  const threads = opts.workers ?? defaultWorkers();
  let workers: Piscina | null = null;
  const pool = (): Piscina | null => {
    if (threads === 0) return null;
    workers ??= startWorkers(threads);
    return workers;
  };
  const out: DbChainReport[] = [];
  try {
    for (const c of chains) out.push(await verifyChainInDb(client, c, opts, pool));
  } finally {
    await (workers as Piscina | null)?.destroy();
  }
  return out;
}

/** What audit.chain_status keeps of a report. */
export function statusOf(r: DbChainReport, verifier: string, at = new Date()): ChainStatus {
  return {
    chain_id: r.chain_id, verified_at: at.toISOString(), verifier, from_seq: r.from_seq, head_seq: r.last_seq,
    checkpoint_seq: r.verified_checkpoint?.seq ?? null, checkpoint_hash: r.verified_checkpoint?.hash ?? null, ok: r.problem === null,
    problem: r.problem === null ? null : { reason: r.problem.reason, seq: r.problem.seq, event_id: r.problem.event_id, detail: r.problem.detail },
  };
}

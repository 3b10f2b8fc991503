// Fast-path verification of one block of consecutive COPY TO lines (pure; runs in a worker
// thread or inline). It checks everything the reference verifier checks inside the block —
// chain id, seq +1 steps, prev_hash links, recomputed hash, checkpoint hashes — and returns
// the block's ends so the caller can check the links between blocks. It never names the bad
// row: any doubt makes `ok` false and the caller re-runs the reference verifier (verify.ts),
// which then produces the report. So this path can only ever say "valid" when verify.ts would.
import { LineHasher } from './copy-bytes.js';
import { decodeCopyLine } from './copy-text.js';
import { canonicalHashedFast, chainHash } from './row.js';

export interface BlockSummary {
  ok: boolean;
  rows: number;
  firstSeq: number;
  firstPrev: string;
  lastSeq: number;
  lastHash: string;
}

/** Checkpoint hashes by seq (several keys may sign the same seq). */
export type CheckpointHashes = ReadonlyMap<number, readonly string[]>;

/** The answer for anything the fast path cannot vouch for. */
export const NOT_VERIFIED: BlockSummary = { ok: false, rows: 0, firstSeq: 0, firstPrev: '', lastSeq: 0, lastHash: '' };

/** The general path for lines the byte path declines: decoded values, canonicalized like the reference. */
function checkLine(line: string, chainId: string): { seq: number; prev: string; hash: string; computed: string } | null {
  const row = decodeCopyLine(line);
  if (row === null || row.chain_id !== chainId) return null;
  try {
    return { seq: row.seq, prev: row.prev_hash, hash: row.hash, computed: chainHash(row.prev_hash, canonicalHashedFast(row)) };
  } catch {
    return null; // a non-finite number: let the reference verifier report it
  }
}

const decoder = new TextDecoder();
const NEWLINE = 10;

/** `bytes`: whole COPY TO text lines, each ending in "\n". */
export function verifyBlock(bytes: Uint8Array, chainId: string, cps: CheckpointHashes): BlockSummary {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hasher = new LineHasher(chainId);
  let rows = 0;
  let firstSeq = 0;
  let firstPrev = '';
  let lastSeq = 0;
  let lastHash = '';
  let start = 0;
  for (let nl = buf.indexOf(NEWLINE); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
    const d = hasher.digest(buf, start, nl);
    const row = d !== null ? (d.chain ? d : null) : checkLine(decoder.decode(buf.subarray(start, nl)), chainId);
    start = nl + 1;
    if (row === null || !Number.isSafeInteger(row.seq) || row.computed !== row.hash) return NOT_VERIFIED;
    if (rows === 0) {
      firstSeq = row.seq;
      firstPrev = row.prev;
    } else if (row.seq !== lastSeq + 1 || row.prev !== lastHash) return NOT_VERIFIED;
    const cp = cps.get(row.seq);
    if (cp !== undefined && cp.some((h) => h !== row.hash)) return NOT_VERIFIED;
    lastSeq = row.seq;
    lastHash = row.hash;
    rows++;
  }
  if (start !== buf.length) return NOT_VERIFIED; // a partial line: the caller split wrongly
  return { ok: true, rows, firstSeq, firstPrev, lastSeq, lastHash };
}

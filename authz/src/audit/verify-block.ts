// Fast-path verification of one block of consecutive COPY TO lines (pure; runs in a worker
// thread or inline). It checks everything the reference verifier checks inside the block —
// chain id, seq +1 steps, prev_hash links, recomputed hash, checkpoint hashes — and returns
// the block's ends so the caller can check the links between blocks. It never names the bad
// row: any doubt makes `ok` false and the caller re-runs the reference verifier (verify.ts),
// which then produces the report. So this path can only ever say "valid" when verify.ts would.
import { decodeCopyLine } from './copy-text.js';
import { canonicalHashedFast, chainHash, type AuditRow } from './row.js';

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

function hashMatches(row: AuditRow): boolean {
  try {
    return chainHash(row.prev_hash, canonicalHashedFast(row)) === row.hash;
  } catch {
    return false; // a non-finite number: let the reference verifier report it
  }
}

/** `text`: whole lines, each ending in "\n". */
export function verifyBlock(text: string, chainId: string, cps: CheckpointHashes): BlockSummary {
  let rows = 0;
  let firstSeq = 0;
  let firstPrev = '';
  let lastSeq = 0;
  let lastHash = '';
  let start = 0;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
    const row = decodeCopyLine(text.slice(start, nl));
    start = nl + 1;
    if (row === null || row.chain_id !== chainId || !Number.isSafeInteger(row.seq)) return NOT_VERIFIED;
    if (rows === 0) {
      firstSeq = row.seq;
      firstPrev = row.prev_hash;
    } else if (row.seq !== lastSeq + 1 || row.prev_hash !== lastHash) return NOT_VERIFIED;
    if (!hashMatches(row)) return NOT_VERIFIED;
    const cp = cps.get(row.seq);
    if (cp !== undefined && cp.some((h) => h !== row.hash)) return NOT_VERIFIED;
    lastSeq = row.seq;
    lastHash = row.hash;
    rows++;
  }
  if (start !== text.length) return NOT_VERIFIED; // a partial line: the caller split wrongly
  return { ok: true, rows, firstSeq, firstPrev, lastSeq, lastHash };
}

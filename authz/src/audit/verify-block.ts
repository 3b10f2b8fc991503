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
function checkLine(bytes: Uint8Array, chainId: string): { seq: number; prev: string; hash: string } | null {
  let line: string;
  try {
    line = decoder.decode(bytes);
  } catch {
    return null;
  }
  const row = decodeCopyLine(line);
  if (row === null || row.chain_id !== chainId || !Number.isSafeInteger(row.seq)) return null;
  try {
    return chainHash(row.prev_hash, canonicalHashedFast(row)) === row.hash ? { seq: row.seq, prev: row.prev_hash, hash: row.hash } : null;
  } catch {
    return null; // a non-finite number: let the reference verifier report it
  }
}

// Fatal: a line that is not valid UTF-8 is left to the reference verifier (checkLine → null).
const decoder = new TextDecoder('utf-8', { fatal: true });
// One hasher per thread, reused across blocks of the same chain (it holds a 64 KiB work buffer).
let hasher: LineHasher | null = null;
let hasherChain = '';
const HEX_LEN = 64;

function sameBytes(buf: Uint8Array, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

/** `bytes`: whole COPY TO text lines, each ending in "\n". */
export function verifyBlock(bytes: Uint8Array, chainId: string, cps: CheckpointHashes): BlockSummary {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (hasher === null || hasherChain !== chainId) {
    hasher = new LineHasher(chainId);
    hasherChain = chainId;
  }
  const h = hasher;
  let rows = 0;
  let firstSeq = 0;
  let firstPrev = '';
  let lastSeq = 0;
  // The previous line's hash: its offset in `buf` when it came through the byte path (no string
  // made), else the decoded string.
  let lastHashAt = -1;
  let lastHashStr = '';
  const lastHash = (): string => (lastHashAt >= 0 ? buf.toString('latin1', lastHashAt, lastHashAt + HEX_LEN) : lastHashStr);
  let start = 0;
  while (start < buf.length) {
    const verified = h.check(bytes, start);
    const nl = h.end;
    if (nl === -1) return NOT_VERIFIED; // a partial line: the caller split wrongly
    let seq: number;
    if (verified) {
      seq = h.seq;
      const prevAt = h.prevAt;
      if (rows === 0) firstPrev = buf.toString('latin1', prevAt, prevAt + HEX_LEN);
      else if (lastHashAt >= 0 ? !sameBytes(buf, prevAt, lastHashAt, HEX_LEN) : buf.toString('latin1', prevAt, prevAt + HEX_LEN) !== lastHashStr) return NOT_VERIFIED;
      lastHashAt = h.hashAt;
    } else {
      const row = checkLine(buf.subarray(start, nl), chainId);
      if (row === null) return NOT_VERIFIED;
      seq = row.seq;
      if (rows === 0) firstPrev = row.prev;
      else if (row.prev !== lastHash()) return NOT_VERIFIED;
      lastHashAt = -1;
      lastHashStr = row.hash;
    }
    start = nl + 1;
    if (rows === 0) firstSeq = seq;
    else if (seq !== lastSeq + 1) return NOT_VERIFIED;
    const cp = cps.get(seq);
    if (cp !== undefined) {
      const rowHash = lastHash();
      if (cp.some((x) => x !== rowHash)) return NOT_VERIFIED;
    }
    lastSeq = seq;
    rows++;
  }
  return { ok: true, rows, firstSeq, firstPrev, lastSeq, lastHash: lastHash() };
}

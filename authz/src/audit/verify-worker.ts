// What verify does per row apart from the in-order checks: decode a COPY line and judge the row's
// own hash (verify.ts hashProblem). Pure; runs on the calling thread (short reads, the service) or
// as the task of verify's worker threads (piscina; verify-worker.mjs loads it from TypeScript).
import { decodeCopyLine } from './copy-text.js';
import { hashProblem } from './verify.js';

/** One block of rows, column-wise (cheap to hand between threads). `problem[i]` null = the row's hash holds. */
export interface HashedBlock {
  chain: string[];
  seq: number[];
  event: (string | null)[];
  prev: string[];
  hash: string[];
  problem: (string | null)[];
}

/** `text`: whole COPY lines of ROW_SELECT_SQL, each ending in "\n". */
export function hashBlock(text: string): HashedBlock {
  const out: HashedBlock = { chain: [], seq: [], event: [], prev: [], hash: [], problem: [] };
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const line = text.slice(start, nl === -1 ? text.length : nl);
    start = nl === -1 ? text.length : nl + 1;
    const row = decodeCopyLine(line);
    if (row === null) {
      // Never printed by COPY for this query; named at the seq its second field gives.
      const fields = line.split('\t');
      out.chain.push(fields[0] ?? '');
      out.seq.push(Number(fields[1]));
      out.event.push(fields[2] ?? null);
      out.prev.push('');
      out.hash.push('');
      out.problem.push(`the row came back with ${fields.length} fields`);
      continue;
    }
    out.chain.push(row.chain_id);
    out.seq.push(row.seq);
    out.event.push(row.event_id);
    out.prev.push(row.prev_hash);
    out.hash.push(row.hash);
    out.problem.push(hashProblem(row));
  }
  return out;
}

/** The worker-thread task: a block of COPY bytes (transferred), judged. */
export default function task(bytes: Uint8Array): HashedBlock {
  return hashBlock(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

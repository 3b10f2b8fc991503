// Chain verification (audit/README.md "Verification"): pure, streaming, stops at the first bad row.
// Fed by PostgreSQL (verify-db.ts: blocks of rows judged here or in worker threads, verify-worker.ts,
// then stitched in order) or an export file (verify-file.ts).
import { canonicalHashed, chainHash, formatProblem, GENESIS_HASH, type AuditRow } from './row.js';
import type { Checkpoint, CheckpointVerifier } from './checkpoint.js';

export type VerifyReason =
  | 'wrong_chain'          // a row of another chain in this chain's stream
  | 'rows_missing'         // seq gap: rows deleted
  | 'seq_out_of_order'     // seq repeats or goes back: rows reordered or duplicated
  | 'prev_hash_mismatch'   // link broken: a row before it was removed, inserted or replaced
  | 'hash_mismatch'        // the row's content is not what was hashed: modified, renumbered or forged
  | 'checkpoint_mismatch'  // the chain is self-consistent but contradicts a signed checkpoint
  | 'checkpoint_beyond_head' // a checkpoint names a seq the chain no longer has: tail deleted
  | 'checkpoint_bad_signature'
  | 'checkpoint_unknown_key';

export interface VerifyProblem {
  chain_id: string;
  seq: number;
  event_id: string | null;
  reason: VerifyReason;
  detail: string;
}

export interface ChainReport {
  chain_id: string;
  rows: number;
  first_seq: number | null;
  last_seq: number | null;
  head_hash: string | null;
  checkpoints_verified: number;
  /** Checkpoints whose signature could not be checked (no public key given). */
  checkpoints_unsigned_check: number;
  /** The highest checkpoint whose signature was checked and whose hash the chain has (where the next incremental run may start). */
  verified_checkpoint: { seq: number; hash: string } | null;
  problem: VerifyProblem | null;
}

export interface VerifierOptions {
  /** First seq expected (export segments start mid-chain). Default 1. */
  startSeq?: number;
  /** prev_hash of the first row. Default genesis (64 zeros) when startSeq is 1. */
  startPrevHash?: string;
  checkpoints?: readonly Checkpoint[];
  /** Public keys; without any, checkpoint hashes are still compared but signatures are not checked. */
  keys?: readonly CheckpointVerifier[];
  /**
   * A filtered export (one tenant): seq gaps are expected. Each row's own hash is still checked
   * against its prev_hash; links are checked only between consecutive seqs.
   */
  sparse?: boolean;
}

/** What the in-order checks need of a row once its own hash was judged (hashProblem). */
export type RowMeta = Pick<AuditRow, 'chain_id' | 'seq' | 'event_id' | 'prev_hash' | 'hash'>;

/**
 * Why the row's content is not what its hash covers, or null: a row format no rule hashes, or a
 * recomputed hash (SHA-256 of prev_hash ‖ RFC 8785 JSON) that differs from the stored one. It
 * depends on the row alone, so rows can be judged anywhere (worker threads) and linked in order.
 */
export function hashProblem(row: AuditRow): string | null {
  // A row_format that is no format, or a format-1 row showing format-2 values its hash does not
  // cover (e.g. a format-2 row whose row_format was set to NULL): its content is not what was hashed.
  const unhashable = formatProblem(row);
  if (unhashable !== null) return `${unhashable} (a field was modified)`;
  let computed: string;
  try {
    computed = chainHash(row.prev_hash, canonicalHashed(row));
  } catch (err) {
    return `the row has no canonical JSON (${(err as Error).message}): a field was modified`;
  }
  return computed === row.hash ? null : `stored hash ${row.hash} but the row hashes to ${computed}: a field was modified (or the row renumbered/forged)`;
}

export class ChainVerifier {
  private expectedSeq: number;
  private prevHash: string | null;
  private rows = 0;
  private firstSeq: number | null = null;
  private lastSeq: number | null = null;
  private problem: VerifyProblem | null = null;
  private readonly cps = new Map<number, Checkpoint[]>();
  private cpVerified = 0;
  private lastSigned: { seq: number; hash: string } | null = null;
  private cpUnchecked = 0;
  private readonly keys: readonly CheckpointVerifier[];
  private readonly sparse: boolean;

  constructor(readonly chainId: string, opts: VerifierOptions = {}) {
    this.sparse = opts.sparse ?? false;
    this.expectedSeq = opts.startSeq ?? 1;
    this.prevHash = opts.startPrevHash ?? (this.expectedSeq === 1 ? GENESIS_HASH : null);
    this.keys = opts.keys ?? [];
    for (const cp of opts.checkpoints ?? []) {
      if (cp.chain_id !== chainId || cp.seq < this.expectedSeq) continue;
      const list = this.cps.get(cp.seq) ?? [];
      list.push(cp);
      this.cps.set(cp.seq, list);
    }
  }

  get failed(): boolean {
    return this.problem !== null;
  }

  /** The seqs this run has a checkpoint for (rows that must be pushed, not skipped by pushRun). */
  get checkpointSeqs(): number[] {
    return [...this.cps.keys()];
  }

  private fail(row: { seq: number; event_id: string | null }, reason: VerifyReason, detail: string): false {
    this.problem = { chain_id: this.chainId, seq: row.seq, event_id: row.event_id, reason, detail };
    return false;
  }

  /** Checks one row; false once a problem was found (later rows are not looked at). */
  push(row: AuditRow): boolean {
    return this.pushHashed(row, this.problem === null && row.chain_id === this.chainId ? hashProblem(row) : null);
  }

  /** push() for a row whose own hash was already judged (`hashed`: hashProblem's answer). */
  pushHashed(row: RowMeta, hashed: string | null): boolean {
    if (this.problem !== null) return false;
    if (row.chain_id !== this.chainId) return this.fail(row, 'wrong_chain', `row belongs to chain ${JSON.stringify(row.chain_id)}`);
    if (this.sparse && row.seq > this.expectedSeq) {
      this.expectedSeq = row.seq;
      this.prevHash = null;
    }
    if (row.seq !== this.expectedSeq) {
      return row.seq > this.expectedSeq
        ? this.fail(row, 'rows_missing', `expected seq ${this.expectedSeq}, found ${row.seq}: rows ${this.expectedSeq}..${row.seq - 1} are missing`)
        : this.fail(row, 'seq_out_of_order', `expected seq ${this.expectedSeq}, found ${row.seq}`);
    }
    if (this.prevHash !== null && row.prev_hash !== this.prevHash) {
      return this.fail(row, 'prev_hash_mismatch', `prev_hash ${row.prev_hash} does not match the previous row's hash ${this.prevHash}`);
    }
    if (hashed !== null) return this.fail(row, 'hash_mismatch', hashed);
    const cps = this.cps.get(row.seq);
    if (cps !== undefined && !this.checkCheckpoints(row, cps)) return false;
    if (this.firstSeq === null) this.firstSeq = row.seq;
    this.lastSeq = row.seq;
    this.prevHash = row.hash;
    this.expectedSeq = row.seq + 1;
    this.rows++;
    return true;
  }

  /**
   * The rows after the last row pushed, up to and including `last`, were checked where they were
   * decoded (verify-worker.ts judgeBlock): each continues the one before it (chain, seq + 1, link,
   * own hash, no checkpoint at its seq) and the first continues the last row pushed. What
   * pushHashed would do for each of them is then only counting. A `last` at or below the last row
   * pushed is no rows.
   */
  pushRun(last: { seq: number; hash: string }): void {
    if (this.problem !== null || last.seq < this.expectedSeq) return;
    this.firstSeq ??= this.expectedSeq;
    this.rows += last.seq - this.expectedSeq + 1;
    this.lastSeq = last.seq;
    this.prevHash = last.hash;
    this.expectedSeq = last.seq + 1;
  }

  private checkCheckpoints(row: RowMeta, cps: readonly Checkpoint[]): boolean {
    for (const cp of cps) {
      if (!this.signatureOk(row, cp)) return false;
      if (cp.hash !== row.hash) {
        return this.fail(row, 'checkpoint_mismatch', `signed checkpoint (key ${cp.key_id}) says seq ${cp.seq} has hash ${cp.hash}, the chain has ${row.hash}: the chain was rewritten after the previous checkpoint`);
      }
    }
    if (this.keys.length > 0) this.lastSigned = { seq: row.seq, hash: row.hash };
    return true;
  }

  private signatureOk(row: { seq: number; event_id: string | null }, cp: Checkpoint): boolean {
    if (this.keys.length === 0) {
      this.cpUnchecked++;
      return true;
    }
    const key = this.keys.find((k) => k.keyId === cp.key_id);
    if (key === undefined) return this.fail(row, 'checkpoint_unknown_key', `checkpoint at seq ${cp.seq} is signed by unknown key ${cp.key_id}`);
    if (!key.verify(cp)) return this.fail(row, 'checkpoint_bad_signature', `checkpoint at seq ${cp.seq} has an invalid signature`);
    this.cpVerified++;
    return true;
  }

  finish(): ChainReport {
    if (this.problem === null) {
      const beyond = this.sparse ? undefined : [...this.cps.keys()].filter((s) => s >= this.expectedSeq).sort((a, b) => a - b)[0];
      if (beyond !== undefined) {
        const cp = this.cps.get(beyond)![0]!;
        if (this.signatureOk({ seq: beyond, event_id: null }, cp)) {
          this.fail({ seq: beyond, event_id: null }, 'checkpoint_beyond_head',
            `signed checkpoint names seq ${beyond} but the chain ends at ${this.lastSeq ?? 0}: rows ${this.expectedSeq}..${beyond} were deleted`);
        }
      }
    }
    return {
      chain_id: this.chainId,
      rows: this.rows,
      first_seq: this.firstSeq,
      last_seq: this.lastSeq,
      head_hash: this.prevHash,
      checkpoints_verified: this.cpVerified,
      checkpoints_unsigned_check: this.cpUnchecked,
      verified_checkpoint: this.problem === null ? this.lastSigned : null,
      problem: this.problem,
    };
  }
}

/** One line naming the first bad row, for humans and logs. */
export function describeProblem(p: VerifyProblem): string {
  return `chain=${p.chain_id} seq=${p.seq} event_id=${p.event_id ?? '-'} ${p.reason}: ${p.detail}`;
}

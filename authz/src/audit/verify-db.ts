// Verifies chains stored in PostgreSQL: the fast path (verify-fast.ts: COPY stream, blocks hashed
// in worker threads) vouches for valid chains; anything else is re-read and judged by the
// reference verifier (verify.ts), which names the first bad row.
import type pg from 'pg';
import * as metrics from '../metrics.js';
import type { Checkpoint, CheckpointVerifier } from './checkpoint.js';
import { chainBounds, listChains, readChain, readCheckpoints } from './pg.js';
import { fastVerifyChain } from './verify-fast.js';
import { VerifyPool } from './verify-pool.js';
import { ChainVerifier, type ChainReport } from './verify.js';

export interface VerifyDbOptions {
  chain?: string;
  keys: readonly CheckpointVerifier[];
  /** Extra connections for the reference reader's parallel pages (optional). */
  readers?: readonly pg.Client[];
  /** Worker threads for the fast path; default min(4, cores); 0 = hash on the main thread. */
  workers?: number;
  /** Chains shorter than this are verified without starting worker threads. Default 20,000. */
  workerThreshold?: number;
  /** false = reference verifier only (slower; same verdicts). Default true. */
  fast?: boolean;
  /** A pool the caller already started (and will close), e.g. a long-running auditor; overrides `workers`. */
  pool?: VerifyPool;
}

async function referenceVerify(client: pg.Client, chainId: string, cps: readonly Checkpoint[], keys: readonly CheckpointVerifier[], readers: readonly pg.Client[],
  bounds: { lo: number; hi: number } | null): Promise<ChainReport> {
  const v = new ChainVerifier(chainId, { checkpoints: cps, keys });
  if (bounds !== null) {
    outer: for await (const page of readChain([client, ...readers], chainId, { from: bounds.lo, to: bounds.hi })) {
      for (const row of page) if (!v.push(row)) break outer;
    }
  }
  return v.finish();
}

/** `readers`: extra connections used to fetch pages in parallel (optional). */
export async function verifyChainInDb(client: pg.Client, chainId: string, keys: readonly CheckpointVerifier[], readers: readonly pg.Client[] = [],
  pool: VerifyPool | null = null): Promise<ChainReport> {
  // Checkpoints first: any checkpoint beyond the rows read next must have its rows there.
  const cps = await readCheckpoints(client, chainId);
  // The chain as it is now (max seq): rows appended while verifying are left for the next run.
  const bounds = await chainBounds(client, chainId);
  const fast = pool !== null && bounds !== null ? await fastVerifyChain(client, chainId, bounds.hi, cps, keys, pool) : null;
  const report = fast ?? await referenceVerify(client, chainId, cps, keys, readers, bounds);
  if (report.problem !== null) metrics.auditChainVerifyFailures.inc();
  return report;
}

export async function verifyDatabase(client: pg.Client, opts: VerifyDbOptions): Promise<ChainReport[]> {
  const chains = opts.chain !== undefined ? [opts.chain] : await listChains(client);
  const threshold = opts.workerThreshold ?? 20_000;
  let workers: VerifyPool | null = null;
  const inline = new VerifyPool(0);
  const out: ChainReport[] = [];
  try {
    for (const c of chains) {
      let pool: VerifyPool | null = null;
      if (opts.fast !== false) {
        const bounds = await chainBounds(client, c);
        const big = bounds !== null && bounds.hi - bounds.lo + 1 >= threshold && opts.workers !== 0;
        if (big && workers === null && opts.pool === undefined) workers = new VerifyPool(opts.workers);
        pool = big ? opts.pool ?? workers : inline;
      }
      out.push(await verifyChainInDb(client, c, opts.keys, opts.readers, pool));
    }
  } finally {
    await workers?.close();
  }
  return out;
}

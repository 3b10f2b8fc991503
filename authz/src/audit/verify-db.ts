// Verifies chains stored in PostgreSQL.
import type pg from 'pg';
import * as metrics from '../metrics.js';
import type { CheckpointVerifier } from './checkpoint.js';
import { listChains, readChainRanges, readCheckpoints } from './pg.js';
import { ChainVerifier, type ChainReport } from './verify.js';

/** `readers`: extra connections used to fetch pages in parallel (optional). */
export async function verifyChainInDb(client: pg.Client, chainId: string, keys: readonly CheckpointVerifier[], readers: readonly pg.Client[] = []): Promise<ChainReport> {
  // Checkpoints first: any checkpoint beyond the rows read next must have its rows there.
  const v = new ChainVerifier(chainId, { checkpoints: await readCheckpoints(client, chainId), keys });
  outer: for await (const page of readChainRanges([client, ...readers], chainId)) {
    for (const row of page) if (!v.push(row)) break outer;
  }
  const report = v.finish();
  if (report.problem !== null) metrics.auditChainVerifyFailures.inc();
  return report;
}

export async function verifyDatabase(client: pg.Client, opts: { chain?: string; keys: readonly CheckpointVerifier[]; readers?: readonly pg.Client[] }): Promise<ChainReport[]> {
  const chains = opts.chain !== undefined ? [opts.chain] : await listChains(client);
  const out: ChainReport[] = [];
  for (const c of chains) out.push(await verifyChainInDb(client, c, opts.keys, opts.readers));
  return out;
}

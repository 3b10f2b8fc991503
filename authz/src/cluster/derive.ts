// Pure decisions of the process group: each worker's audit chain and environment, and how long
// the primary waits before starting a worker that ended again.

import { WORKER_INDEX_VAR } from './config.js';

/** Worker `index`'s audit chain: stable across restarts of that worker, distinct per worker. */
export function workerChainId(base: string, index: number): string {
  return `${base}-w${index}`;
}

/**
 * What the primary adds to a worker's environment: its index, its chain
 * (`<MEM0_GOV_AUDIT_CHAIN_ID>-w<i>`), and the verifier loop in worker 0 only (the replicas
 * share one verifier anyway — an advisory lock — so the other workers need not ask for it).
 * The spool needs nothing: its file is named by the chain.
 */
export function workerEnv(base: { chainId: string }, index: number): Record<string, string> {
  return {
    [WORKER_INDEX_VAR]: String(index),
    MEM0_GOV_AUDIT_CHAIN_ID: workerChainId(base.chainId, index),
    ...(index > 0 ? { MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS: '0' } : {}),
  };
}

/** Delay before starting a worker again after `failures` ends in a row: 0.1 s doubling up to 10 s. */
export function restartDelayMs(failures: number): number {
  return Math.min(10_000, 100 * 2 ** Math.max(0, Math.min(failures - 1, 20)));
}

// How many workers (MEM0_GOV_WORKERS) and which one this process is. The index comes from the
// primary (cluster/primary.ts) in the worker's environment; operators never set it.
import { availableParallelism } from 'node:os';
import type { Env } from '../config/env.js';
import { read } from '../config/read.js';

/** Not a MEM0_GOV_* variable: the primary's word to a worker, not configuration. */
export const WORKER_INDEX_VAR = 'MEM0GOV_CLUSTER_WORKER_INDEX';

/** MEM0_GOV_WORKERS, else the CPUs this process may run on (sched affinity; a container's CPU
 * quota is not seen — the chart sets the variable from its CPU limit), at most 64. */
export function loadWorkerCount(env: Env): number {
  return read(env, 'WORKERS') ?? Math.min(64, availableParallelism());
}

/** The index the primary gave this worker (0 … n-1). */
export function workerIndexOf(env: Env): number {
  const raw = env[WORKER_INDEX_VAR] ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new Error(`${WORKER_INDEX_VAR} is ${JSON.stringify(raw)}: a worker is started by the primary`);
  return n;
}

// Starts the primary: checks every worker's configuration first (a bad variable exits 78 here,
// naming it, before anything is forked), then forks the workers.
import type { Env } from '../config/env.js';
import type { Logger } from '../logger.js';
import { loadConfig } from '../service-config.js';
import { workerEnv } from './derive.js';
import { runPrimary } from './primary.js';

export function startPrimary(env: Env, count: number, logger: Logger): void {
  const base = loadConfig(env).audit;
  const envs = Array.from({ length: count }, (_, i) => workerEnv(base, i));
  // The derived chain ids must be valid chain ids too (MEM0_GOV_AUDIT_CHAIN_ID's pattern).
  for (const e of envs) loadConfig({ ...env, ...e });
  logger.info({ workers: count, chains: envs.map((e) => e.MEM0_GOV_AUDIT_CHAIN_ID) }, 'starting workers');
  runPrimary({ count, logger, workerEnv: (i) => envs[i]! });
}

// The time budget of one check and the deadlines derived from it (docs/DESIGN.md "Availability").
// Envoy gives ext_authz 250 ms (envoy/envoy.yaml); MEM0_GOV_CHECK_BUDGET_MS (200 ms) is what a
// check may take inside that, leaving room for the network and scheduling. Each dependency gets a
// quarter of it, so the worst case — Redis slow, then PostgreSQL slow — still answers in time:
//   Redis deadline        budget / 4 (MEM0_GOV_REDIS_TIMEOUT_MS overrides): slower is down, the
//                         gate's failure modes apply;
//   durability deadline   budget / 4: PostgreSQL not confirming a batch within it sends the batch
//                         to the fsynced spool and releases the answers (audit/writer.ts).
// Admission (MEM0_GOV_MAX_IN_FLIGHT) bounds the checks decided at once, so the queue in front of
// them cannot grow past what the budget can serve.
import type { Env } from './config/env.js';
import { read } from './config/read.js';

export interface Budget {
  /** What one check may take (ms). */
  checkMs: number;
  /** Bound on every Redis command (ms). */
  redisMs: number;
  /** How long an audit event waits for PostgreSQL before the spool takes it (ms). */
  durabilityMs: number;
  /** Checks decided at once; more are refused with `overloaded`. */
  maxInFlight: number;
}

export function loadBudget(env: Env): Budget {
  const checkMs = read(env, 'CHECK_BUDGET_MS');
  const quarter = Math.max(1, Math.round(checkMs / 4));
  return {
    checkMs,
    redisMs: read(env, 'REDIS_TIMEOUT_MS') ?? quarter,
    durabilityMs: quarter,
    maxInFlight: read(env, 'MAX_IN_FLIGHT'),
  };
}

// Gate configuration from MEM0_GOV_* (declared in config/spec.ts) and the pure per-role
// session rule (strictest of the caller's roles wins).
import type { Env } from '../config/env.js';
import { read, readParsed } from '../config/read.js';
import { parseRate, type Rate } from '../ratelimit/rate.js';
import { loadRedisTimeoutMs } from '../redis/connect.js';
import { parseDuration } from './duration.js';

export type FailureMode = 'open' | 'closed';

export interface SessionConfig {
  idleMs: number;
  maxMs: number;
  idleByRoleMs: Readonly<Record<string, number>>;
  maxByRoleMs: Readonly<Record<string, number>>;
}

export interface GateConfig {
  /** per tenant+subject default (no subject/role/`default` field in mem0gov:limits) */
  defaultSubjectLimit: Rate;
  /** per-tenant aggregate default (no tenant/`tenant-default` field) */
  defaultTenantLimit: Rate;
  /** how often each replica re-reads mem0gov:limits, ms (≤ 2000 keeps the 2 s promise) */
  limitsRefreshMs: number;
  session: SessionConfig;
  /** revocation, suspension and session checks while Redis is down */
  revocationFailureMode: FailureMode;
  /** rate limits while Redis is down: open = local per-replica limiter */
  rateLimitFailureMode: FailureMode;
  /** bound on the gate's Redis call, ms (MEM0_GOV_REDIS_TIMEOUT_MS) */
  timeoutMs: number;
  /** longest break-glass grant the CLI accepts */
  breakGlassMaxTtlMs: number;
}

export function loadGateConfig(env: Env): GateConfig {
  return {
    defaultSubjectLimit: readParsed(env, 'LIMIT_DEFAULT', parseRate),
    defaultTenantLimit: readParsed(env, 'LIMIT_TENANT_DEFAULT', parseRate),
    limitsRefreshMs: read(env, 'LIMITS_REFRESH_MS'),
    session: {
      idleMs: read(env, 'SESSION_IDLE_SECONDS') * 1000,
      maxMs: read(env, 'SESSION_MAX_SECONDS') * 1000,
      idleByRoleMs: read(env, 'SESSION_IDLE_SECONDS_BY_ROLE'),
      maxByRoleMs: read(env, 'SESSION_MAX_SECONDS_BY_ROLE'),
    },
    revocationFailureMode: read(env, 'REVOCATION_FAILURE_MODE'),
    rateLimitFailureMode: read(env, 'RATELIMIT_FAILURE_MODE'),
    // MEM0_GOV_REDIS_TIMEOUT_MS belongs to the Redis connection settings: read there, once.
    timeoutMs: loadRedisTimeoutMs(env),
    breakGlassMaxTtlMs: readParsed(env, 'BREAKGLASS_MAX_TTL', parseDuration),
  };
}

/** Each role's value is its override or the default; the strictest (smallest) of the caller's roles wins. */
export function sessionLimitsFor(roles: readonly string[], s: SessionConfig): { idleMs: number; maxMs: number } {
  if (roles.length === 0) return { idleMs: s.idleMs, maxMs: s.maxMs };
  return {
    idleMs: Math.min(...roles.map((r) => s.idleByRoleMs[r] ?? s.idleMs)),
    maxMs: Math.min(...roles.map((r) => s.maxByRoleMs[r] ?? s.maxMs)),
  };
}

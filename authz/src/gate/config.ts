// Gate configuration from MEM0_GOV_* (documented in gate/README.md) and the pure
// per-role session rule (strictest of the caller's roles wins).
import { type Env, ConfigError, PREFIX, int, oneOf, str } from '../config/env.js';
import { parseRate, type Rate } from '../ratelimit/rate.js';
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

function rate(env: Env, name: string, fallback: string): Rate {
  const v = str(env, name, fallback);
  try {
    return parseRate(v);
  } catch (err) {
    throw new ConfigError(PREFIX + name, (err as Error).message);
  }
}

/** `admin=300,agent-reader=3600` (seconds per role) → ms per role. */
export function parseRoleSeconds(env: Env, name: string): Record<string, number> {
  const v = str(env, name);
  const out: Record<string, number> = {};
  if (v === undefined) return out;
  for (const part of v.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)\s*=\s*(\d+)$/.exec(part);
    if (!m || Number(m[2]) < 1) throw new ConfigError(PREFIX + name, `expected role=seconds[,role=seconds…], got ${JSON.stringify(part)}`);
    out[m[1] as string] = Number(m[2]) * 1000;
  }
  return out;
}

export function loadGateConfig(env: Env): GateConfig {
  let breakGlassMaxTtlMs: number;
  try {
    breakGlassMaxTtlMs = parseDuration(str(env, 'BREAKGLASS_MAX_TTL', '4h'));
  } catch (err) {
    throw new ConfigError(`${PREFIX}BREAKGLASS_MAX_TTL`, (err as Error).message);
  }
  return {
    defaultSubjectLimit: rate(env, 'LIMIT_DEFAULT', '600/m'),
    defaultTenantLimit: rate(env, 'LIMIT_TENANT_DEFAULT', '6000/m'),
    limitsRefreshMs: int(env, 'LIMITS_REFRESH_MS', 1000, 50, 2000),
    session: {
      idleMs: int(env, 'SESSION_IDLE_SECONDS', 900, 1) * 1000,
      maxMs: int(env, 'SESSION_MAX_SECONDS', 28_800, 1) * 1000,
      idleByRoleMs: parseRoleSeconds(env, 'SESSION_IDLE_SECONDS_BY_ROLE'),
      maxByRoleMs: parseRoleSeconds(env, 'SESSION_MAX_SECONDS_BY_ROLE'),
    },
    revocationFailureMode: oneOf(env, 'REVOCATION_FAILURE_MODE', ['closed', 'open'] as const, 'closed'),
    rateLimitFailureMode: oneOf(env, 'RATELIMIT_FAILURE_MODE', ['open', 'closed'] as const, 'open'),
    timeoutMs: int(env, 'REDIS_TIMEOUT_MS', 50, 1, 60_000),
    breakGlassMaxTtlMs,
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

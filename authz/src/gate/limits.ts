// Run-time limits: each replica re-reads the small `mem0gov:limits` hash every
// `refreshMs` (≤ 2 s), so a `redis-cli HSET` with no pub/sub is obeyed too. A malformed
// value is logged once and ignored; the last good value for that field stays.
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connect.js';
import { LIMITS_KEY } from '../redis/keys.js';
import { withTimeout } from '../redis/script.js';
import { gcraParams, parseRate, parseScope, type Rate } from '../ratelimit/rate.js';

export interface ConfigChange {
  key: string;
  field: string;
  value: string | null;
  source: 'redis';
}

export interface EffectiveLimits {
  subject: Rate;
  tenant: Rate;
}

/** Pure resolution (README "Limits"): subject > most generous role in the tenant > most generous
 * role > the tenant's default > default > env; tenant > tenant-default > env. */
export function resolveLimits(
  table: ReadonlyMap<string, Rate>,
  who: { tenant: string; subject: string; roles: readonly string[] },
  defaults: EffectiveLimits,
): EffectiveLimits {
  const mostGenerous = (fields: string[]): Rate | undefined => {
    let best: Rate | undefined;
    for (const f of fields) {
      const cand = table.get(f);
      if (cand && (!best || moreGenerous(cand, best))) best = cand;
    }
    return best;
  };
  const subject =
    table.get(`subject:${who.tenant}/${who.subject}`) ??
    mostGenerous(who.roles.map((r) => `role:${who.tenant}/${r}`)) ??
    mostGenerous(who.roles.map((r) => `role:${r}`)) ??
    table.get(`default:${who.tenant}`) ??
    table.get('default') ??
    defaults.subject;
  const tenant = table.get(`tenant:${who.tenant}`) ?? table.get('tenant-default') ?? defaults.tenant;
  return { subject, tenant };
}

function moreGenerous(a: Rate, b: Rate): boolean {
  const pa = gcraParams(a);
  const pb = gcraParams(b);
  return pa.intervalUs < pb.intervalUs || (pa.intervalUs === pb.intervalUs && a.burst > b.burst);
}

/** Applies one HGETALL snapshot to the table; returns the changes it applied. Pure apart from logging. */
export function applySnapshot(
  state: { good: Map<string, Rate>; seen: Map<string, string> },
  snapshot: Record<string, string>,
  logger: Logger,
): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const [field, value] of Object.entries(snapshot)) {
    if (state.seen.get(field) === value) continue;
    state.seen.set(field, value);
    try {
      parseScope(field);
      const rate = parseRate(value);
      state.good.set(field, rate);
      changes.push({ key: LIMITS_KEY, field, value, source: 'redis' });
    } catch (err) {
      const kept = state.good.get(field);
      logger.error(
        { reason: 'invalid_limit', key: LIMITS_KEY, field, kept: kept?.text ?? null, err: (err as Error).message },
        'ignoring malformed limit in redis; last good value stays',
      );
    }
  }
  for (const field of [...state.seen.keys()]) {
    if (field in snapshot) continue;
    state.seen.delete(field);
    if (state.good.delete(field)) changes.push({ key: LIMITS_KEY, field, value: null, source: 'redis' });
  }
  return changes;
}

export interface LimitsWatcher {
  table(): ReadonlyMap<string, Rate>;
  /** Reads Redis now; resolves false if Redis did not answer. */
  refresh(): Promise<boolean>;
  stop(): void;
}

export function watchLimits(opts: {
  redis: RedisClient;
  logger: Logger;
  refreshMs: number;
  timeoutMs: number;
  onChange?: (change: ConfigChange) => void;
}): LimitsWatcher {
  const state = { good: new Map<string, Rate>(), seen: new Map<string, string>() };
  let loaded = false;
  let failing = false;
  const refresh = async (): Promise<boolean> => {
    let snapshot: Record<string, string>;
    try {
      // Larger bound than the per-request one: this runs off the request path.
      snapshot = await withTimeout(opts.redis.hgetall(LIMITS_KEY), Math.max(opts.timeoutMs, 1000));
    } catch (err) {
      if (!failing) opts.logger.warn({ err: (err as Error).message }, 'cannot read limits from redis; keeping current values');
      failing = true;
      return false;
    }
    failing = false;
    const changes = applySnapshot(state, snapshot, opts.logger);
    // The first snapshot is the starting state, not a change.
    if (loaded) {
      for (const c of changes) {
        opts.logger.info({ field: c.field, value: c.value }, 'limit changed in redis');
        opts.onChange?.(c);
      }
    }
    loaded = true;
    return true;
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void refresh().finally(() => {
      running = false;
    });
  }, opts.refreshMs);
  timer.unref();
  return { table: () => state.good, refresh, stop: () => clearInterval(timer) };
}

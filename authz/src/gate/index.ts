// Stage 3: the Redis gate. One EVALSHA per request decides revocation, suspension, session
// limits, GCRA rate limits and fetches an active break-glass grant (see script.ts, README.md).
// When Redis is down or slow the configured failure modes decide instead. Slow is down: a call
// that fails or does not answer within the Redis deadline opens a breaker; while it is open every
// check applies the failure modes at once and one probe at a time (every PROBE interval) asks
// Redis; the first answer (or the connection becoming ready again) closes it. So a frozen Redis
// costs one deadline per probe, not one per request, and no calls pile up behind it. A single
// slow call among good ones does not open it (TRIP_AFTER).
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import type { Reason } from '../reasons.js';
import type { BreakGlassGrant, Gate, GateResult, Identity, Mem0Request } from '../types.js';
import * as metrics from '../metrics.js';
import { type RedisClient, waitReady } from '../redis/connect.js';
import { tenantKeys } from '../redis/keys.js';
import { luaScript, preloadScript } from '../redis/script.js';
import { gcraParams } from '../ratelimit/rate.js';
import { parseGrant } from './breakglass-store.js';
import { type GateConfig, sessionLimitsFor } from './config.js';
import { LocalLimiter } from './fallback.js';
import { limitedHeaders, passHeaders } from './headers.js';
import { type ConfigChange, type EffectiveLimits, resolveLimits, watchLimits } from './limits.js';
import { GATE_LUA } from './script.js';

export type { GateConfig, FailureMode } from './config.js';
export { loadGateConfig } from './config.js';

const script = luaScript(GATE_LUA);

const REVOKED_REASON: Record<string, string> = {
  jti: 'token_revoked',
  sub: 'subject_revoked',
  agent: 'agent_revoked',
  tenant: 'tenant_revoked',
};

type ScriptReply = (string | number)[];

function deny(decision: 'unauthenticated' | 'deny' | 'error' | 'rate_limited', reason: Reason, status: number, clientHeaders: Record<string, string> = {}): GateResult {
  return { ok: false, decision, reason, status, clientHeaders };
}

export async function createRedisGate(deps: {
  redis: RedisClient;
  config: GateConfig;
  logger: Logger;
  clock?: () => number;
  onConfigChange?: (change: ConfigChange) => void;
}): Promise<Gate> {
  const { redis, config } = deps;
  const log = deps.logger.child({ component: 'gate' });
  const clock = deps.clock ?? Date.now;
  const local = new LocalLimiter();
  const limits = watchLimits({
    redis,
    logger: log,
    refreshMs: config.limitsRefreshMs,
    timeoutMs: config.timeoutMs,
    ...(deps.onConfigChange ? { onChange: deps.onConfigChange } : {}),
  });
  const defaults: EffectiveLimits = { subject: config.defaultSubjectLimit, tenant: config.defaultTenantLimit };

  // Start even if Redis is down: the failure modes apply and the gate recovers by itself.
  try {
    await waitReady(redis, 2000);
    await preloadScript(redis, GATE_LUA, 2000);
    await limits.refresh();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'redis not ready at start; failure modes apply until it is');
  }

  let redisDown = false;
  // The breaker: opens after TRIP_AFTER failed or late calls in a row (one slow call among good
  // ones is a hiccup, not an outage); while open, one probe call at a time.
  const TRIP_AFTER = 3;
  const probeEveryMs = Math.max(2 * config.timeoutMs, 100);
  let failuresInRow = 0;
  let breakerOpen = false;
  let probing = false;
  let nextProbeAt = 0;
  const markUp = (): void => {
    if (redisDown) log.info('redis gate recovered');
    redisDown = false;
    breakerOpen = false;
    failuresInRow = 0;
    metrics.dependencyUp.set({ dependency: 'redis' }, 1);
  };
  const trip = (): void => {
    failuresInRow++;
    if (!breakerOpen && failuresInRow < TRIP_AFTER) return;
    breakerOpen = true;
    nextProbeAt = performance.now() + probeEveryMs;
  };
  // A reconnected client answers at once: no need to wait for the next probe.
  const onReady = (): void => { breakerOpen = false; failuresInRow = 0; };
  redis.on('ready', onReady);
  const breakerOpenError = new Error('redis breaker open: failing fast until a probe answers');

  function whenRedisFails(identity: Identity, eff: EffectiveLimits, nowMs: number, err: unknown): GateResult {
    if (!redisDown) log.error({ err: (err as Error).message, reason: 'redis_unavailable' }, 'redis gate call failed; applying failure modes');
    redisDown = true;
    metrics.dependencyUp.set({ dependency: 'redis' }, 0);
    const notes: string[] = [];
    metrics.redisFailMode.inc({ component: 'revocation', mode: config.revocationFailureMode });
    if (config.revocationFailureMode === 'closed') return deny('error', 'redis_unavailable', 503);
    notes.push('revocation_fail_open');
    // The absolute session lifetime needs no Redis.
    const sess = sessionLimitsFor(identity.roles, config.session);
    const auth = identity.authTime ?? identity.iat;
    if (auth !== undefined && nowMs - auth * 1000 > sess.maxMs) return deny('unauthenticated', 'session_expired', 401);
    metrics.redisFailMode.inc({ component: 'ratelimit', mode: config.rateLimitFailureMode });
    if (config.rateLimitFailureMode === 'closed') return deny('error', 'redis_unavailable', 503);
    notes.push('ratelimit_fail_open');
    const r = local.check(identity.tenant, identity.subject, eff, nowMs);
    if (!r.allowed) {
      const rate = r.which === 'sub' ? eff.subject : eff.tenant;
      return deny('rate_limited', 'rate_limited', 429, limitedHeaders(rate, r.retryAfterUs, r.resetUs));
    }
    return {
      ok: true,
      clientHeaders: passHeaders({ rate: eff.subject, ...r.sub }, { rate: eff.tenant, ...r.tenant }),
      notes,
    };
  }

  function grantFrom(raw: string, identity: Identity, nowMs: number): BreakGlassGrant | undefined {
    if (raw === '') return undefined;
    const g = parseGrant(raw);
    if (!g) {
      log.error({ reason: 'invalid_break_glass_grant', tenant: identity.tenant }, 'ignoring malformed break-glass grant');
      return undefined;
    }
    // The key expires with the grant; this also guards against clock skew and copied keys.
    if (g.expiresAt <= nowMs || g.tenant !== identity.tenant || g.subject !== identity.subject) return undefined;
    return g;
  }

  async function check(identity: Identity, _req: Mem0Request, nowArg: number): Promise<GateResult> {
    const nowMs = Number.isFinite(nowArg) ? Math.floor(nowArg) : clock();
    const t = identity.tenant;
    const eff = resolveLimits(limits.table(), { tenant: t, subject: identity.subject, roles: identity.roles }, defaults);
    const sp = gcraParams(eff.subject);
    const tp = gcraParams(eff.tenant);
    const sess = sessionLimitsFor(identity.roles, config.session);
    const auth = identity.authTime ?? identity.iat;
    const keys = [
      tenantKeys.revoked(t, 'jti', identity.jti ?? ''),
      tenantKeys.revoked(t, 'sub', identity.subject),
      tenantKeys.revoked(t, 'agent', identity.agent ?? ''),
      tenantKeys.revoked(t, 'tenant'),
      tenantKeys.suspended(t),
      tenantKeys.session(t, identity.sessionId ?? ''),
      tenantKeys.rateSubject(t, identity.subject),
      tenantKeys.rateTenant(t),
      tenantKeys.breakGlass(t, identity.subject),
    ];
    const args = [
      nowMs,
      identity.jti ? '1' : '0',
      identity.agent ? '1' : '0',
      identity.sessionId ? '1' : '0',
      sess.idleMs,
      auth === undefined ? -1 : auth * 1000,
      sess.maxMs,
      sp.intervalUs,
      sp.toleranceUs,
      tp.intervalUs,
      tp.toleranceUs,
    ];
    let reply: ScriptReply;
    const probe = breakerOpen;
    if (probe) {
      // Failing fast; one probe at a time finds out when Redis answers again.
      if (probing || performance.now() < nextProbeAt) return whenRedisFails(identity, eff, nowMs, breakerOpenError);
      probing = true;
      nextProbeAt = performance.now() + probeEveryMs;
    }
    try {
      reply = (await script.run(redis, keys, args, config.timeoutMs)) as ScriptReply;
    } catch (err) {
      if (probe) probing = false;
      trip();
      return whenRedisFails(identity, eff, nowMs, err);
    }
    if (probe) probing = false;
    markUp();
    switch (reply[0]) {
      case 'revoked':
        metrics.revokedTokenUse.inc({ tenant: t });
        return deny('unauthenticated', (REVOKED_REASON[String(reply[1])] ?? 'token_revoked') as Reason, 401);
      case 'suspended':
        return deny('deny', 'tenant_suspended', 403);
      case 'session':
        return deny('unauthenticated', reply[1] === 'idle' ? 'session_idle_timeout' : 'session_expired', 401);
      case 'limited': {
        const rate = reply[1] === 'sub' ? eff.subject : eff.tenant;
        return deny('rate_limited', 'rate_limited', 429, limitedHeaders(rate, Number(reply[2]), Number(reply[3])));
      }
      case 'ok': {
        const clientHeaders = passHeaders(
          { rate: eff.subject, remaining: Number(reply[1]), resetUs: Number(reply[2]) },
          { rate: eff.tenant, remaining: Number(reply[3]), resetUs: Number(reply[4]) },
        );
        const breakGlass = grantFrom(String(reply[5] ?? ''), identity, nowMs);
        return { ok: true, clientHeaders, notes: [], ...(breakGlass ? { breakGlass } : {}) };
      }
      default:
        return whenRedisFails(identity, eff, nowMs, new Error(`unexpected gate reply ${String(reply[0])}`));
    }
  }

  return {
    check,
    async close() {
      limits.stop();
      redis.off('ready', onReady);
    },
  };
}

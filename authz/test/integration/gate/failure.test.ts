// Redis killed mid-run, then restarted; and Redis too slow: bounded timeout, failure modes,
// metrics, then recovery without restarting the gate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '../../../../testing/redis.js';
import { waitFor } from '../../../../testing/tools.js';
import { connectRedis, loadRedisConfig, closeRedis, type RedisClient } from '../../../src/redis/connect.js';
import { createRedisGate } from '../../../src/gate/index.js';
import { LIMITS_KEY, tenantKeys } from '../../../src/redis/keys.js';
import * as metrics from '../../../src/metrics.js';
import type { Gate } from '../../../src/types.js';
import { REQ, capturingLogger, counterValue, gateConfig, identity } from './helpers.js';

let server: RedisHandle;
const clients: RedisClient[] = [];
const gates: Gate[] = [];

async function gate(env: Record<string, string>): Promise<Gate> {
  const c = connectRedis(loadRedisConfig({ MEM0_GOV_REDIS_URL: server.url }), capturingLogger().logger);
  clients.push(c);
  const g = await createRedisGate({ redis: c, config: gateConfig(env), logger: capturingLogger().logger });
  gates.push(g);
  return g;
}

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  for (const g of gates) await g.close();
  for (const c of clients) await closeRedis(c);
  await server.stop();
});

describe('Redis down or slow', () => {
  it('kill mid-run: closed revocation → 503, fail-open limits → local limiter; both recover by themselves', async () => {
    const closed = await gate({});
    const open = await gate({ MEM0_GOV_REVOCATION_FAILURE_MODE: 'open', MEM0_GOV_LIMIT_DEFAULT: '3/m' });
    const limClosed = await gate({ MEM0_GOV_REVOCATION_FAILURE_MODE: 'open', MEM0_GOV_RATELIMIT_FAILURE_MODE: 'closed' });
    const now = Date.now();
    const id = identity({ roles: [] });
    expect((await closed.check(id, REQ, now)).ok).toBe(true);

    const closedBefore = await counterValue(metrics.redisFailMode, { component: 'revocation', mode: 'closed' });
    const openBefore = await counterValue(metrics.redisFailMode, { component: 'ratelimit', mode: 'open' });
    await server.kill();

    expect(await closed.check(id, REQ, now)).toMatchObject({ ok: false, decision: 'error', reason: 'redis_unavailable', status: 503 });
    expect(await counterValue(metrics.redisFailMode, { component: 'revocation', mode: 'closed' })).toBe(closedBefore + 1);

    const other = identity({ subject: 'zed', roles: [] });
    const local = [];
    for (let i = 0; i < 5; i++) local.push(await open.check(other, REQ, now));
    expect(local.filter((r) => r.ok)).toHaveLength(3); // the per-replica fallback limiter, same 3/m
    const first = local[0]!;
    expect(first.ok && first.notes).toEqual(['revocation_fail_open', 'ratelimit_fail_open']);
    expect(local[4]).toMatchObject({ ok: false, decision: 'rate_limited', status: 429 });
    expect(await counterValue(metrics.redisFailMode, { component: 'ratelimit', mode: 'open' })).toBe(openBefore + 5);

    expect(await limClosed.check(id, REQ, now)).toMatchObject({ ok: false, decision: 'error', reason: 'redis_unavailable', status: 503 });

    // Absolute session lifetime is still enforced without Redis when revocation is open.
    const old = identity({ subject: 'old', iat: Math.floor(now / 1000) - 9 * 3600 });
    expect(await open.check(old, REQ, now)).toMatchObject({ ok: false, reason: 'session_expired' });

    await server.restart(); // empty dataset (no persistence)
    await waitFor('closed gate recovers', async () => (await closed.check(id, REQ, Date.now())).ok, 10_000, 50);
    await waitFor('open gate back on redis', async () => {
      const r = await open.check(identity({ subject: 'fresh', roles: [] }), REQ, Date.now());
      return r.ok && r.notes.length === 0;
    }, 10_000, 50);
    // Revocation works again right after recovery.
    const admin = new Redis(server.url);
    await admin.set(tenantKeys.revoked('acme', 'sub', 'alice'), '{}');
    await admin.hset(LIMITS_KEY, 'default', '100/m');
    admin.disconnect();
    expect(await closed.check(id, REQ, Date.now())).toMatchObject({ ok: false, reason: 'subject_revoked' });
  });

  it('slow Redis: the call is bounded by the timeout, then the failure mode applies', async () => {
    const g = await gate({ MEM0_GOV_REDIS_TIMEOUT_MS: '50' });
    const id = identity({ tenant: 'slow' });
    expect((await g.check(id, REQ, Date.now())).ok).toBe(true);
    const blocker = new Redis(server.url);
    const sleeping = blocker.call('DEBUG', 'SLEEP', '0.5');
    await new Promise((r) => setTimeout(r, 20));
    expect(await g.check(id, REQ, Date.now())).toMatchObject({ ok: false, decision: 'error', reason: 'redis_unavailable', status: 503 });
    await sleeping;
    blocker.disconnect();
    await waitFor('recovered after the stall', async () => (await g.check(id, REQ, Date.now())).ok, 5000, 50);
  });
});

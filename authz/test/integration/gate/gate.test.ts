import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '../../../../testing/redis.js';
import { waitFor } from '../../../../testing/tools.js';
import { connectRedis, loadRedisConfig, closeRedis, type RedisClient } from '../../../src/redis/connect.js';
import { createRedisGate } from '../../../src/gate/index.js';
import { tenantKeys, LIMITS_KEY } from '../../../src/redis/keys.js';
import { storeGrant } from '../../../src/gate/breakglass-store.js';
import * as metrics from '../../../src/metrics.js';
import type { Gate, GateResult } from '../../../src/types.js';
import { REQ, capturingLogger, counterValue, gateConfig, identity } from './helpers.js';

const execFileP = promisify(execFile);
const T0 = 1_800_000_000_000;

let server: RedisHandle;
let admin: Redis;
const clients: RedisClient[] = [];
const gates: Gate[] = [];

function client(): RedisClient {
  const c = connectRedis(loadRedisConfig({ MEM0_GOV_REDIS_URL: server.url }), capturingLogger().logger);
  clients.push(c);
  return c;
}

async function gate(env: Record<string, string> = {}, onConfigChange?: Parameters<typeof createRedisGate>[0]['onConfigChange']) {
  const cap = capturingLogger();
  const g = await createRedisGate({ redis: client(), config: gateConfig(env), logger: cap.logger, ...(onConfigChange ? { onConfigChange } : {}) });
  gates.push(g);
  return { g, lines: cap.lines };
}

function denied(r: GateResult): Extract<GateResult, { ok: false }> {
  if (r.ok) throw new Error('expected a denial');
  return r;
}

beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
});
afterAll(async () => {
  for (const g of gates) await g.close();
  for (const c of clients) await closeRedis(c);
  admin.disconnect();
  await server.stop();
});
beforeEach(async () => {
  await admin.flushall();
});

describe('rate limits (GCRA in one Lua call)', () => {
  it('allows exactly the limit across 3 replicas sharing Redis, then 429 with Retry-After', async () => {
    await admin.hset(LIMITS_KEY, 'role:agent-writer', '10/m');
    const replicas = [await gate(), await gate(), await gate()];
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => replicas[i % 3]!.g.check(identity(), REQ, T0)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const d = denied(results.find((r) => !r.ok)!);
    expect(d).toMatchObject({ decision: 'rate_limited', reason: 'rate_limited', status: 429 });
    expect(Number(d.clientHeaders['retry-after'])).toBe(6); // one emission interval: 60 s / 10
    expect(d.clientHeaders['ratelimit-limit']).toBe('10');
    expect(d.clientHeaders['ratelimit-remaining']).toBe('0');
    // 6 s later exactly one more request fits.
    const later = await Promise.all([0, 1, 2].map((i) => replicas[i]!.g.check(identity(), REQ, T0 + 6000)));
    expect(later.filter((r) => r.ok)).toHaveLength(1);
  });

  it('applies the tenant aggregate across subjects, and a subject override beats the role', async () => {
    await admin.hset(LIMITS_KEY, 'tenant:acme', '12/m', 'role:agent-writer', '100/m', 'subject:acme/carol', '2/m');
    const { g } = await gate();
    const carol = [];
    for (let i = 0; i < 5; i++) carol.push(await g.check(identity({ subject: 'carol' }), REQ, T0));
    expect(carol.filter((r) => r.ok)).toHaveLength(2); // subject:acme/carol 2/m beats role 100/m
    const subs = ['alice', 'bob', 'dave'];
    const res = await Promise.all(Array.from({ length: 30 }, (_, i) => g.check(identity({ subject: subs[i % 3]! }), REQ, T0)));
    expect(res.filter((r) => r.ok)).toHaveLength(10); // tenant:acme 12/m minus carol's 2
    const other = await Promise.all(Array.from({ length: 5 }, () => g.check(identity({ tenant: 'beta', subject: 'carol' }), REQ, T0)));
    expect(other.filter((r) => r.ok)).toHaveLength(5); // neither override applies in tenant beta
  });

  it('sends RateLimit headers on pass, counting down', async () => {
    await admin.hset(LIMITS_KEY, 'default', '5/s');
    const { g } = await gate();
    const id = identity({ roles: [] });
    const a = await g.check(id, REQ, T0);
    const b = await g.check(id, REQ, T0);
    expect(a.ok && b.ok).toBe(true);
    expect(a.clientHeaders).toMatchObject({ 'ratelimit-limit': '5', 'ratelimit-remaining': '4', 'ratelimit-reset': '1' });
    expect(b.clientHeaders['ratelimit-remaining']).toBe('3');
  });

  it('obeys `redis-cli HSET mem0gov:limits` within 2 s, reports the change, ignores a malformed value', async () => {
    const changes: unknown[] = [];
    const { g, lines } = await gate({}, (c) => changes.push(c));
    const id = identity({ tenant: 'runtime' });
    let clock = T0;
    expect((await g.check(id, REQ, clock)).clientHeaders['ratelimit-limit']).toBe('600');
    await execFileP('redis-cli', ['-p', String(server.port), 'HSET', 'mem0gov:limits', 'subject:runtime/alice', '3/m']);
    await waitFor('limit change applied', async () => (await g.check(id, REQ, (clock += 60_000))).clientHeaders['ratelimit-limit'] === '3', 2000, 50);
    expect(changes).toContainEqual({ key: 'mem0gov:limits', field: 'subject:runtime/alice', value: '3/m', source: 'redis' });

    await execFileP('redis-cli', ['-p', String(server.port), 'HSET', 'mem0gov:limits', 'subject:runtime/alice', 'lots']);
    await waitFor('malformed value logged', async () => lines.some((l) => l.reason === 'invalid_limit'), 2000, 50);
    const bad = lines.find((l) => l.reason === 'invalid_limit')!;
    expect(bad).toMatchObject({ field: 'subject:runtime/alice', kept: '3/m', level: 50 });
    clock += 60_000;
    const burst = [];
    for (let i = 0; i < 5; i++) burst.push(await g.check(id, REQ, clock));
    expect(burst.filter((r) => r.ok)).toHaveLength(3); // last good value (3/m) still applies
    expect(changes).not.toContainEqual(expect.objectContaining({ value: 'lots' }));

    await admin.hdel(LIMITS_KEY, 'subject:runtime/alice');
    await waitFor('unset applied', async () => (await g.check(id, REQ, (clock += 60_000))).clientHeaders['ratelimit-limit'] === '600', 2000, 50);
    expect(changes).toContainEqual({ key: 'mem0gov:limits', field: 'subject:runtime/alice', value: null, source: 'redis' });
  });

  it('reloads the script after SCRIPT FLUSH (NOSCRIPT) and keeps counting', async () => {
    const { g } = await gate();
    expect((await g.check(identity(), REQ, T0)).ok).toBe(true);
    await admin.script('FLUSH');
    const r = await g.check(identity(), REQ, T0);
    expect(r.ok).toBe(true);
    expect(r.clientHeaders['ratelimit-remaining']).toBe('598');
  });
});

describe('revocation, suspension, break-glass', () => {
  it('denies a revoked jti, subject, agent and tenant on the next request and counts it', async () => {
    const { g } = await gate();
    const id = identity({ jti: 'tok-1', agent: 'bot-7' });
    expect((await g.check(id, REQ, T0)).ok).toBe(true);
    const before = await counterValue(metrics.revokedTokenUse, { tenant: 'acme' });
    const cases: [string, string][] = [
      [tenantKeys.revoked('acme', 'jti', 'tok-1'), 'token_revoked'],
      [tenantKeys.revoked('acme', 'sub', 'alice'), 'subject_revoked'],
      [tenantKeys.revoked('acme', 'agent', 'bot-7'), 'agent_revoked'],
      [tenantKeys.revoked('acme', 'tenant'), 'tenant_revoked'],
    ];
    for (const [key, reason] of cases) {
      await admin.set(key, '{}', 'EX', 60);
      expect(await g.check(id, REQ, T0)).toMatchObject({ ok: false, decision: 'unauthenticated', reason, status: 401 });
      await admin.del(key);
    }
    expect(await counterValue(metrics.revokedTokenUse, { tenant: 'acme' })).toBe(before + 4);
    expect((await g.check(id, REQ, T0)).ok).toBe(true);
    // Another tenant's revocation of the same jti does not leak across tenants.
    await admin.set(tenantKeys.revoked('other', 'jti', 'tok-1'), '{}');
    expect((await g.check(id, REQ, T0)).ok).toBe(true);
  });

  it('denies a suspended tenant with 403', async () => {
    const { g } = await gate();
    await admin.hset(tenantKeys.suspended('acme'), 'reason', 'incident');
    expect(await g.check(identity(), REQ, T0)).toMatchObject({ ok: false, decision: 'deny', reason: 'tenant_suspended', status: 403 });
    expect((await g.check(identity({ tenant: 'beta' }), REQ, T0)).ok).toBe(true);
  });

  it('returns an active break-glass grant for that subject only', async () => {
    const { g } = await gate();
    const now = Date.now();
    const grant = { grantId: 'g1', subject: 'alice', tenant: 'acme', role: 'admin', justification: 'incident 42 restore', grantedBy: 'ops', grantedAt: now, expiresAt: now + 60_000 };
    await storeGrant(admin, grant);
    const r = await g.check(identity(), REQ, now);
    expect(r.ok && r.breakGlass).toEqual(grant);
    const bob = await g.check(identity({ subject: 'bob' }), REQ, now);
    expect(bob.ok && bob.breakGlass).toBeFalsy();
    // Past its expiry (gate clock), the grant is not returned even if the key lingers.
    const late = await g.check(identity(), REQ, now + 61_000);
    expect(late.ok && late.breakGlass).toBeFalsy();
  });
});

describe('sessions (injected clock)', () => {
  it('times out an idle session and refreshes last-seen on each pass', async () => {
    const { g } = await gate({ MEM0_GOV_SESSION_IDLE_SECONDS: '900' });
    const id = identity({ sessionId: 'sid-1', iat: T0 / 1000 });
    expect((await g.check(id, REQ, T0)).ok).toBe(true);
    expect((await g.check(id, REQ, T0 + 899_000)).ok).toBe(true);
    expect((await g.check(id, REQ, T0 + 1_798_000)).ok).toBe(true); // refreshed at +899 s
    expect(await g.check(id, REQ, T0 + 1_798_000 + 900_001)).toMatchObject({ ok: false, decision: 'unauthenticated', reason: 'session_idle_timeout', status: 401 });
    // Stays dead: a denial does not refresh last-seen.
    expect(denied(await g.check(id, REQ, T0 + 1_798_000 + 900_002)).reason).toBe('session_idle_timeout');
  });

  it('ends a session after its absolute lifetime from auth_time (else iat)', async () => {
    const { g } = await gate({ MEM0_GOV_SESSION_MAX_SECONDS: '28800', MEM0_GOV_SESSION_IDLE_SECONDS: '999999' });
    const auth = T0 / 1000;
    const id = identity({ sessionId: 'sid-2', authTime: auth, iat: auth + 28_000 });
    expect((await g.check(id, REQ, T0 + 28_800_000)).ok).toBe(true);
    expect(await g.check(id, REQ, T0 + 28_800_001)).toMatchObject({ ok: false, reason: 'session_expired', status: 401 });
    const noSid = identity({ iat: auth });
    expect(denied(await g.check(noSid, REQ, T0 + 28_800_001)).reason).toBe('session_expired');
  });

  it('applies the strictest per-role override', async () => {
    const { g } = await gate({ MEM0_GOV_SESSION_IDLE_SECONDS_BY_ROLE: 'admin=300,agent-reader=3600' });
    const admin1 = identity({ sessionId: 'sid-a', roles: ['agent-writer', 'admin'] });
    expect((await g.check(admin1, REQ, T0)).ok).toBe(true);
    expect(denied(await g.check(admin1, REQ, T0 + 301_000)).reason).toBe('session_idle_timeout');
    const reader = identity({ sessionId: 'sid-r', roles: ['agent-reader'] });
    expect((await g.check(reader, REQ, T0)).ok).toBe(true);
    expect((await g.check(reader, REQ, T0 + 3_000_000)).ok).toBe(true);
  });
});

// Redis frozen (SIGSTOP: connections stay open, nothing answers): slow is down. After a few calls
// that do not answer within the deadline the gate stops asking — checks apply the failure modes
// without a Redis call, one probe at a time asks — and it is back on Redis once Redis answers.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRedis, type RedisHandle } from '../../../../testing/redis.js';
import { redisPid, signalAll } from '../../../../testing/signals.js';
import { waitFor } from '../../../../testing/tools.js';
import { connectRedis, loadRedisConfig, closeRedis, type RedisClient } from '../../../src/redis/connect.js';
import { createRedisGate } from '../../../src/gate/index.js';
import type { Gate } from '../../../src/types.js';
import { REQ, capturingLogger, gateConfig, identity } from './helpers.js';

let server: RedisHandle;
let client: RedisClient;
let gate: Gate;

beforeAll(async () => {
  server = await startRedis();
  client = connectRedis(loadRedisConfig({ MEM0_GOV_REDIS_URL: server.url }), capturingLogger().logger, { commandTimeoutMs: 100 });
  gate = await createRedisGate({ redis: client, config: gateConfig({ MEM0_GOV_REDIS_TIMEOUT_MS: '100', MEM0_GOV_REVOCATION_FAILURE_MODE: 'open' }), logger: capturingLogger().logger });
});
afterAll(async () => {
  signalAll([redisPid(server.port)], 'SIGCONT');
  await gate?.close();
  if (client) await closeRedis(client);
  await server?.stop();
});

describe('Redis frozen', () => {
  it('a few late calls open the breaker: then checks fail open without calling Redis, and recover when it answers', async () => {
    const id = identity({ tenant: 'frozen' });
    expect(await gate.check(id, REQ, Date.now())).toMatchObject({ ok: true, notes: [] });
    const evalsha = vi.spyOn(client, 'evalsha');
    signalAll([redisPid(server.port)], 'SIGSTOP');
    try {
      // Three calls in a row time out (each one deadline), then the breaker is open.
      for (let i = 0; i < 3; i++) expect(await gate.check(id, REQ, Date.now())).toMatchObject({ ok: true, notes: ['revocation_fail_open', 'ratelimit_fail_open'] });
      const before = evalsha.mock.calls.length;
      const results = await Promise.all(Array.from({ length: 50 }, () => gate.check(id, REQ, Date.now())));
      expect(results.every((r) => r.ok && r.notes.includes('ratelimit_fail_open'))).toBe(true);
      // 50 checks at once: at most one of them probes Redis.
      expect(evalsha.mock.calls.length - before).toBeLessThanOrEqual(1);
    } finally {
      signalAll([redisPid(server.port)], 'SIGCONT');
    }
    await waitFor('back on Redis', async () => {
      const r = await gate.check(id, REQ, Date.now());
      return r.ok && r.notes.length === 0;
    }, 10_000, 50);
    evalsha.mockRestore();
  });
});

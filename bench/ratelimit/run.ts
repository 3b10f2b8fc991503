// Gate checks/s against a throwaway redis-server, and the ratio to a bare PING pipeline
// measured the same way (same client, same concurrency) in the same run. Prints figures only.
//   npx tsx bench/ratelimit/run.ts [seconds-per-phase=3] [concurrency=64]
import pino from 'pino';
import { startRedis } from '../../testing/redis.js';
import { connectRedis, loadRedisConfig, closeRedis, waitReady } from '../../authz/src/redis/connect.js';
import { createRedisGate, loadGateConfig } from '../../authz/src/gate/index.js';
import type { Identity, Mem0Request } from '../../authz/src/types.js';

const seconds = Number(process.argv[2] ?? 3);
const concurrency = Number(process.argv[3] ?? 64);

const REQ: Mem0Request = {
  requestId: 'bench', method: 'GET', path: '/memories/m1', route: 'memories.get', action: 'read',
  memoryId: 'm1', entities: [], options: {}, query: {}, phiInBody: false, sourceIp: '127.0.0.1',
};

async function measure(name: string, op: (i: number) => Promise<unknown>): Promise<number> {
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const worker = async (w: number): Promise<void> => {
    while (Date.now() < end) await op(w * 1_000_000 + n++);
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = n / secs;
  console.log(`${name.padEnd(28)} ${rate.toFixed(0).padStart(9)} ops/s  (${n} ops in ${secs.toFixed(2)} s, concurrency ${concurrency})`);
  return rate;
}

const server = await startRedis();
const logger = pino({ level: 'warn' });
const redis = connectRedis(loadRedisConfig({ MEM0_GOV_REDIS_URL: server.url }), logger);
try {
  await waitReady(redis, 5000);
  const config = loadGateConfig({ MEM0_GOV_LIMIT_DEFAULT: '1000000/s', MEM0_GOV_LIMIT_TENANT_DEFAULT: '1000000/s', MEM0_GOV_REDIS_TIMEOUT_MS: '1000' });
  const gate = await createRedisGate({ redis, config, logger });
  const ids: Identity[] = Array.from({ length: 1000 }, (_, i) => ({
    subject: `user-${i}`, issuer: 'bench', tenant: `t${i % 10}`, roles: ['agent-writer'],
    jti: `jti-${i}`, agent: 'bench-agent', sessionId: `sid-${i}`, iat: Math.floor(Date.now() / 1000),
  }));
  // Warm-up (script cache, connection).
  await measure('warm-up (gate)', (i) => gate.check(ids[i % ids.length]!, REQ, Date.now()));
  const ping = await measure('bare PING', () => redis.ping());
  const checks = await measure('gate check (1 EVALSHA)', (i) => gate.check(ids[i % ids.length]!, REQ, Date.now()));
  console.log(`ratio gate/PING: ${(checks / ping).toFixed(2)}`);
  await gate.close();
} finally {
  await closeRedis(redis);
  await server.stop();
}

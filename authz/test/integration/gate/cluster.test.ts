// The gate against a real 3-master Redis Cluster: hash-tagged keys keep each script on one slot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisCluster, type RedisClusterHandle } from '../../../../testing/redis.js';
import { connectRedis, loadRedisConfig, closeRedis, waitReady, type RedisClient } from '../../../src/redis/connect.js';
import { createRedisGate } from '../../../src/gate/index.js';
import { LIMITS_KEY, tenantKeys } from '../../../src/redis/keys.js';
import { luaScript } from '../../../src/redis/script.js';
import { GATE_LUA } from '../../../src/gate/script.js';
import type { Gate } from '../../../src/types.js';
import { REQ, capturingLogger, gateConfig, identity } from './helpers.js';

let cluster: RedisClusterHandle;
const clients: RedisClient[] = [];
const gates: Gate[] = [];

function client(): RedisClient {
  const c = connectRedis(loadRedisConfig({ MEM0_GOV_REDIS_CLUSTER_NODES: cluster.nodes.join(',') }), capturingLogger().logger);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  for (const g of gates) await g.close();
  for (const c of clients) await closeRedis(c);
  await cluster.stop();
});

describe('Redis Cluster (3 masters)', () => {
  it('limits exactly across 3 replicas for tenants on different slots; revocation and suspension work', async () => {
    const admin = client();
    await waitReady(admin, 10_000);
    // Tenants whose keys land on different masters.
    const tenants = ['acme', 'beta', 'gamma', 'delta', 'omega'];
    const slots = new Set(await Promise.all(tenants.map((t) => admin.call('CLUSTER', 'KEYSLOT', tenantKeys.rateTenant(t)) as Promise<number>)));
    expect(slots.size).toBeGreaterThan(1);
    await admin.hset(LIMITS_KEY, 'default', '7/m');

    const replicas: Gate[] = [];
    for (let i = 0; i < 3; i++) {
      const g = await createRedisGate({ redis: client(), config: gateConfig(), logger: capturingLogger().logger });
      gates.push(g);
      replicas.push(g);
    }
    // SCRIPT LOAD reached every master, so the first request per slot is a single EVALSHA.
    const c = admin as import('ioredis').Cluster;
    const loaded = await Promise.all(c.nodes('master').map((n) => n.script('EXISTS', luaScript(GATE_LUA).sha) as Promise<number[]>));
    expect(loaded).toEqual([[1], [1], [1]]);
    const now = Date.now();
    for (const t of tenants) {
      const res = await Promise.all(Array.from({ length: 20 }, (_, i) => replicas[i % 3]!.check(identity({ tenant: t, jti: `j-${t}`, sessionId: `s-${t}`, agent: 'bot' }), REQ, now)));
      expect(res.filter((r) => r.ok)).toHaveLength(7);
    }

    await admin.set(tenantKeys.revoked('beta', 'jti', 'j-beta'), '{}');
    expect(await replicas[0]!.check(identity({ tenant: 'beta', jti: 'j-beta' }), REQ, now + 60_000)).toMatchObject({ reason: 'token_revoked' });
    await admin.hset(tenantKeys.suspended('gamma'), 'reason', 'x');
    expect(await replicas[1]!.check(identity({ tenant: 'gamma' }), REQ, now + 60_000)).toMatchObject({ reason: 'tenant_suspended' });
    expect((await replicas[2]!.check(identity({ tenant: 'omega' }), REQ, now + 60_000)).ok).toBe(true);
  });
});

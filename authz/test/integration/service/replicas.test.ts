// Three authz replicas sharing one Redis: limits are exact across them, and a limit changed
// in Redis at run time is obeyed by every replica within 2 s, with no restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import pino from 'pino';
import { startStack } from '../../../../testing/stack.js';
import type { Stack } from '../../../../testing/stack.js';
import { freePort } from '../../../../testing/tools.js';
import { startService } from '../../../src/service.js';
import type { ServiceHandle } from '../../../src/service.js';
import { authorizationService } from '../../../src/grpc/protos.js';

let stack: Stack;
const replicas: ServiceHandle[] = [];
const clients: grpc.Client[] = [];
let redis: Redis;

beforeAll(async () => {
  stack = await startStack();
  redis = new Redis(stack.redis.url);
  replicas.push(stack.authz);
  for (const n of [2, 3]) {
    replicas.push(
      await startService(
        { ...stack.env, MEM0_GOV_GRPC_PORT: String(await freePort()), MEM0_GOV_HTTP_PORT: String(await freePort()), MEM0_GOV_AUDIT_CHAIN_ID: `replica-${n}-${process.pid}` },
        { logger: pino({ level: 'silent' }) },
      ),
    );
  }
  const Authz = authorizationService();
  for (const r of replicas) clients.push(new Authz(`127.0.0.1:${r.grpcPort}`, grpc.credentials.createInsecure()));
});
afterAll(async () => {
  for (const c of clients) c.close();
  redis?.disconnect();
  for (const r of replicas.slice(1)) await r.stop(0);
  await stack?.stop();
});

async function check(i: number, token: string): Promise<boolean> {
  const client = clients[i % clients.length] as grpc.Client & { Check: (req: unknown, cb: (e: Error | null, r: { status: { code: number } }) => void) => void };
  const resp = await new Promise<{ status: { code: number } }>((res, rej) =>
    client.Check(
      { attributes: { source: { address: { socket_address: { address: '192.0.2.10' } } }, request: { http: { method: 'GET', path: '/memories?user_id=acme:alice', headers: { authorization: `Bearer ${token}`, 'x-request-id': `r-${i}` } } } } },
      (e, r) => (e ? rej(e) : res(r)),
    ),
  );
  return resp.status.code === 0;
}

describe('three replicas, one Redis', () => {
  it('allow exactly the limit, and obey a run-time change within 2 s', async () => {
    await redis.hset('mem0gov:limits', 'subject:acme/alice', '10/m');
    await new Promise((r) => setTimeout(r, 2_100)); // every replica re-reads limits within 2 s
    const token = await stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => check(i, token)));
    expect(results.filter(Boolean)).toHaveLength(10);

    await redis.hset('mem0gov:limits', 'subject:acme/carol', '3/m');
    await new Promise((r) => setTimeout(r, 2_100));
    const carol = await stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'carol' });
    const second = await Promise.all(Array.from({ length: 9 }, (_, i) => check(i, carol)));
    expect(second.filter(Boolean)).toHaveLength(3);
  });
});

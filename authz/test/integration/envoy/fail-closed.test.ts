// authz unreachable (its port refuses every connection): both configs answer 503 and Mem0 sees nothing.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvoy, type RunningEnvoy } from '../../../../testing/envoy.js';
import { startMem0Standin, type Mem0Standin } from '../../../../testing/mem0-standin.js';
import { call } from './helpers.js';

let mem0: Mem0Standin;
const envoys: RunningEnvoy[] = [];
const holders: Server[] = [];

/** A port held for the whole test (so no parallel test's server can take it) whose every
 * connection is reset at once: authz down, as Envoy sees it. */
async function deadPort(): Promise<number> {
  const srv = createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  holders.push(srv);
  return (srv.address() as { port: number }).port;
}

beforeAll(async () => {
  mem0 = await startMem0Standin();
});
afterAll(async () => {
  await Promise.all(envoys.map((e) => e.stop()));
  await mem0?.stop();
  for (const h of holders) h.close();
});

for (const variant of ['grpc', 'http'] as const) {
  describe(`${variant} ext_authz with authz down`, () => {
    it('answers 503 to every route and forwards nothing to Mem0', async () => {
      const dead = await deadPort();
      const envoy = await startEnvoy({ variant, authzGrpcPort: dead, authzHttpPort: dead, mem0Port: mem0.port });
      envoys.push(envoy);
      mem0.reset();
      const body = JSON.stringify({ messages: [{ role: 'user', content: 'x' }], user_id: 'acme:alice' });
      for (const [method, path] of [['POST', '/memories'], ['GET', '/memories/m-1'], ['DELETE', '/memories/m-1'], ['POST', '/reset']] as const) {
        const res = await call(envoy.baseUrl, envoy.caFile, method, path, method === 'POST'
          ? { headers: { 'content-type': 'application/json', authorization: 'Bearer t' }, body } : { headers: { authorization: 'Bearer t' } });
        expect(res.status, `${method} ${path}`).toBe(503);
      }
      expect(mem0.requests).toHaveLength(0);
    });
  });
}

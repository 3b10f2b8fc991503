// envoy/envoy-http-authz.yaml against an HTTP check double: proves the HTTP contract documented in
// envoy/README.md (method, /check prefix, query, body, headers; 200 allows with x-mem0-gov-*
// headers upstream only; other statuses pass through with the allowed client headers).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEnvoy, type RunningEnvoy } from '../../../../testing/envoy.js';
import { startMem0Standin, type Mem0Standin } from '../../../../testing/mem0-standin.js';
import { call, clearRecords, startAuthzDouble, startHttpAuthzDouble, stopAll, type AuthzDouble, type SeenHttpCheck } from './helpers.js';

let envoy: RunningEnvoy;
let mem0: Mem0Standin;
let authz: Awaited<ReturnType<typeof startHttpAuthzDouble>>;
// The response stage (ext_proc) is gRPC in both variants: a pass-through double answers it.
let processor: AuthzDouble;

beforeAll(async () => {
  mem0 = await startMem0Standin();
  authz = await startHttpAuthzDouble();
  processor = await startAuthzDouble();
  envoy = await startEnvoy({ variant: 'http', authzGrpcPort: processor.port, authzHttpPort: authz.port, mem0Port: mem0.port });
});
afterAll(() => stopAll(envoy, authz, processor, mem0));
beforeEach(() => clearRecords(mem0, authz.checks));

const send = (method: string, path: string, opts?: Parameters<typeof call>[4]) => call(envoy.baseUrl, envoy.caFile, method, path, opts);

describe('HTTP ext_authz variant', () => {
  it('asks authz with the same method, /check + path + query, the body and the documented headers', async () => {
    const body = JSON.stringify({ text: 'new text' });
    const res = await send('PUT', '/memories/m-1?user_id=acme:alice', {
      headers: { 'content-type': 'application/json', authorization: 'Bearer tok', 'x-request-id': 'req-h-1', 'user-agent': 'agent/1', cookie: 'c=1', 'x-mem0-gov-tenant': 'evil' },
      body,
    });
    expect(res.status).toBe(404); // Mem0 stand-in: no such memory, but the request got there
    expect(authz.checks).toHaveLength(1);
    const c: SeenHttpCheck = authz.checks[0]!;
    expect(c.method).toBe('PUT');
    expect(c.url).toBe('/check/memories/m-1?user_id=acme:alice');
    expect(c.body.toString('utf8')).toBe(body);
    expect(c.headers).toMatchObject({ authorization: 'Bearer tok', 'x-request-id': 'req-h-1', 'content-type': 'application/json', 'user-agent': 'agent/1' });
    expect(c.headers['x-forwarded-for']).toBeDefined();
    expect(c.headers.cookie).toBeUndefined();
    expect(c.headers['x-mem0-gov-tenant']).toBeUndefined();
  });

  it('tells authz the caller address as Envoy saw it, whatever the caller claims', async () => {
    await send('GET', '/memories?user_id=acme:alice', { headers: { 'x-envoy-external-address': '6.6.6.6', 'x-forwarded-for': '6.6.6.6' } });
    const h = authz.checks[0]!.headers;
    expect(h['x-envoy-external-address']).toBe('127.0.0.1');
    expect(String(h['x-forwarded-for']).split(',').map((s) => s.trim()).at(-1)).not.toBe('6.6.6.6');
  });

  it('on 200 copies only x-mem0-gov-* headers upstream and never the caller token', async () => {
    const res = await send('GET', '/memories?user_id=acme:alice', { headers: { authorization: 'Bearer tok', 'x-mem0-gov-roles': 'admin' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-mem0-gov-decision-id']).toBe('d-2');
    expect(res.headers['ratelimit-remaining']).toBe('9');
    expect(res.headers['x-not-for-upstream']).toBeUndefined();
    expect(mem0.requests).toHaveLength(1);
    const h = mem0.requests[0]!.headers;
    expect(h['x-mem0-gov-tenant']).toBe('acme');
    expect(h['x-mem0-gov-roles']).toBeUndefined();
    expect(h['x-not-for-upstream']).toBeUndefined();
    expect(h.authorization).toBeUndefined();
  });

  it('passes a denial through with its status, JSON body and only the allowed headers', async () => {
    const res = await send('DELETE', '/memories/m-1', { headers: { authorization: 'Bearer deny', 'x-request-id': 'req-h-2' } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-internal-debug']).toBeUndefined();
    expect(JSON.parse(res.body)).toEqual({ error: 'unauthenticated', reason: 'expired', request_id: 'req-h-2', decision_id: 'd-1' });
    expect(mem0.requests).toHaveLength(0);
  });

  it('answers 413 for a body over 1 MiB without asking authz', async () => {
    const res = await send('POST', '/memories', { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(1024 * 1024 + 1, 0x61) });
    expect(res.status).toBe(413);
    expect(authz.checks).toHaveLength(0);
    expect(mem0.requests).toHaveLength(0);
  });
});

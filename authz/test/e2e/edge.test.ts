// Through the real Envoy binary, the real authz service, redis-server and PostgreSQL, to the
// Mem0 stand-in, which records what reached it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack } from '../../../testing/stack.js';
import type { Stack } from '../../../testing/stack.js';
import { call } from '../../../testing/https.js';

let stack: Stack;
const MEM0_KEY = 'mem0-test-key-not-a-secret';

beforeAll(async () => {
  stack = await startStack({ mem0ApiKey: MEM0_KEY });
});
afterAll(async () => {
  await stack?.stop();
});

function req(o: Parameters<typeof call>[2]) {
  return call(stack.envoy.baseUrl, stack.envoy.caFile, o);
}

function reached(pathPrefix: string): number {
  return stack.mem0!.requests.filter((r) => r.path.startsWith(pathPrefix)).length;
}

describe('allowed requests', () => {
  it('reach Mem0 with identity headers, our X-API-Key, and without Authorization', async () => {
    const token = await stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'alice', agent: 'support-bot' });
    const before = stack.mem0!.requests.length;
    const r = await req({
      method: 'POST',
      path: '/memories',
      token,
      headers: { 'x-mem0-gov-tenant': 'globex', 'x-mem0-gov-break-glass': 'true', 'x-api-key': 'agent-supplied' },
      body: { messages: [{ role: 'user', content: 'I prefer tea' }], user_id: 'acme:alice' },
    });
    expect(r.status).toBe(200);
    const seen = stack.mem0!.requests.slice(before);
    expect(seen).toHaveLength(1);
    const h = seen[0]!.headers;
    expect(h.authorization).toBeUndefined();
    expect(h['x-mem0-gov-subject']).toBe('alice');
    expect(h['x-mem0-gov-tenant']).toBe('acme'); // the spoofed value was overwritten
    expect(h['x-mem0-gov-roles']).toBe('agent-writer');
    expect(h['x-mem0-gov-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(h['x-mem0-gov-break-glass']).toBeUndefined(); // spoofed header stripped
    expect(h['x-api-key']).toBe(MEM0_KEY); // agents never hold Mem0 credentials
    expect(r.headers['ratelimit-limit']).toBeDefined();
    expect(r.headers['x-mem0-gov-decision-id']).toBe(h['x-mem0-gov-decision-id']);
  });
});

describe('denied requests never reach Mem0', () => {
  it('no token → 401 with WWW-Authenticate and the JSON error body', async () => {
    const before = stack.mem0!.requests.length;
    const r = await req({ method: 'GET', path: '/memories?user_id=acme:alice' });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    const body = r.json();
    expect(body).toMatchObject({ error: 'unauthenticated', reason: 'token_missing' });
    expect(body.request_id).toBe(r.headers['x-request-id']);
    expect(body.decision_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(stack.mem0!.requests.length).toBe(before);
  });

  it('expired token → 401 expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await stack.token({ tenant: 'acme', roles: ['agent-writer'], iat: now - 3600, ttl: 600 });
    const r = await req({ method: 'GET', path: '/memories?user_id=acme:alice', token });
    expect(r.status).toBe(401);
    expect(r.json()).toMatchObject({ reason: 'expired' });
    expect(r.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('another tenant\'s entity → 403 cross_tenant, nothing reaches Mem0', async () => {
    const token = await stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const before = stack.mem0!.requests.length;
    const r = await req({ method: 'POST', path: '/search', token, body: { query: 'x', user_id: 'globex:bob' } });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: 'deny', reason: 'cross_tenant' });
    expect(stack.mem0!.requests.length).toBe(before);
  });

  it('malformed input → 400 invalid_request with a specific reason', async () => {
    const token = await stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const before = stack.mem0!.requests.length;
    const bad = await req({ method: 'POST', path: '/memories', token, body: '{"user_id": "acme:a",' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_request', reason: 'invalid_json' });
    const notJson = await req({ method: 'POST', path: '/memories', token, headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(notJson.status).toBe(400);
    expect(notJson.json()).toMatchObject({ reason: 'unsupported_content_type' });
    const dup = await req({ method: 'GET', path: '/memories?user_id=acme:a&user_id=globex:b', token });
    expect(dup.status).toBe(400);
    expect(dup.json()).toMatchObject({ reason: 'duplicate_parameter' });
    expect(stack.mem0!.requests.length).toBe(before);
  });

  it('unknown route → 403 unknown_route', async () => {
    const token = await stack.token({ tenant: 'acme', roles: ['admin'] });
    const r = await req({ method: 'GET', path: '/admin', token });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: 'deny', reason: 'unknown_route' });
    expect(reached('/admin')).toBe(0);
  });

  it('a body over 1 MiB is refused by Envoy with 413 and never reaches Mem0', async () => {
    const token = await stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const before = stack.mem0!.requests.length;
    const big = { user_id: 'acme:alice', messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024 + 10) }] };
    const r = await req({ method: 'POST', path: '/memories', token, body: big });
    expect(r.status).toBe(413);
    expect(stack.mem0!.requests.length).toBe(before);
  });
});

describe('fail closed', () => {
  it('authz stopped → 503 from Envoy, nothing reaches Mem0; back when authz returns', async () => {
    const token = await stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    await stack.stopAuthz();
    const before = stack.mem0!.requests.length;
    const r = await req({ method: 'GET', path: '/memories?user_id=acme:alice', token });
    expect(r.status).toBe(503);
    expect(stack.mem0!.requests.length).toBe(before);
    await stack.restartAuthz();
    const ok = await req({ method: 'GET', path: '/memories?user_id=acme:alice', token });
    expect(ok.status).toBe(200);
  });
});

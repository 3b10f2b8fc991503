// The HTTP-service flavour of ext_authz (envoy/envoy-http-authz.yaml → authz :9192/check/*),
// through the real Envoy and the real authz service.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack } from '../../../testing/stack.js';
import type { Stack } from '../../../testing/stack.js';
import { call } from '../../../testing/https.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ variant: 'http' });
});
afterAll(async () => {
  await stack?.stop();
});

const req = (o: Parameters<typeof call>[2]) => call(stack.envoy.baseUrl, stack.envoy.caFile, o);

describe('HTTP-service ext_authz variant', () => {
  it('allows with identity headers upstream and no Authorization', async () => {
    const token = await stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'alice' });
    const r = await req({ method: 'POST', path: '/memories', token, body: { messages: [{ role: 'user', content: 'tea' }], user_id: 'acme:alice' } });
    expect(r.status).toBe(200);
    const seen = stack.mem0!.requests.at(-1)!;
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-mem0-gov-tenant']).toBe('acme');
    expect(seen.headers['x-mem0-gov-subject']).toBe('alice');
    expect(r.headers['ratelimit-limit']).toBeDefined();
  });

  it('passes denials through with their status, challenge and JSON body; nothing reaches Mem0', async () => {
    const before = stack.mem0!.requests.length;
    const unauth = await req({ method: 'GET', path: '/memories?user_id=acme:alice' });
    expect(unauth.status).toBe(401);
    expect(unauth.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(unauth.json()).toMatchObject({ error: 'unauthenticated', reason: 'token_missing' });
    const token = await stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const cross = await req({ method: 'GET', path: '/memories?user_id=globex:bob', token });
    expect(cross.status).toBe(403);
    expect(cross.json()).toMatchObject({ error: 'deny', reason: 'cross_tenant' });
    const write = await req({ method: 'POST', path: '/memories', token, body: { user_id: 'acme:alice', messages: [] } });
    expect(write.status).toBe(403);
    expect(write.json()).toMatchObject({ reason: 'role_missing' });
    expect(stack.mem0!.requests.length).toBe(before);
  });

  it('the response stage works the same: PHI withheld from a list, the context header never reaches Mem0', async () => {
    stack.mem0!.seed({ memory: 'plain tea note', user_id: 'acme:hv' });
    stack.mem0!.seed({ memory: 'diagnosis asthma', user_id: 'acme:hv', metadata: { phi: true } });
    const token = await stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const before = stack.mem0!.requests.length;
    const r = await req({ method: 'GET', path: '/memories?user_id=acme:hv', token });
    expect(r.status).toBe(200);
    expect(r.text).toContain('plain tea note');
    expect(r.text).not.toContain('asthma');
    const seen = stack.mem0!.requests.slice(before).find((q) => q.path === '/memories')!;
    expect(seen.headers['x-mem0-gov-ctx']).toBeUndefined();
    expect(r.headers['x-mem0-gov-ctx']).toBeUndefined();
  });
});

// SOC 2 CC6.1 logical access security: every Mem0 request passes Envoy → ext_authz; anything not
// explicitly allowed is denied; if the decision service is unavailable, nothing passes.
import { describe, expect, it } from 'vitest';
import { useStack } from './helpers.js';

const c = useStack();

describe('CC6.1 logical access security', () => {
  it('an unauthenticated request is refused before Mem0', async () => {
    const before = c.mem0Count();
    const r = await c.req({ path: '/memories?user_id=acme:alice' });
    expect(r.status).toBe(401);
    expect(c.mem0Count()).toBe(before);
  });

  it('Mem0\'s own account routes are denied to everyone', async () => {
    const token = await c.stack.token({ tenant: 'platform', roles: ['platform-admin', 'admin'] });
    const before = c.mem0Count();
    for (const [method, path] of [['POST', '/auth/login'], ['GET', '/auth/me'], ['POST', '/api-keys'], ['DELETE', '/api-keys/k1']] as const) {
      const r = await c.req({ method, path, token, ...(method === 'POST' ? { body: {} } : {}) });
      expect([r.status, r.json().reason], path).toEqual([403, 'mem0_account_route']);
    }
    expect(c.mem0Count()).toBe(before);
  });

  it('routes outside the governed table are denied by default, even for an admin', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['admin'] });
    const before = c.mem0Count();
    for (const path of ['/admin', '/v1/memories', '/memories/x/y/z']) {
      const r = await c.req({ path, token });
      expect(r.status, path).toBe(403);
      expect(r.json(), path).toMatchObject({ error: 'deny', reason: 'unknown_route' });
    }
    expect(c.mem0Count()).toBe(before);
  });

  it('dot-segments cannot smuggle a request to an admin route past the policy', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const before = c.mem0Count();
    // Envoy normalises the path before ext_authz sees it: these are /reset, an admin route.
    expect(await c.rawPath('POST', '/memories/../reset', token, {})).toBe(403);
    expect(await c.rawPath('POST', '/memories/%2e%2e/reset', token, {})).toBe(403);
    expect(await c.rawPath('POST', '//memories/./../reset', token, {})).toBe(403);
    expect(c.mem0Count()).toBe(before);
  });

  it('fails closed: with the decision service down, Envoy answers 503 and Mem0 sees nothing', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    await c.stack.stopAuthz();
    try {
      const before = c.mem0Count();
      const r = await c.req({ path: '/memories?user_id=acme:alice', token });
      expect(r.status).toBe(503);
      expect(c.mem0Count()).toBe(before);
    } finally {
      await c.stack.restartAuthz();
    }
    expect((await c.req({ path: '/memories?user_id=acme:alice', token })).status).toBe(200);
  });
});

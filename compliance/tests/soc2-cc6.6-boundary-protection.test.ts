// SOC 2 CC6.6 protection against threats from outside the boundary: oversized bodies, spoofed
// identity headers, escaped-slash paths and request floods are stopped at the edge.
import { describe, expect, it } from 'vitest';
import { useStack } from './helpers.js';

const c = useStack({ env: { MEM0_GOV_LIMIT_DEFAULT: '2/m' } });

describe('CC6.6 boundary protection', () => {
  it('a body over 1 MiB is refused by Envoy (413) and never reaches Mem0', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'big' });
    const before = c.mem0Count();
    const r = await c.req({ method: 'POST', path: '/memories', token, body: { user_id: 'acme:a', messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024 + 1) }] } });
    expect(r.status).toBe(413);
    expect(c.mem0Count()).toBe(before);
  });

  it('identity headers a caller sends are replaced by the verified identity', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    const r = await c.req({ path: '/memories?user_id=acme:alice', token, headers: { 'x-mem0-gov-subject': 'admin', 'x-mem0-gov-roles': 'admin', 'x-mem0-gov-break-glass': 'true' } });
    expect(r.status).toBe(200);
    const h = c.stack.mem0!.requests.at(-1)!.headers;
    expect([h['x-mem0-gov-subject'], h['x-mem0-gov-roles'], h['x-mem0-gov-break-glass']]).toEqual(['alice', 'agent-reader', undefined]);
  });

  it('escaped slashes in the path are rejected before any decision', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['admin'], sub: 'esc' });
    const before = c.mem0Count();
    const r = await c.req({ path: '/memories%2F..%2Freset', token });
    expect(r.status).toBe(400);
    expect(c.mem0Count()).toBe(before);
  });

  it('a flood from one caller is rate limited with 429 and Retry-After', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'flood' });
    const codes: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 4; i++) {
      const r = await c.req({ path: '/memories?user_id=acme:alice', token });
      codes.push(r.status);
      if (r.status === 429) retryAfter = r.headers['retry-after'];
    }
    expect(codes).toEqual([200, 200, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });
});

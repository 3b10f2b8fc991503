// SOC 2 CC6.7 restrict transmission to authorised parties: the caller's bearer token never
// travels on to Mem0, and Mem0's own API key is injected by authz, so agents never hold it.
import { describe, expect, it } from 'vitest';
import { useStack } from './helpers.js';

const MEM0_KEY = `compliance-${process.pid}-not-a-secret`;
const c = useStack({ mem0ApiKey: MEM0_KEY });

describe('CC6.7 transmission restricted to authorised parties', () => {
  it('Mem0 receives our API key and no Authorization header, whatever the agent sends', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const r = await c.req({ path: '/memories?user_id=acme:alice', token, headers: { 'x-api-key': 'agent-guess' } });
    expect(r.status).toBe(200);
    const h = c.stack.mem0!.requests.at(-1)!.headers;
    expect(h.authorization).toBeUndefined();
    expect(h['x-api-key']).toBe(MEM0_KEY);
  });

  it('the Mem0 key is never handed back to the caller', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const r = await c.req({ path: '/memories?user_id=acme:alice', token });
    expect(JSON.stringify(r.headers) + r.text).not.toContain(MEM0_KEY);
  });

  it('without the injected key Mem0 itself refuses, so going around authz gains nothing', async () => {
    const res = await fetch(`${c.stack.mem0Url}/memories?user_id=acme:alice`);
    expect(res.status).toBe(401);
  });
});

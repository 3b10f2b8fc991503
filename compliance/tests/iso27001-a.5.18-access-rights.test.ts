// ISO/IEC 27001:2022 A.5.18 access rights: removal takes effect on the next request, at every
// granularity (one token, one agent, a whole tenant), and lifting it is explicit and audited.
import { describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { run as revoke, runUnrevoke as unrevoke } from '../../authz/src/cli/revoke.js';
import { useStack } from './helpers.js';

const c = useStack();
const get = (token: string) => c.req({ path: '/memories?user_id=acme:alice', token });

describe('A.5.18 access rights', () => {
  it('revoking one token (jti) refuses only that token', async () => {
    const leaked = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    const fresh = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    // Used before the revocation: verified once and cached by the service. Revocation is still
    // checked on every request.
    expect((await get(leaked)).status).toBe(200);
    expect((await c.cli(revoke, ['--tenant', 'acme', '--jti', decodeJwt(leaked).jti!, '--ttl', '1h'])).code).toBe(0);
    const r = await get(leaked);
    expect(r.status).toBe(401);
    expect(r.json()).toMatchObject({ reason: 'token_revoked' });
    expect((await get(fresh)).status).toBe(200);
  });

  it('revoking an agent refuses all its tokens, also ones issued later; unrevoke restores it', async () => {
    expect((await c.cli(revoke, ['--tenant', 'acme', '--agent', 'bot-7'])).code).toBe(0);
    const later = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], agent: 'bot-7' });
    expect((await get(later)).json()).toMatchObject({ reason: 'agent_revoked' });
    expect((await c.cli(unrevoke, ['--tenant', 'acme', '--agent', 'bot-7'])).code).toBe(0);
    expect((await get(later)).status).toBe(200);
  });

  it('revoking a tenant refuses every caller of it, and each change is an audit row', async () => {
    expect((await c.cli(revoke, ['--tenant', 'acme'])).code).toBe(0);
    expect((await get(await c.stack.token({ tenant: 'acme', roles: ['admin'] }))).json()).toMatchObject({ reason: 'tenant_revoked' });
    const rows = await c.sql<{ route: string }>("SELECT route FROM audit.events WHERE method = 'CLI' ORDER BY seq");
    expect(rows.map((r) => r.route)).toEqual(['cli.revoke', 'cli.revoke', 'cli.unrevoke', 'cli.revoke']);
  });
});

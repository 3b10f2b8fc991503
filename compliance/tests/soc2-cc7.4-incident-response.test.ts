// SOC 2 CC7.4 respond to security incidents: the playbook's containment commands
// (compliance/incident-response.md) take effect on the very next request, and are audited.
import { describe, expect, it } from 'vitest';
import { run as revoke } from '../../authz/src/cli/revoke.js';
import { run as tenant } from '../../authz/src/cli/tenant.js';
import { run as audit } from '../../authz/src/cli/audit.js';
import { repoFile, useStack } from './helpers.js';

const c = useStack();
const get = (token: string) => c.req({ path: '/memories?user_id=acme:alice', token });

describe('CC7.4 incident response', () => {
  it('`mem0-gov revoke --sub` cuts off a compromised identity at once, other users unaffected', async () => {
    const mallory = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'mallory' });
    const alice = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    expect((await get(mallory)).status).toBe(200);
    expect((await c.cli(revoke, ['--tenant', 'acme', '--sub', 'mallory', '--reason', 'INC-9 token leak'])).code).toBe(0);
    const r = await get(mallory);
    expect(r.status).toBe(401);
    expect(r.json()).toMatchObject({ reason: 'subject_revoked' });
    expect((await get(alice)).status).toBe(200);
  });

  it('`mem0-gov tenant suspend` stops the whole tenant; `resume` restores it', async () => {
    const alice = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    expect((await c.cli(tenant, ['suspend', 'acme', '--reason', 'INC-9 containment'])).code).toBe(0);
    const r = await get(alice);
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ reason: 'tenant_suspended' });
    expect((await c.cli(tenant, ['resume', 'acme'])).code).toBe(0);
    expect((await get(alice)).status).toBe(200);
  });

  it('every containment action is in the audit chain with the operator, and the chain verifies', async () => {
    const rows = await c.sql<{ route: string; actor_sub: string; path: string }>("SELECT route, actor_sub, path FROM audit.events WHERE method = 'CLI' ORDER BY ts");
    expect(rows.map((r) => r.route)).toEqual(['cli.revoke', 'cli.tenant.suspend', 'cli.tenant.resume']);
    expect(new Set(rows.map((r) => r.actor_sub))).toEqual(new Set(['compliance-officer']));
    const v = await c.cli(audit, ['verify']);
    expect(v.code, v.err).toBe(0);
  });

  it('the playbook names exactly these commands', () => {
    const playbook = repoFile('compliance/incident-response.md');
    for (const cmd of ['mem0-gov revoke --tenant', 'mem0-gov tenant suspend', 'mem0-gov tenant resume', 'mem0-gov audit verify']) expect(playbook, cmd).toContain(cmd);
  });
});

// ISO/IEC 27001:2022 A.5.15 access control: deny by default, decided per request from the
// caller's role, tenant, the memory's owner and PHI label, and tenant attributes (ABAC: source
// network) held in policy data.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoFile, useStack } from './helpers.js';

const base = JSON.parse(repoFile('policies/data.json')) as { mem0gov: Record<string, unknown> };
const dataFile = join(mkdtempSync(join(tmpdir(), 'a515-')), 'data.json');
// Tenant "branch" may only be used from 10.0.0.0/8; the test client is on 127.0.0.1.
writeFileSync(dataFile, JSON.stringify({ mem0gov: { ...base.mem0gov, tenants: { branch: { allowed_cidrs: ['10.0.0.0/8'] } } } }));
const c = useStack({ env: { MEM0_GOV_POLICY_DATA: dataFile } });

describe('A.5.15 access control', () => {
  it('ownership: a memory id is usable only if its owner is in the caller\'s tenant', async () => {
    const own = c.stack.mem0!.seed({ memory: 'own', user_id: 'acme:alice' });
    const foreign = c.stack.mem0!.seed({ memory: 'foreign', user_id: 'globex:bob' });
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    expect((await c.req({ path: `/memories/${own.id}/history`, token })).status).toBe(200);
    const r = await c.req({ path: `/memories/${foreign.id}/history`, token });
    expect(r.status).toBe(404);
    expect((await c.auditRow(r)).reasons).toContain('memory_cross_tenant');
  });

  it('every entity id in a search must be the caller\'s tenant, filters included', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const before = c.mem0Count();
    const r = await c.req({ method: 'POST', path: '/search', token, body: { query: 'x', user_id: 'acme:alice', filters: { agent_id: { in: ['acme:bot', 'globex:bot'] } } } });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ reason: 'cross_tenant' });
    expect(c.mem0Count()).toBe(before);
  });

  it('tenant attributes apply: a tenant bound to a network is refused from elsewhere', async () => {
    const token = await c.stack.token({ tenant: 'branch', roles: ['admin'] });
    const r = await c.req({ path: '/memories?user_id=branch:x', token });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ reason: 'source_ip_not_allowed' });
    // The source address is the connection's, not a header the caller can write.
    const spoofed = await c.req({ path: '/memories?user_id=branch:x', token, headers: { 'x-forwarded-for': '10.1.2.3', 'x-real-ip': '10.1.2.3' } });
    expect(spoofed.status).toBe(403);
    // …while a tenant without that restriction is served from the same address.
    expect((await c.req({ path: '/memories?user_id=acme:x', token: await c.stack.token({ tenant: 'acme', roles: ['admin'] }) })).status).toBe(200);
  });
});

// HIPAA 164.312(a)(1) access control: only authorised persons or software reach ePHI in Mem0.
// Against the real stack: deny by default, tenant isolation, role needed, PHI permission needed.
import { describe, expect, it } from 'vitest';
import { useStack } from './helpers.js';

const c = useStack();

describe('164.312(a)(1) access control', () => {
  it('an authorised reader of its own tenant gets through', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const before = c.mem0Count();
    const r = await c.req({ path: '/memories?user_id=acme:alice', token });
    expect(r.status).toBe(200);
    expect(c.mem0Count()).toBe(before + 1);
  });

  it('another tenant\'s data is denied and never reaches Mem0', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['admin'] });
    const before = c.mem0Count();
    const r = await c.req({ path: '/memories?user_id=globex:bob', token });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: 'deny', reason: 'cross_tenant' });
    expect(c.mem0Count()).toBe(before);
  });

  it('a caller without a role for the action is denied (deny by default)', async () => {
    const before = c.mem0Count();
    const auditor = await c.stack.token({ tenant: 'acme', roles: ['auditor'] });
    const read = await c.req({ path: '/memories?user_id=acme:alice', token: auditor });
    expect(read.status).toBe(403);
    expect(read.json()).toMatchObject({ reason: 'role_missing' });
    const reader = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const write = await c.req({ method: 'POST', path: '/memories', token: reader, body: { user_id: 'acme:alice', messages: [{ role: 'user', content: 'x' }] } });
    expect(write.status).toBe(403);
    expect(write.json()).toMatchObject({ reason: 'role_missing' });
    expect(c.mem0Count()).toBe(before);
  });

  it('a PHI-labelled memory needs the phi permission', async () => {
    const m = c.stack.mem0!.seed({ memory: 'diagnosis', user_id: 'acme:pat', metadata: { phi: true } });
    const before = c.mem0Count();
    const plain = await c.req({ path: `/memories/${m.id}`, token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] }) });
    expect(plain.status).toBe(403);
    expect(plain.json()).toMatchObject({ reason: 'phi_permission_missing' });
    const phi = await c.req({ path: `/memories/${m.id}`, token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader', 'phi-reader'] }) });
    expect(phi.status).toBe(200);
    // Owner lookups are GETs by authz itself; only the allowed request adds a forwarded GET.
    expect(c.stack.mem0!.requests.slice(before).filter((q) => q.headers['x-mem0-gov-decision-id'] !== undefined)).toHaveLength(1);
  });

  it('PHI never leaves Mem0 for a caller without phi: list and search answers withhold it (response stage)', async () => {
    const m = c.stack.mem0!.seed({ memory: 'pat diagnosis: diabetes', user_id: 'acme:pat2', metadata: { classification: 'phi' } });
    c.stack.mem0!.seed({ memory: 'pat likes tea', user_id: 'acme:pat2' });
    const reader = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const list = await c.req({ path: '/memories?user_id=acme:pat2', token: reader });
    const search = await c.req({ method: 'POST', path: '/search', token: reader, body: { query: 'pat diagnosis tea', filters: { user_id: 'acme:pat2' }, threshold: 0 } });
    for (const r of [list, search]) {
      expect(r.status).toBe(200);
      expect(r.text).toContain('likes tea');
      expect(r.text).not.toContain('diabetes');
      expect(r.text).not.toContain(m.id);
    }
    const phiReader = await c.stack.token({ tenant: 'acme', roles: ['agent-reader', 'phi-reader'] });
    const full = await c.req({ path: '/memories?user_id=acme:pat2', token: phiReader });
    expect(full.text).toContain('diabetes');
  });
});

// ISO/IEC 27001:2022 A.8.3 information access restriction: PHI-classified memories (configured
// labels) need the phi permission for every action; writes carrying PHI are flagged in audit; a
// foreign memory looks exactly like a missing one to the caller.
import { describe, expect, it } from 'vitest';
import { useStack } from './helpers.js';

const c = useStack({ env: { MEM0_GOV_PHI_LABELS: 'phi,restricted-health' } });

describe('A.8.3 information access restriction', () => {
  it('a memory classified with a configured PHI label needs phi, for reads and deletes alike', async () => {
    const m = c.stack.mem0!.seed({ memory: 'hba1c 7.2', user_id: 'acme:pat', metadata: { classification: ['Restricted-Health'] } });
    const admin = await c.stack.token({ tenant: 'acme', roles: ['admin'] }); // admin has phi (policies/data.json)
    const writer = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const read = await c.req({ path: `/memories/${m.id}`, token: writer });
    const put = await c.req({ method: 'PUT', path: `/memories/${m.id}`, token: writer, body: { text: 'x' } });
    expect([read.status, put.status]).toEqual([403, 403]);
    expect(read.json()).toMatchObject({ reason: 'phi_permission_missing' });
    const ok = await c.req({ path: `/memories/${m.id}`, token: admin });
    expect(ok.status).toBe(200);
    expect((await c.auditRow(ok)).phi).toBe(true);
  });

  it('a write whose body carries PHI metadata is flagged phi in the audit row', async () => {
    const writer = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const r = await c.req({ method: 'POST', path: '/memories', token: writer, body: { user_id: 'acme:pat', messages: [{ role: 'user', content: 'x' }], metadata: { phi: true } } });
    expect(r.status).toBe(200);
    expect((await c.auditRow(r)).phi).toBe(true);
  });

  it('another tenant\'s memory (even PHI) and a missing one get the same answer; audit tells them apart', async () => {
    const foreign = c.stack.mem0!.seed({ memory: 'globex phi', user_id: 'globex:x', metadata: { phi: true } });
    const token = await c.stack.token({ tenant: 'acme', roles: ['admin'] });
    const f = await c.req({ path: `/memories/${foreign.id}`, token });
    const missing = await c.req({ path: '/memories/00000000-0000-4000-8000-000000000000', token });
    expect([f.status, missing.status]).toEqual([404, 404]);
    expect(f.json().reason).toBe(missing.json().reason);
    expect((await c.auditRow(f)).reasons).toContain('memory_cross_tenant');
    expect((await c.auditRow(missing)).reasons).toContain('memory_absent');
  });
});

// SOC 2 CC6.3 role-based access, least privilege: each role gets exactly its actions (DESIGN.md
// roles: agent-reader read · agent-writer read, write · admin + delete · auditor no memory content).
import { describe, expect, it } from 'vitest';
import { useStack } from './helpers.js';

const c = useStack();
const WRITE = { user_id: 'acme:alice', messages: [{ role: 'user', content: 'likes tea' }] };

async function statuses(roles: string[]): Promise<[number, number, number]> {
  const m = c.stack.mem0!.seed({ memory: 'm', user_id: 'acme:alice' });
  const token = await c.stack.token({ tenant: 'acme', roles });
  const read = await c.req({ path: '/memories?user_id=acme:alice', token });
  const write = await c.req({ method: 'POST', path: '/memories', token, body: WRITE });
  const del = await c.req({ method: 'DELETE', path: `/memories/${m.id}`, token });
  return [read.status, write.status, del.status];
}

describe('CC6.3 least privilege', () => {
  it('agent-reader reads only; agent-writer reads and writes; admin also deletes', async () => {
    expect(await statuses(['agent-reader'])).toEqual([200, 403, 403]);
    expect(await statuses(['agent-writer'])).toEqual([200, 200, 403]);
    expect(await statuses(['admin'])).toEqual([200, 200, 200]);
  });

  it('auditor and role-less callers get no memory content at all', async () => {
    expect(await statuses(['auditor'])).toEqual([403, 403, 403]);
    expect(await statuses([])).toEqual([403, 403, 403]);
  });

  it('listing every memory (no entity id: every tenant) is the platform\'s, never a tenant admin\'s', async () => {
    for (const roles of [['agent-writer'], ['admin']]) {
      const r = await c.req({ path: '/memories', token: await c.stack.token({ tenant: 'acme', roles }) });
      expect([r.status, r.json().reason], roles.join()).toEqual([403, 'platform_admin_required']);
    }
    const platform = await c.req({ path: '/memories', token: await c.stack.token({ tenant: 'platform', roles: ['platform-admin'] }) });
    expect(platform.status).toBe(200);
  });

  it('global settings and Mem0\'s request log are the platform\'s too', async () => {
    const admin = await c.stack.token({ tenant: 'acme', roles: ['admin'] });
    for (const [method, path] of [['POST', '/configure'], ['GET', '/configure'], ['GET', '/configure/providers'], ['GET', '/requests']] as const) {
      const r = await c.req({ method, path, token: admin, ...(method === 'POST' ? { body: {} } : {}) });
      expect([r.status, r.json().reason], path).toEqual([403, 'platform_admin_required']);
    }
  });
});

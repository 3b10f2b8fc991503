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

  it('listing every memory (no entity id) is admin-only', async () => {
    const writer = await c.req({ path: '/memories', token: await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] }) });
    expect(writer.status).toBe(403);
    expect(writer.json()).toMatchObject({ reason: 'list_requires_admin' });
  });
});

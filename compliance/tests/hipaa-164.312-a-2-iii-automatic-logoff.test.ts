// HIPAA 164.312(a)(2)(iii) automatic logoff: a session (`sid`) idle past the configured timeout,
// or older than its absolute lifetime, is refused even though its token is still valid.
// Timeouts shortened through the real configuration (MEM0_GOV_SESSION_*_SECONDS).
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { useStack } from './helpers.js';

const IDLE_S = 2;
const c = useStack({ env: { MEM0_GOV_SESSION_IDLE_SECONDS: String(IDLE_S), MEM0_GOV_SESSION_MAX_SECONDS: '60' } });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('164.312(a)(2)(iii) automatic logoff', () => {
  it('an active session stays usable; once idle past the timeout it is refused for good', async () => {
    const sid = randomUUID();
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sid, ttl: 300 });
    const get = () => c.req({ path: '/memories?user_id=acme:alice', token });
    expect((await get()).status).toBe(200);
    // Two gaps shorter than the timeout that add up to more: activity keeps the session alive.
    await sleep(IDLE_S * 600);
    expect((await get()).status).toBe(200);
    await sleep(IDLE_S * 600);
    expect((await get()).status).toBe(200);
    await sleep(IDLE_S * 1000 + 300);
    const before = c.mem0Count();
    const idle = await get();
    expect(idle.status).toBe(401);
    expect(idle.json()).toMatchObject({ error: 'unauthenticated', reason: 'session_idle_timeout' });
    expect((await get()).status).toBe(401); // a timed-out session stays logged off
    expect(c.mem0Count()).toBe(before);
    expect((await c.auditRow(idle)).session).toBe(sid);
  });

  it('a session older than its absolute lifetime is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], authTime: now - 120, ttl: 300 });
    const r = await c.req({ path: '/memories?user_id=acme:alice', token });
    expect(r.status).toBe(401);
    expect(r.json()).toMatchObject({ reason: 'session_expired' });
  });
});

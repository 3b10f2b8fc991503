// HIPAA 164.312(a)(2)(i) unique user identification: every decision's audit row names the
// verified subject, the agent (azp), the tenant and the session — taken from the token, never
// from headers the caller could set.
import { describe, expect, it } from 'vitest';
import { useStack } from './helpers.js';

const c = useStack();

describe('164.312(a)(2)(i) unique user identification', () => {
  it('two callers of one tenant are told apart in the audit trail', async () => {
    const a = await c.req({ path: '/memories?user_id=acme:alice', token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice', agent: 'support-bot', sid: 'sess-a' }) });
    const b = await c.req({ path: '/memories?user_id=acme:alice', token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'bob', agent: 'analytics-bot', sid: 'sess-b' }) });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await c.auditRow(a)).toMatchObject({ actor_sub: 'alice', agent: 'support-bot', tenant: 'acme', session: 'sess-a', roles: ['agent-reader'] });
    expect(await c.auditRow(b)).toMatchObject({ actor_sub: 'bob', agent: 'analytics-bot', tenant: 'acme', session: 'sess-b' });
  });

  it('identity headers sent by the caller do not change the recorded identity', async () => {
    const r = await c.req({
      path: '/memories?user_id=acme:alice',
      token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice', agent: 'support-bot' }),
      headers: { 'x-mem0-gov-subject': 'someone-else', 'x-mem0-gov-tenant': 'globex' },
    });
    expect(r.status).toBe(200);
    expect(await c.auditRow(r)).toMatchObject({ actor_sub: 'alice', tenant: 'acme' });
    const forwarded = c.stack.mem0!.requests.at(-1)!;
    expect(forwarded.headers['x-mem0-gov-subject']).toBe('alice');
  });
});

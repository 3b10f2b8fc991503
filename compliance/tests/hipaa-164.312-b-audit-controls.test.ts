// HIPAA 164.312(b) audit controls: every decision — all six values — is an audit row in
// PostgreSQL, durable before the answer, naming actor, tenant and decision, never the token or
// the memory content; the writer role cannot alter it.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { useStack, type AuditRow } from './helpers.js';
import type { Reply } from '../../testing/https.js';

const c = useStack({ env: { MEM0_GOV_LIMIT_DEFAULT: '3/m' } });
const SECRET_CONTENT = 'patient has condition X-42';

function leaks(row: AuditRow, token: string): boolean {
  const text = JSON.stringify(row);
  return text.includes(token) || text.includes(token.split('.')[2]!) || text.includes(SECRET_CONTENT);
}

describe('164.312(b) audit controls', () => {
  const seen: Array<{ r: Reply; token: string; decision: string }> = [];

  it('allow, deny, invalid_request, unauthenticated and rate_limited each leave a row', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'alice', agent: 'bot-1' });
    const body = { user_id: 'acme:alice', messages: [{ role: 'user', content: SECRET_CONTENT }] };
    seen.push({ r: await c.req({ method: 'POST', path: '/memories', token, body }), token, decision: 'allow' });
    seen.push({ r: await c.req({ method: 'POST', path: '/memories', token, body: { ...body, user_id: 'globex:bob' } }), token, decision: 'deny' });
    seen.push({ r: await c.req({ method: 'POST', path: '/memories', token, body: `{"content":"${SECRET_CONTENT}",` }), token, decision: 'invalid_request' });
    const expired = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'alice', iat: Math.floor(Date.now() / 1000) - 3600, ttl: 60 });
    seen.push({ r: await c.req({ method: 'POST', path: '/memories', token: expired, body }), token: expired, decision: 'unauthenticated' });
    // 3/m per subject: the 4th counted request of alice is limited (the 401 above was not charged).
    let limited: Reply | undefined;
    for (let i = 0; i < 5 && !limited; i++) {
      const r = await c.req({ path: '/memories?user_id=acme:alice', token });
      if (r.status === 429) limited = r;
    }
    expect(limited, 'no 429 within 5 requests').toBeDefined();
    seen.push({ r: limited!, token, decision: 'rate_limited' });

    expect(seen.map((s) => s.r.status)).toEqual([200, 403, 400, 401, 429]);
    for (const { r, token: t, decision } of seen) {
      const row = await c.auditRow(r);
      expect(row.decision, decision).toBe(decision);
      expect(row.status, decision).toBe(r.status);
      expect(leaks(row, t), `${decision} row leaks token or content`).toBe(false);
      // Every row whose token verifies names the caller — malformed input included (the token
      // is verified for attribution after parsing fails); an expired token names no one.
      if (['allow', 'deny', 'invalid_request', 'rate_limited'].includes(decision)) expect(row, decision).toMatchObject({ actor_sub: 'alice', tenant: 'acme', agent: 'bot-1' });
      else expect(row.actor_sub, decision).toBeNull();
    }
    const allowRow = await c.auditRow(seen[0]!.r);
    // The body is represented by its digest only.
    expect(allowRow.body_digest).toBe(createHash('sha256').update(JSON.stringify({ user_id: 'acme:alice', messages: [{ role: 'user', content: SECRET_CONTENT }] })).digest('hex'));
  });

  it('error (owner lookup impossible, Mem0 down) is audited too, and fails closed', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['admin'], sub: 'root-ops' });
    await c.stack.mem0!.stop();
    const r = await c.req({ path: '/memories/00000000-0000-4000-8000-00000000dead', token });
    expect(r.status).toBe(503);
    expect(await c.auditRow(r)).toMatchObject({ decision: 'error', reasons: ['owner_lookup_failed'], actor_sub: 'root-ops', tenant: 'acme', status: 503 });
  });

  it('the service\'s own database role can only append, not rewrite', async () => {
    const writer = new pg.Client(c.stack.pgWriterUrl);
    await writer.connect();
    try {
      await expect(writer.query("UPDATE audit.events SET decision = 'allow' WHERE decision = 'deny'")).rejects.toThrow();
      await expect(writer.query('DELETE FROM audit.events')).rejects.toThrow();
    } finally {
      await writer.end();
    }
    const denies = await c.sql("SELECT 1 FROM audit.events WHERE decision = 'deny'");
    expect(denies.length).toBeGreaterThan(0);
  });
});

// SOC 2 CC7.5 recover from incidents: when PostgreSQL goes away, decisions stay audited (local
// fsync'd spool, visible as a metric); when it returns the spool replays exactly once and
// `mem0-gov audit verify` proves the chain intact.
import { describe, expect, it } from 'vitest';
import { run as audit } from '../../authz/src/cli/audit.js';
import { waitFor } from '../../testing/tools.js';
import { decisionId, sample, useStack } from './helpers.js';

const c = useStack({ env: { MEM0_GOV_AUDIT_RECONNECT_MS: '100' } });

describe('CC7.5 recovery', () => {
  it('decisions made while PostgreSQL is down are spooled, replayed once, and the chain verifies', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    const get = () => c.req({ path: '/memories?user_id=acme:alice', token });
    expect((await get()).status).toBe(200);

    await c.stack.pg.kill();
    const during: string[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = await get();
        expect(r.status).toBe(200); // durable in the spool before the answer
        during.push(decisionId(r));
      }
      expect(sample(await c.metrics(), 'mem0gov_audit_spool_depth')).toBeGreaterThan(0);
    } finally {
      await c.stack.pg.restart();
    }

    await waitFor('spool replayed', async () => sample(await c.metrics(), 'mem0gov_audit_spool_depth') === 0, 15_000, 100);
    const rows = await c.sql<{ event_id: string }>('SELECT event_id FROM audit.events WHERE event_id = ANY($1)', [during]);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...during].sort());
    const v = await c.cli(audit, ['verify']);
    expect(v.code, v.err).toBe(0);
  });
});

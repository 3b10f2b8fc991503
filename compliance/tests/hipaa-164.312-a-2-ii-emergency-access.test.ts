// HIPAA 164.312(a)(2)(ii) emergency access procedure: break-glass. The most destructive emergency
// action (Mem0 reset, which wipes every tenant) is the platform's: refused to any tenant admin,
// refused to a platform admin without a grant, allowed under a justified, time-limited grant made
// with `mem0-gov breakglass grant`, flagged in the audit row and counted for alerting.
import { describe, expect, it } from 'vitest';
import { run as breakglass } from '../../authz/src/cli/breakglass.js';
import { sample, useStack } from './helpers.js';

const c = useStack();

describe('164.312(a)(2)(ii) emergency access', () => {
  it('reset without a grant is refused, even for a platform admin; a tenant admin never resets', async () => {
    const token = await c.stack.token({ tenant: 'platform', roles: ['platform-admin'], sub: 'oncall' });
    const r = await c.req({ method: 'POST', path: '/reset', token, body: {} });
    expect(r.status, r.text).toBe(403);
    expect(r.json()).toMatchObject({ reason: 'break_glass_required' });
    const tenantAdmin = await c.stack.token({ tenant: 'acme', roles: ['admin'], sub: 'boss' });
    const t = await c.req({ method: 'POST', path: '/reset', token: tenantAdmin, body: {} });
    expect([t.status, t.json().reason]).toEqual([403, 'platform_admin_required']);
  });

  it('a grant needs a justification; under a grant the action passes, flagged and counted', async () => {
    const noWhy = await c.cli(breakglass, ['grant', '--tenant', 'platform', '--sub', 'oncall', '--role', 'admin', '--ttl', '10m']);
    expect(noWhy.code).toBe(2);
    const granted = await c.cli(breakglass, ['grant', '--tenant', 'platform', '--sub', 'oncall', '--role', 'admin', '--ttl', '10m', '--justification', 'INC-1234 corrupted store']);
    expect(granted.code, granted.err).toBe(0);

    const flaggedBefore = sample(await c.metrics(), 'mem0gov_break_glass_requests_total');
    const token = await c.stack.token({ tenant: 'platform', roles: ['platform-admin'], sub: 'oncall' });
    const r = await c.req({ method: 'POST', path: '/reset', token, body: {} });
    expect(r.status, r.text).toBe(200);
    expect(await c.auditRow(r)).toMatchObject({ decision: 'allow', break_glass: true, actor_sub: 'oncall', route: 'reset' });
    expect(sample(await c.metrics(), 'mem0gov_break_glass_requests_total')).toBeGreaterThan(flaggedBefore);
  });

  it('the grant itself is an audit row and is listed for review', async () => {
    const rows = await c.sql<{ actor_sub: string; reasons: string[] }>("SELECT actor_sub, reasons FROM audit.events WHERE route = 'cli.breakglass.grant'");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.actor_sub).toBe('compliance-officer');
    expect(rows[0]!.reasons).toContain('detail:justification=INC-1234 corrupted store');
    const review = await c.cli(breakglass, ['review', '--tenant', 'platform']);
    expect(review.code).toBe(0);
    expect(review.out).toMatch(/sub=oncall.*role=admin.*by=compliance-officer/);
  });
});

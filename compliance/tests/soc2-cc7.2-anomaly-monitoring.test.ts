// SOC 2 CC7.2 monitor for anomalies indicative of malicious acts: the signals the alert rules
// watch (cross-tenant attempts, revoked-credential use, denials by reason) move on the running
// service, and every metric an alert rule names is one the service actually exposes.
import { describe, expect, it } from 'vitest';
import { run as revoke } from '../../authz/src/cli/revoke.js';
import { repoFile, sample, useStack } from './helpers.js';

const c = useStack();

describe('CC7.2 anomaly monitoring', () => {
  it('a cross-tenant attempt moves the cross-tenant and denial counters', async () => {
    const m0 = await c.metrics();
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    expect((await c.req({ method: 'POST', path: '/search', token, body: { query: 'x', user_id: 'globex:bob' } })).status).toBe(403);
    const m1 = await c.metrics();
    expect(sample(m1, 'mem0gov_cross_tenant_attempts_total', { tenant: 'acme' })).toBe(sample(m0, 'mem0gov_cross_tenant_attempts_total', { tenant: 'acme' }) + 1);
    expect(sample(m1, 'mem0gov_decisions_total', { decision: 'deny', reason: 'cross_tenant' })).toBe(sample(m0, 'mem0gov_decisions_total', { decision: 'deny', reason: 'cross_tenant' }) + 1);
  });

  it('use of a revoked credential moves its counter', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'leaked' });
    expect((await c.cli(revoke, ['--tenant', 'acme', '--sub', 'leaked', '--reason', 'credential leak'])).code).toBe(0);
    const before = sample(await c.metrics(), 'mem0gov_revoked_credential_use_total');
    expect((await c.req({ path: '/memories?user_id=acme:alice', token })).status).toBe(401);
    expect(sample(await c.metrics(), 'mem0gov_revoked_credential_use_total')).toBe(before + 1);
  });

  it('every mem0gov_* metric the alert rules use is exposed by the service', async () => {
    const used = new Set([...repoFile('docker/prometheus/alerts.yaml').matchAll(/\b(mem0gov_[a-z_]+?)(?:_bucket|_sum|_count)?\b/g)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThanOrEqual(6);
    const exposed = await c.metrics();
    for (const name of used) expect(exposed, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  });
});

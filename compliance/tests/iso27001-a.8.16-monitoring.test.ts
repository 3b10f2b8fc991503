// ISO/IEC 27001:2022 A.8.16 monitoring activities: the running service exposes what the
// dashboard and alerts watch — decisions by value and reason, latency per stage, dependency
// health, audit queue/spool depth, the policy revision — and readiness names failing parts.
import { describe, expect, it } from 'vitest';
import { sample, useStack } from './helpers.js';

const c = useStack();

describe('A.8.16 monitoring', () => {
  it('every decision is counted by value and reason', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const m0 = await c.metrics();
    await c.req({ path: '/memories?user_id=acme:a', token });
    await c.req({ path: '/memories?user_id=acme:a' });
    const m1 = await c.metrics();
    const delta = (labels: Record<string, string>): number => sample(m1, 'mem0gov_decisions_total', labels) - sample(m0, 'mem0gov_decisions_total', labels);
    expect(delta({ decision: 'allow' })).toBe(1);
    expect(delta({ decision: 'unauthenticated', reason: 'token_missing' })).toBe(1);
  });

  it('latency per stage, dependency health, audit depth and policy revision are exposed', async () => {
    await c.req({ path: '/memories?user_id=acme:a', token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] }) });
    await fetch(`http://127.0.0.1:${c.stack.authz.httpPort}/readyz`); // refreshes dependency gauges
    const m = await c.metrics();
    expect(sample(m, 'mem0gov_check_duration_seconds_count')).toBeGreaterThan(0);
    expect(m).toMatch(/^mem0gov_check_duration_seconds_bucket\{[^}]*stage="[a-z_]+"/m);
    expect(sample(m, 'mem0gov_dependency_up', { dependency: 'redis' })).toBe(1);
    expect(sample(m, 'mem0gov_dependency_up', { dependency: 'postgres' })).toBe(1);
    expect(m).toMatch(/^mem0gov_audit_queue_depth \d+/m);
    expect(m).toMatch(/^mem0gov_audit_spool_depth \d+/m);
    expect(m).toMatch(/^mem0gov_policy_revision_info\{revision="[0-9a-f]+"\} 1/m);
  });

  it('readiness turns false and names the dependency when Redis is gone', async () => {
    const ready = await fetch(`http://127.0.0.1:${c.stack.authz.httpPort}/readyz`);
    expect(ready.status).toBe(200);
    await c.stack.redis.stop();
    let body: { checks?: Record<string, boolean> } = {};
    let status = 200;
    for (let i = 0; i < 40 && status === 200; i++) {
      const r = await fetch(`http://127.0.0.1:${c.stack.authz.httpPort}/readyz`);
      status = r.status;
      body = (await r.json()) as typeof body;
      if (status === 200) await new Promise((res) => setTimeout(res, 50));
    }
    expect(status).toBe(503);
    expect(body.checks?.redis).toBe(false);
    expect(sample(await c.metrics(), 'mem0gov_dependency_up', { dependency: 'redis' })).toBe(0);
  });
});

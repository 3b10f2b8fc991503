// SOC 2 CC7.1 detect configuration changes: the loaded policy revision is exposed as a metric and
// matches the audit rows, and a limit changed straight in Redis (redis-cli HSET, bypassing the
// CLI) is noticed by the service, obeyed, and written to the audit chain.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { waitFor } from '../../testing/tools.js';
import { useStack } from './helpers.js';

const c = useStack({ env: { MEM0_GOV_LIMITS_REFRESH_MS: '100' } });

describe('CC7.1 configuration change detection', () => {
  it('the policy revision on /metrics is the one in the audit rows', async () => {
    const rev = /mem0gov_policy_revision_info\{revision="([^"]+)"\} 1/.exec(await c.metrics())?.[1];
    expect(rev).toBeDefined();
    const r = await c.req({ path: '/memories?user_id=acme:alice', token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] }) });
    expect((await c.auditRow(r)).policy_revision).toBe(rev);
  });

  it('a limit set directly in Redis is audited as a config change and obeyed', async () => {
    const redis = new Redis(c.stack.redis.url);
    try {
      await redis.hset('mem0gov:limits', 'subject:acme/quick', '1/m');
    } finally {
      redis.disconnect();
    }
    type Row = { reasons: string[]; path: string; policy_revision: string | null };
    let rows: Row[] = [];
    await waitFor('config change audited', async () => {
      rows = await c.sql<Row>("SELECT reasons, path, policy_revision FROM audit.events WHERE route = 'config.redis'");
      return rows.some((r) => r.path === 'mem0gov:limits#subject:acme/quick');
    }, 5_000, 50);
    expect(rows.find((r) => r.path === 'mem0gov:limits#subject:acme/quick')).toMatchObject({ reasons: ['config_changed', 'value=1/m'], policy_revision: expect.any(String) });
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'quick' });
    const codes = [];
    for (let i = 0; i < 2; i++) codes.push((await c.req({ path: '/memories?user_id=acme:alice', token })).status);
    expect(codes).toEqual([200, 429]);
  });
});

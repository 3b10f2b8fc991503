// `mem0-gov tenant suspend <tenant> [--reason …] | resume <tenant> | status <tenant>`:
// incident containment. A suspended tenant gets 403 tenant_suspended on its next request.
import { tenantKeys } from '../redis/keys.js';
import { command, group, UsageError, EXIT_OK } from './args.js';
import { record } from './context.js';
import { withRedis } from './redis-client.js';

function tenantArg(tenant: string): string {
  if (tenant === '' || /\s/.test(tenant)) throw new UsageError(`not a tenant: ${JSON.stringify(tenant)}`);
  return tenant;
}

const suspend = command({
  path: 'tenant suspend',
  usage: ['tenant suspend <tenant> [--reason text]'],
  args: ['tenant'],
  options: { reason: { type: 'string' } },
  async run({ args, values, ctx }) {
    const tenant = tenantArg(args.tenant);
    const reason = values.reason ?? null;
    return withRedis(ctx, async (redis) => {
      await record(ctx, { command: 'tenant.suspend', target: `tenant:${tenant}`, details: { reason } });
      await redis.hset(tenantKeys.suspended(tenant), { by: ctx.actor, at: new Date().toISOString(), reason: reason ?? '' });
      ctx.out(`tenant ${tenant} suspended (403 tenant_suspended from the next request)`);
      return EXIT_OK;
    });
  },
});

const resume = command({
  path: 'tenant resume',
  usage: ['tenant resume <tenant>'],
  args: ['tenant'],
  async run({ args, ctx }) {
    const tenant = tenantArg(args.tenant);
    return withRedis(ctx, async (redis) => {
      await record(ctx, { command: 'tenant.resume', target: `tenant:${tenant}`, details: {} });
      const n = await redis.del(tenantKeys.suspended(tenant));
      ctx.out(n > 0 ? `tenant ${tenant} resumed` : `tenant ${tenant} was not suspended`);
      return EXIT_OK;
    });
  },
});

const status = command({
  path: 'tenant status',
  usage: ['tenant status <tenant>'],
  args: ['tenant'],
  async run({ args, ctx }) {
    const tenant = tenantArg(args.tenant);
    return withRedis(ctx, async (redis) => {
      const s = await redis.hgetall(tenantKeys.suspended(tenant));
      const revoked = await redis.exists(tenantKeys.revoked(tenant, 'tenant'));
      if (Object.keys(s).length === 0) ctx.out(`tenant ${tenant}: active`);
      else ctx.out(`tenant ${tenant}: suspended since ${s.at ?? '?'} by ${s.by ?? '?'}${s.reason ? ` (reason: ${s.reason})` : ''}`);
      if (revoked) ctx.out(`tenant ${tenant}: all credentials revoked (mem0-gov unrevoke --tenant ${tenant})`);
      return EXIT_OK;
    });
  },
});

export const tenant = group('tenant', [suspend, resume, status]);
export const run = tenant.run;

// `mem0-gov tenant suspend <tenant> [--reason …] | resume <tenant> | status <tenant>`:
// incident containment. A suspended tenant gets 403 tenant_suspended on its next request.
import type { CliContext } from './context.js';
import { tenantKeys } from '../redis/keys.js';
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, parseOrUsage, recorded, withRedis } from '../redis/cli.js';

const USAGE = `usage: mem0-gov tenant suspend <tenant> [--reason text]
       mem0-gov tenant resume <tenant>
       mem0-gov tenant status <tenant>`;

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const args = argv[0] === 'tenant' ? argv.slice(1) : argv;
  const parsed = parseOrUsage(ctx, { args, options: { reason: { type: 'string' } }, strict: true, allowPositionals: true }, USAGE);
  if (!parsed) return EXIT_USAGE;
  const [sub, tenant, ...extra] = parsed.positionals;
  const reason = parsed.values.reason ?? null;
  if (!tenant || extra.length > 0 || /\s/.test(tenant) || (sub !== 'suspend' && reason !== null)) {
    ctx.err(`usage error: expected a subcommand and one tenant\n${USAGE}`);
    return EXIT_USAGE;
  }
  const key = tenantKeys.suspended(tenant);
  switch (sub) {
    case 'suspend':
      return withRedis(ctx, async (redis) => {
        if (!(await recorded(ctx, { command: 'tenant.suspend', target: `tenant:${tenant}`, details: { reason } }))) return EXIT_FAIL;
        await redis.hset(key, { by: ctx.actor, at: new Date().toISOString(), reason: reason ?? '' });
        ctx.out(`tenant ${tenant} suspended (403 tenant_suspended from the next request)`);
        return EXIT_OK;
      });
    case 'resume':
      return withRedis(ctx, async (redis) => {
        if (!(await recorded(ctx, { command: 'tenant.resume', target: `tenant:${tenant}`, details: {} }))) return EXIT_FAIL;
        const n = await redis.del(key);
        ctx.out(n > 0 ? `tenant ${tenant} resumed` : `tenant ${tenant} was not suspended`);
        return EXIT_OK;
      });
    case 'status':
      return withRedis(ctx, async (redis) => {
        const s = await redis.hgetall(key);
        const revoked = await redis.exists(tenantKeys.revoked(tenant, 'tenant'));
        if (Object.keys(s).length === 0) ctx.out(`tenant ${tenant}: active`);
        else ctx.out(`tenant ${tenant}: suspended since ${s.at ?? '?'} by ${s.by ?? '?'}${s.reason ? ` (reason: ${s.reason})` : ''}`);
        if (revoked) ctx.out(`tenant ${tenant}: all credentials revoked (mem0-gov unrevoke --tenant ${tenant})`);
        return EXIT_OK;
      });
    default:
      ctx.err(`usage error: unknown subcommand ${JSON.stringify(sub)}\n${USAGE}`);
      return EXIT_USAGE;
  }
}

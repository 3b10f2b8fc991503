// `mem0-gov revoke --tenant T [--jti X | --sub S | --agent A] [--ttl 24h] [--reason …]` and
// `mem0-gov unrevoke --tenant T [--jti X | --sub S | --agent A]`.
// --tenant is required: revocation keys live under the tenant's hash tag so the gate reads
// them in the same single-slot script. --tenant alone revokes the whole tenant.
import type { CliContext } from './context.js';
import { tenantKeys, type RevocationScope } from '../redis/keys.js';
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, parseOrUsage, recorded, withRedis } from '../redis/cli.js';
import { formatDuration, parseDuration } from '../gate/duration.js';

const USAGE = `usage: mem0-gov revoke   --tenant T [--jti X | --sub S | --agent A] [--ttl 24h] [--reason text]
       mem0-gov unrevoke --tenant T [--jti X | --sub S | --agent A]
--tenant alone revokes every credential of the tenant; --ttl defaults to 24h (s|m|h|d)`;

const OPTIONS = {
  tenant: { type: 'string' },
  jti: { type: 'string' },
  sub: { type: 'string' },
  agent: { type: 'string' },
  ttl: { type: 'string' },
  reason: { type: 'string' },
} as const;

interface Target {
  tenant: string;
  scope: RevocationScope;
  id: string;
  key: string;
  label: string;
}

function target(argv: string[], ctx: CliContext, name: string): { t: Target; values: Record<string, string | undefined> } | number {
  const args = argv[0] === name ? argv.slice(1) : argv;
  const parsed = parseOrUsage(ctx, { args, options: OPTIONS, strict: true, allowPositionals: false }, USAGE);
  if (!parsed) return EXIT_USAGE;
  const v = parsed.values;
  if (!v.tenant) {
    ctx.err(`usage error: --tenant is required\n${USAGE}`);
    return EXIT_USAGE;
  }
  const given = (['jti', 'sub', 'agent'] as const).filter((k) => v[k] !== undefined);
  if (given.length > 1 || given.some((k) => v[k] === '')) {
    ctx.err(`usage error: give at most one of --jti, --sub, --agent, non-empty\n${USAGE}`);
    return EXIT_USAGE;
  }
  const scope: RevocationScope = given[0] ?? 'tenant';
  const id = scope === 'tenant' ? v.tenant : (v[scope] as string);
  const label = scope === 'tenant' ? `tenant:${v.tenant}` : `${scope}:${id}@${v.tenant}`;
  return { t: { tenant: v.tenant, scope, id, key: tenantKeys.revoked(v.tenant, scope, id), label }, values: v };
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const r = target(argv, ctx, 'revoke');
  if (typeof r === 'number') return r;
  const { t, values } = r;
  let ttlMs: number;
  try {
    ttlMs = parseDuration(values.ttl ?? '24h');
  } catch (err) {
    ctx.err(`usage error: --ttl: ${(err as Error).message}`);
    return EXIT_USAGE;
  }
  const reason = values.reason ?? null;
  return withRedis(ctx, async (redis) => {
    const details = { tenant: t.tenant, scope: t.scope, ttl_seconds: Math.round(ttlMs / 1000), reason };
    if (!(await recorded(ctx, { command: 'revoke', target: t.label, details }))) return EXIT_FAIL;
    await redis.set(t.key, JSON.stringify({ by: ctx.actor, at: Date.now(), reason }), 'PX', ttlMs);
    ctx.out(`revoked ${t.label} for ${formatDuration(ttlMs)} (effective on the next request)`);
    return EXIT_OK;
  });
}

export async function runUnrevoke(argv: string[], ctx: CliContext): Promise<number> {
  const r = target(argv, ctx, 'unrevoke');
  if (typeof r === 'number') return r;
  const { t, values } = r;
  if (values.ttl !== undefined || values.reason !== undefined) {
    ctx.err(`usage error: unrevoke takes no --ttl/--reason\n${USAGE}`);
    return EXIT_USAGE;
  }
  return withRedis(ctx, async (redis) => {
    if (!(await recorded(ctx, { command: 'unrevoke', target: t.label, details: { tenant: t.tenant, scope: t.scope } }))) return EXIT_FAIL;
    const n = await redis.del(t.key);
    ctx.out(n > 0 ? `unrevoked ${t.label}` : `${t.label} was not revoked`);
    return EXIT_OK;
  });
}

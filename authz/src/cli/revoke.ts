// `mem0-gov revoke --tenant T [--jti X | --sub S | --agent A] [--ttl 24h] [--reason …]` and
// `mem0-gov unrevoke --tenant T [--jti X | --sub S | --agent A]`.
// --tenant is required: revocation keys live under the tenant's hash tag so the gate reads
// them in the same single-slot script. --tenant alone revokes the whole tenant.
import { tenantKeys, type RevocationScope } from '../redis/keys.js';
import { formatDuration } from '../gate/duration.js';
import { command, durationArg, UsageError, EXIT_OK } from './args.js';
import { record } from './context.js';
import { withRedis } from './redis-client.js';

const TARGET_OPTIONS = {
  tenant: { type: 'string' },
  jti: { type: 'string' },
  sub: { type: 'string' },
  agent: { type: 'string' },
} as const;

const NOTES = ['--tenant alone revokes every credential of the tenant; --ttl defaults to 24h (s|m|h|d)'];

interface Target {
  tenant: string;
  scope: RevocationScope;
  key: string;
  label: string;
}

function target(v: { tenant?: string | undefined; jti?: string | undefined; sub?: string | undefined; agent?: string | undefined }): Target {
  if (!v.tenant) throw new UsageError('--tenant is required');
  const given = (['jti', 'sub', 'agent'] as const).filter((k) => v[k] !== undefined);
  if (given.length > 1 || given.some((k) => v[k] === '')) throw new UsageError('give at most one of --jti, --sub, --agent, non-empty');
  const scope: RevocationScope = given[0] ?? 'tenant';
  const id = scope === 'tenant' ? v.tenant : (v[scope] as string);
  const label = scope === 'tenant' ? `tenant:${v.tenant}` : `${scope}:${id}@${v.tenant}`;
  return { tenant: v.tenant, scope, key: tenantKeys.revoked(v.tenant, scope, id), label };
}

export const revoke = command({
  path: 'revoke',
  usage: ['revoke --tenant T [--jti X | --sub S | --agent A] [--ttl 24h] [--reason text]'],
  notes: NOTES,
  options: { ...TARGET_OPTIONS, ttl: { type: 'string' }, reason: { type: 'string' } },
  async run({ values, ctx }) {
    const t = target(values);
    const ttlMs = durationArg('--ttl', values.ttl ?? '24h');
    const reason = values.reason ?? null;
    return withRedis(ctx, async (redis) => {
      const details = { tenant: t.tenant, scope: t.scope, ttl_seconds: Math.round(ttlMs / 1000), reason };
      await record(ctx, { command: 'revoke', target: t.label, details });
      await redis.set(t.key, JSON.stringify({ by: ctx.actor, at: Date.now(), reason }), 'PX', ttlMs);
      ctx.out(`revoked ${t.label} for ${formatDuration(ttlMs)} (effective on the next request)`);
      return EXIT_OK;
    });
  },
});

export const unrevoke = command({
  path: 'unrevoke',
  usage: ['unrevoke --tenant T [--jti X | --sub S | --agent A]'],
  notes: NOTES,
  options: TARGET_OPTIONS,
  async run({ values, ctx }) {
    const t = target(values);
    return withRedis(ctx, async (redis) => {
      await record(ctx, { command: 'unrevoke', target: t.label, details: { tenant: t.tenant, scope: t.scope } });
      const n = await redis.del(t.key);
      ctx.out(n > 0 ? `unrevoked ${t.label}` : `${t.label} was not revoked`);
      return EXIT_OK;
    });
  },
});

export const run = revoke.run;
export const runUnrevoke = unrevoke.run;

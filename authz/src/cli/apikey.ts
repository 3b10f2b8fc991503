// `mem0-gov apikey create|list|revoke`: static API keys for agents that cannot use OAuth
// (docs/api-keys.md). The key is printed once, on stdout, and never stored: Redis holds its
// digest. Every action is recorded in the audit chain before it takes effect.
import { readFile } from 'node:fs/promises';
import { formatDuration } from '../gate/duration.js';
import { loadPolicyConfig } from '../policy/config.js';
import { TENANT_PATTERN } from '../identity/claims.js';
import { loadApiKeyMaxTtlMs } from '../identity/apikey-config.js';
import { generateApiKey, isKeyId } from '../identity/apikey-format.js';
import { fetchRecord, keyState, listRecords, revokeRecord, storeRecord, LIST_RETENTION_MS, type ApiKeyRecord } from '../identity/apikey-store.js';
import { command, durationArg, group, UsageError, EXIT_FAIL, EXIT_OK } from './args.js';
import type { CliContext } from './context.js';
import { record } from './context.js';
import { withRedis } from './redis-client.js';

/** Roles acting on every tenant: too much for a credential that cannot be re-issued per session. */
const PLATFORM_ROLES = new Set(['platform-admin', 'platform-auditor']);
/** Subjects and agents end up in Redis key names (escaped) and audit rows: printable, bounded. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/;

/** The roles the policy data defines (MEM0_GOV_POLICY_DATA): a key for any other role could do nothing. */
async function policyRoles(ctx: CliContext): Promise<Set<string>> {
  const path = loadPolicyConfig(ctx.env).dataPath;
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the policy data ${path}: ${(err as Error).message}`);
  }
  const roles = (data as { mem0gov?: { roles?: unknown } } | null)?.mem0gov?.roles;
  if (roles === null || typeof roles !== 'object') throw new Error(`${path}: no mem0gov.roles`);
  return new Set(Object.keys(roles));
}

const create = command({
  path: 'apikey create',
  usage: ['apikey create --tenant T --sub S --role R [--role R]... [--agent A] --ttl 90d'],
  notes: [
    '--role: roles of the policy data (not platform-admin or platform-auditor); --ttl at most MEM0_GOV_APIKEY_MAX_TTL',
    'prints the key once on stdout: store it now, it cannot be shown again',
  ],
  options: {
    tenant: { type: 'string' },
    sub: { type: 'string' },
    role: { type: 'string', multiple: true },
    agent: { type: 'string' },
    ttl: { type: 'string' },
  },
  async run({ values: v, ctx }) {
    if (!v.tenant || !TENANT_PATTERN.test(v.tenant)) throw new UsageError('--tenant is required (letters, digits, . _ -)');
    if (!v.sub || !NAME_PATTERN.test(v.sub)) throw new UsageError('--sub is required (letters, digits, . _ @ : -; at most 128)');
    if (v.agent !== undefined && !NAME_PATTERN.test(v.agent)) throw new UsageError('--agent: letters, digits, . _ @ : -; at most 128');
    const roles = [...new Set(v.role ?? [])].sort();
    if (roles.length === 0) throw new UsageError('--role is required (repeat for several)');
    if (!v.ttl) throw new UsageError('--ttl is required (e.g. 90d)');
    const ttlMs = durationArg('--ttl', v.ttl);
    const maxMs = loadApiKeyMaxTtlMs(ctx.env);
    if (ttlMs > maxMs) throw new UsageError(`--ttl ${v.ttl} exceeds the maximum ${formatDuration(maxMs)} (MEM0_GOV_APIKEY_MAX_TTL)`);
    const platform = roles.filter((r) => PLATFORM_ROLES.has(r));
    if (platform.length > 0) throw new UsageError(`--role ${platform.join(', ')} acts on every tenant: use a JWT from your IdP, not a static key`);
    const known = await policyRoles(ctx);
    const unknown = roles.filter((r) => !known.has(r));
    if (unknown.length > 0) throw new UsageError(`--role ${unknown.join(', ')}: not a role of the policy data (${[...known].sort().join(', ')})`);

    const key = generateApiKey();
    const createdAt = Date.now();
    const rec: ApiKeyRecord = {
      keyId: key.keyId, tenant: v.tenant, subject: v.sub, roles, digest: key.digest,
      createdAt, expiresAt: createdAt + ttlMs, createdBy: ctx.actor,
      ...(v.agent !== undefined ? { agent: v.agent } : {}),
    };
    return withRedis(ctx, async (redis) => {
      await record(ctx, {
        command: 'apikey.create',
        target: `apikey:${rec.keyId}@${rec.tenant}`,
        details: { key_id: rec.keyId, tenant: rec.tenant, sub: rec.subject, roles: roles.join(','), agent: rec.agent ?? null, ttl_seconds: ttlMs / 1000, expires_at: new Date(rec.expiresAt).toISOString() },
      });
      await storeRecord(redis, rec);
      ctx.out(key.text);
      ctx.err(`created API key ${rec.keyId} for ${rec.tenant}/${rec.subject} (${roles.join(',')}), expires ${new Date(rec.expiresAt).toISOString()}; the key above is shown only once`);
      return EXIT_OK;
    });
  },
});

const list = command({
  path: 'apikey list',
  usage: ['apikey list [--tenant T]'],
  notes: [`active keys, and keys expired or revoked within ${formatDuration(LIST_RETENTION_MS)}; never the key or its digest`],
  options: { tenant: { type: 'string' } },
  async run({ values: v, ctx }) {
    return withRedis(ctx, async (redis) => {
      await record(ctx, { command: 'apikey.list', target: v.tenant ? `tenant:${v.tenant}` : 'all', details: {} });
      const now = Date.now();
      const keys = await listRecords(redis, now, v.tenant);
      ctx.out(`${keys.length} key(s)`);
      for (const k of keys) {
        ctx.out([
          keyState(k, now).padEnd(7), k.keyId, `tenant=${k.tenant}`, `sub=${k.subject}`, `roles=${k.roles.join(',')}`,
          `agent=${k.agent ?? '-'}`, `by=${k.createdBy}`, `created=${new Date(k.createdAt).toISOString()}`,
          `expires=${new Date(k.expiresAt).toISOString()}`,
          ...(k.revokedAt !== undefined ? [`revoked=${new Date(k.revokedAt).toISOString()}`, `revoked_by=${k.revokedBy ?? ''}`] : []),
        ].join('\t'));
      }
      return EXIT_OK;
    });
  },
});

const revoke = command({
  path: 'apikey revoke',
  usage: ['apikey revoke <keyid> [--reason text]'],
  notes: ['permanent, and effective on the next request on every replica'],
  options: { reason: { type: 'string' } },
  args: ['keyid'],
  async run({ values: v, args, ctx }) {
    if (!isKeyId(args.keyid)) throw new UsageError(`<keyid>: 16 hex digits (as apikey list shows), got ${JSON.stringify(args.keyid)}`);
    return withRedis(ctx, async (redis) => {
      const rec = await fetchRecord(redis, args.keyid);
      if (rec === undefined) {
        ctx.err(`mem0-gov apikey revoke: no API key ${args.keyid}`);
        return EXIT_FAIL;
      }
      const reason = v.reason ?? null;
      await record(ctx, { command: 'apikey.revoke', target: `apikey:${rec.keyId}@${rec.tenant}`, details: { key_id: rec.keyId, tenant: rec.tenant, sub: rec.subject, reason } });
      await revokeRecord(redis, rec, ctx.actor, reason, Date.now());
      ctx.out(`revoked API key ${rec.keyId} of ${rec.tenant}/${rec.subject} (effective on the next request)`);
      return EXIT_OK;
    });
  },
});

export const apikey = group('apikey', [create, list, revoke]);
export const run = apikey.run;

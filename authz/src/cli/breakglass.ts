// `mem0-gov breakglass grant --tenant T --sub S --role admin --ttl 30m --justification "…"`
// and `mem0-gov breakglass review [--tenant T]` (active and recently expired grants).
import { randomUUID } from 'node:crypto';
import type { CliContext } from './context.js';
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, parseOrUsage, recorded, withRedis } from '../redis/cli.js';
import { formatDuration, parseDuration } from '../gate/duration.js';
import { loadGateConfig } from '../gate/config.js';
import { listGrants, storeGrant, REVIEW_RETENTION_MS } from '../gate/breakglass-store.js';
import type { BreakGlassGrant } from '../types.js';

const PLATFORM_ROLES = new Set(['platform-admin', 'platform-auditor']);

const USAGE = `usage: mem0-gov breakglass grant --tenant T --sub S --role R --ttl 30m --justification "why (≥ 10 chars)"
       mem0-gov breakglass review [--tenant T]`;

export const MIN_JUSTIFICATION = 10;

const OPTIONS = {
  tenant: { type: 'string' },
  sub: { type: 'string' },
  role: { type: 'string' },
  ttl: { type: 'string' },
  justification: { type: 'string' },
} as const;

function usage(ctx: CliContext, msg: string): number {
  ctx.err(`usage error: ${msg}\n${USAGE}`);
  return EXIT_USAGE;
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const args = argv[0] === 'breakglass' ? argv.slice(1) : argv;
  const parsed = parseOrUsage(ctx, { args, options: OPTIONS, strict: true, allowPositionals: true }, USAGE);
  if (!parsed) return EXIT_USAGE;
  const [sub, ...extra] = parsed.positionals;
  const v = parsed.values;
  if (extra.length > 0) return usage(ctx, `unexpected argument ${JSON.stringify(extra[0])}`);
  if (sub === 'review') {
    if (v.sub || v.role || v.ttl || v.justification) return usage(ctx, 'review takes only --tenant');
    return withRedis(ctx, async (redis) => {
      const now = Date.now();
      // Reviewing is itself a control worth evidencing.
      if (!(await recorded(ctx, { command: 'breakglass.review', target: v.tenant ? `tenant:${v.tenant}` : 'all', details: {} }))) return EXIT_FAIL;
      const grants = await listGrants(redis, now, v.tenant);
      ctx.out(`${grants.length} grant(s) active or expired within ${formatDuration(REVIEW_RETENTION_MS)}`);
      for (const g of grants) {
        ctx.out([
          g.active ? 'ACTIVE ' : 'expired',
          g.grantId, `tenant=${g.tenant}`, `sub=${g.subject}`, `role=${g.role}`, `by=${g.grantedBy}`,
          `granted=${new Date(g.grantedAt).toISOString()}`, `expires=${new Date(g.expiresAt).toISOString()}`,
          `justification=${JSON.stringify(g.justification)}`,
        ].join('\t'));
      }
      return EXIT_OK;
    });
  }
  if (sub !== 'grant') return usage(ctx, sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
  if (!v.tenant || !v.sub || !v.role || !v.ttl) return usage(ctx, 'grant needs --tenant, --sub, --role and --ttl');
  // Break-glass elevates within one tenant; the policy ignores a platform role in a grant
  // anyway (it never confers platform_admin), so refuse to record a grant that would mislead.
  if (PLATFORM_ROLES.has(v.role)) return usage(ctx, `--role ${v.role} acts on every tenant and cannot be granted by break-glass`);
  const justification = (v.justification ?? '').trim();
  if (justification.length < MIN_JUSTIFICATION) return usage(ctx, `--justification is required (at least ${MIN_JUSTIFICATION} characters)`);
  let ttlMs: number;
  let maxMs: number;
  try {
    maxMs = loadGateConfig(ctx.env).breakGlassMaxTtlMs;
    ttlMs = parseDuration(v.ttl);
  } catch (err) {
    return usage(ctx, (err as Error).message);
  }
  if (ttlMs > maxMs) return usage(ctx, `--ttl ${v.ttl} exceeds the maximum ${formatDuration(maxMs)} (MEM0_GOV_BREAKGLASS_MAX_TTL)`);
  const grantedAt = Date.now();
  const grant: BreakGlassGrant = {
    grantId: randomUUID(),
    subject: v.sub,
    tenant: v.tenant,
    role: v.role,
    justification,
    grantedBy: ctx.actor,
    grantedAt,
    expiresAt: grantedAt + ttlMs,
  };
  return withRedis(ctx, async (redis) => {
    const details = { grant_id: grant.grantId, role: grant.role, ttl_seconds: ttlMs / 1000, justification, expires_at: new Date(grant.expiresAt).toISOString() };
    if (!(await recorded(ctx, { command: 'breakglass.grant', target: `subject:${grant.tenant}/${grant.subject}`, details }))) return EXIT_FAIL;
    await storeGrant(redis, grant);
    ctx.out(`granted ${grant.role} to ${grant.tenant}/${grant.subject} until ${new Date(grant.expiresAt).toISOString()} (grant ${grant.grantId})`);
    return EXIT_OK;
  });
}

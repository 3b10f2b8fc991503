// `mem0-gov breakglass grant --tenant T --sub S --role admin --ttl 30m --justification "…"`
// and `mem0-gov breakglass review [--tenant T]` (active and recently expired grants).
import { randomUUID } from 'node:crypto';
import { formatDuration } from '../gate/duration.js';
import { loadGateConfig } from '../gate/config.js';
import { listGrants, storeGrant, REVIEW_RETENTION_MS } from '../gate/breakglass-store.js';
import type { BreakGlassGrant } from '../types.js';
import { command, durationArg, group, UsageError, EXIT_OK } from './args.js';
import { record } from './context.js';
import { withRedis } from './redis-client.js';

const PLATFORM_ROLES = new Set(['platform-admin', 'platform-auditor']);

export const MIN_JUSTIFICATION = 10;

const grant = command({
  path: 'breakglass grant',
  usage: [`breakglass grant --tenant T --sub S --role R --ttl 30m --justification "why (≥ ${MIN_JUSTIFICATION} chars)"`],
  notes: ['--ttl at most MEM0_GOV_BREAKGLASS_MAX_TTL; --role a tenant role (never platform-admin or platform-auditor)'],
  options: {
    tenant: { type: 'string' },
    sub: { type: 'string' },
    role: { type: 'string' },
    ttl: { type: 'string' },
    justification: { type: 'string' },
  },
  async run({ values: v, ctx }) {
    if (!v.tenant || !v.sub || !v.role || !v.ttl) throw new UsageError('grant needs --tenant, --sub, --role and --ttl');
    // Break-glass elevates within one tenant; the policy ignores a platform role in a grant
    // anyway (it never confers platform_admin), so refuse to record a grant that would mislead.
    if (PLATFORM_ROLES.has(v.role)) throw new UsageError(`--role ${v.role} acts on every tenant and cannot be granted by break-glass`);
    const justification = (v.justification ?? '').trim();
    if (justification.length < MIN_JUSTIFICATION) throw new UsageError(`--justification is required (at least ${MIN_JUSTIFICATION} characters)`);
    const maxMs = loadGateConfig(ctx.env).breakGlassMaxTtlMs;
    const ttlMs = durationArg('--ttl', v.ttl);
    if (ttlMs > maxMs) throw new UsageError(`--ttl ${v.ttl} exceeds the maximum ${formatDuration(maxMs)} (MEM0_GOV_BREAKGLASS_MAX_TTL)`);
    const grantedAt = Date.now();
    const g: BreakGlassGrant = {
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
      const details = { grant_id: g.grantId, role: g.role, ttl_seconds: ttlMs / 1000, justification, expires_at: new Date(g.expiresAt).toISOString() };
      await record(ctx, { command: 'breakglass.grant', target: `subject:${g.tenant}/${g.subject}`, details });
      await storeGrant(redis, g);
      ctx.out(`granted ${g.role} to ${g.tenant}/${g.subject} until ${new Date(g.expiresAt).toISOString()} (grant ${g.grantId})`);
      return EXIT_OK;
    });
  },
});

const review = command({
  path: 'breakglass review',
  usage: ['breakglass review [--tenant T]'],
  options: { tenant: { type: 'string' } },
  async run({ values: v, ctx }) {
    return withRedis(ctx, async (redis) => {
      const now = Date.now();
      // Reviewing is itself a control worth evidencing.
      await record(ctx, { command: 'breakglass.review', target: v.tenant ? `tenant:${v.tenant}` : 'all', details: {} });
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
  },
});

export const breakglass = group('breakglass', [grant, review]);
export const run = breakglass.run;

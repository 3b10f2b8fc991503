// Break-glass grants in Redis. The active grant lives under the tenant's hash tag (read by
// the gate script, expires with the grant); a copy and a sorted-set index (score =
// expiresAt) outlive it by REVIEW_RETENTION_MS so `breakglass review` lists recently
// expired grants too.
import type { BreakGlassGrant } from '../types.js';
import type { RedisClient } from '../redis/connect.js';
import { BREAKGLASS_INDEX_KEY, breakGlassRecordKey, tenantKeys } from '../redis/keys.js';

export const REVIEW_RETENTION_MS = 90 * 86_400_000;

export function parseGrant(json: string): BreakGlassGrant | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const g = v as Record<string, unknown>;
  const strs = ['grantId', 'subject', 'tenant', 'role', 'justification', 'grantedBy'] as const;
  if (!strs.every((k) => typeof g[k] === 'string')) return null;
  if (typeof g.grantedAt !== 'number' || typeof g.expiresAt !== 'number') return null;
  return {
    grantId: g.grantId as string,
    subject: g.subject as string,
    tenant: g.tenant as string,
    role: g.role as string,
    justification: g.justification as string,
    grantedBy: g.grantedBy as string,
    grantedAt: g.grantedAt,
    expiresAt: g.expiresAt,
  };
}

/** Review copy first, then the active key: a grant is never usable without its review record. */
export async function storeGrant(redis: RedisClient, grant: BreakGlassGrant): Promise<void> {
  const json = JSON.stringify(grant);
  await redis.set(breakGlassRecordKey(grant.grantId), json, 'PXAT', grant.expiresAt + REVIEW_RETENTION_MS);
  await redis.zadd(BREAKGLASS_INDEX_KEY, grant.expiresAt, grant.grantId);
  await redis.set(tenantKeys.breakGlass(grant.tenant, grant.subject), json, 'PXAT', grant.expiresAt);
}

export interface ReviewedGrant extends BreakGlassGrant {
  active: boolean;
}

/** Grants that are active or expired within the retention window, newest expiry first. */
export async function listGrants(redis: RedisClient, nowMs: number, tenant?: string): Promise<ReviewedGrant[]> {
  const since = nowMs - REVIEW_RETENTION_MS;
  await redis.zremrangebyscore(BREAKGLASS_INDEX_KEY, '-inf', `(${since}`);
  const ids = await redis.zrevrangebyscore(BREAKGLASS_INDEX_KEY, '+inf', since);
  const out: ReviewedGrant[] = [];
  for (const id of ids) {
    const raw = await redis.get(breakGlassRecordKey(id));
    const g = raw === null ? null : parseGrant(raw);
    if (!g || (tenant !== undefined && g.tenant !== tenant)) continue;
    out.push({ ...g, active: g.expiresAt > nowMs });
  }
  return out;
}

// Redis key layout (see gate/README.md). Every per-tenant key carries the hash tag
// `{t:<tenant>}` so the gate script touches one Cluster slot. Components are escaped so an
// id containing `{`, `}`, `:` or `%` can neither move a key to another slot nor collide
// with another key.
export const PREFIX = 'mem0gov:';
/** Global limits hash: operators run `redis-cli HSET mem0gov:limits tenant:acme 600/m`. */
export const LIMITS_KEY = `${PREFIX}limits`;
/** Break-glass review index (sorted set, score = expiresAt ms) and per-grant records. */
export const BREAKGLASS_INDEX_KEY = `${PREFIX}breakglass:index`;
export function breakGlassRecordKey(grantId: string): string {
  return `${PREFIX}breakglass:grant:${esc(grantId)}`;
}

export function esc(s: string): string {
  return s.replace(/[%{}:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function tenantPrefix(tenant: string): string {
  return `${PREFIX}{t:${esc(tenant)}}:`;
}

export type RevocationScope = 'jti' | 'sub' | 'agent' | 'tenant';

export const tenantKeys = {
  revoked(tenant: string, scope: RevocationScope, id = ''): string {
    return scope === 'tenant' ? `${tenantPrefix(tenant)}rev:tenant` : `${tenantPrefix(tenant)}rev:${scope}:${esc(id)}`;
  },
  suspended(tenant: string): string {
    return `${tenantPrefix(tenant)}suspended`;
  },
  session(tenant: string, sid: string): string {
    return `${tenantPrefix(tenant)}sess:${esc(sid)}`;
  },
  rateSubject(tenant: string, subject: string): string {
    return `${tenantPrefix(tenant)}rl:sub:${esc(subject)}`;
  },
  rateTenant(tenant: string): string {
    return `${tenantPrefix(tenant)}rl:tenant`;
  },
  breakGlass(tenant: string, subject: string): string {
    return `${tenantPrefix(tenant)}bg:${esc(subject)}`;
  },
};

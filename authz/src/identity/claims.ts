// Verified JWT claims → Identity, with configurable claim names (Keycloak defaults).
import type { JWTPayload } from 'jose';
import type { Identity } from '../types.js';
import type { JwtConfig } from './config.js';
import { unauthenticated } from './errors.js';

/** Tenants are the namespace prefix of entity ids (`<tenant>:<local>`), so no `:` in them. */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Reads a dotted claim path (`realm_access.roles`). */
export function claimAt(payload: unknown, path: string): unknown {
  let node: unknown = payload;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function mapClaims(payload: JWTPayload, cfg: JwtConfig): Identity {
  const c = cfg.claims;
  // Keycloak ID tokens carry typ "ID"; only access tokens may call Mem0.
  if (payload.typ !== undefined && payload.typ !== 'Bearer') throw unauthenticated('wrong_token_type');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw unauthenticated('subject_missing');
  const tenantRaw = claimAt(payload, c.tenant);
  const tenant = Array.isArray(tenantRaw) && tenantRaw.length === 1 ? tenantRaw[0] : tenantRaw;
  if (tenant === undefined || tenant === null || tenant === '') throw unauthenticated('tenant_claim_missing');
  if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) throw unauthenticated('invalid_tenant_claim');

  const roles = new Set(strings(claimAt(payload, c.realmRoles)));
  const resourceAccess = claimAt(payload, 'resource_access');
  for (const client of c.roleClients) {
    for (const r of strings(claimAt(resourceAccess, `${client}.roles`))) roles.add(r);
  }

  const id: Identity = {
    subject: payload.sub,
    issuer: payload.iss ?? '',
    tenant,
    roles: [...roles].sort(),
  };
  const agent = optionalString(claimAt(payload, c.agent));
  if (agent) id.agent = agent;
  const sid = optionalString(claimAt(payload, c.session));
  if (sid) id.sessionId = sid;
  if (typeof payload.jti === 'string') id.jti = payload.jti;
  if (typeof payload.iat === 'number') id.iat = payload.iat;
  if (typeof payload.exp === 'number') id.exp = payload.exp;
  const authTime = claimAt(payload, 'auth_time');
  if (typeof authTime === 'number') id.authTime = authTime;
  return id;
}

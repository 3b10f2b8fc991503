// JWT verification settings (MEM0_GOV_JWT_*, MEM0_GOV_JWKS_*, declared in config/spec.ts).
// Keycloak defaults: roles in realm_access.roles (and resource_access.<client>.roles), tenant in
// a `tenant` claim, agent id in `azp`, session in `sid`.
import { ConfigError, PREFIX } from '../config/env.js';
import type { Env } from '../config/env.js';
import { read } from '../config/read.js';
import { ALLOWED_ALGORITHMS } from '../config/spec.js';

export type KeySource = { kind: 'discovery' } | { kind: 'jwks_url'; url: string } | { kind: 'jwks_file'; path: string };

export interface IssuerConfig {
  issuer: string;
  keys: KeySource;
}

export interface JwtConfig {
  issuers: IssuerConfig[];
  audience: string[];
  algorithms: string[];
  clockSkewSeconds: number;
  /** Minimum time between JWKS refetches triggered by an unknown `kid`. */
  jwksCooldownMs: number;
  jwksTimeoutMs: number;
  /** Optional upper bound on token lifetime (exp - iat), seconds; 0 = off. */
  maxTokenAgeSeconds: number;
  claims: {
    tenant: string;
    agent: string;
    session: string;
    realmRoles: string;
    /** Clients whose resource_access roles also count. */
    roleClients: string[];
  };
}

/** Asymmetric algorithms only (declared with MEM0_GOV_JWT_ALGORITHMS in config/spec.ts). */
export { ALLOWED_ALGORITHMS };

function parseIssuers(env: Env): IssuerConfig[] {
  const parsed = read(env, 'JWT_ISSUERS_JSON');
  if (parsed !== undefined) {
    if (!Array.isArray(parsed) || parsed.length === 0) {
      throw new ConfigError(`${PREFIX}JWT_ISSUERS_JSON`, 'expected a non-empty array of {issuer, jwks_uri?, jwks_file?}');
    }
    return parsed.map((e: unknown, i) => {
      const o = e as Record<string, unknown>;
      if (typeof o?.issuer !== 'string') throw new ConfigError(`${PREFIX}JWT_ISSUERS_JSON`, `entry ${i}: issuer must be a string`);
      if (typeof o.jwks_uri === 'string') return { issuer: o.issuer, keys: { kind: 'jwks_url', url: o.jwks_uri } };
      if (typeof o.jwks_file === 'string') return { issuer: o.issuer, keys: { kind: 'jwks_file', path: o.jwks_file } };
      return { issuer: o.issuer, keys: { kind: 'discovery' } };
    });
  }
  // Relations between variables are the loader's; each variable's own rules are the spec's.
  const issuers = read(env, 'JWT_ISSUERS') ?? [];
  if (issuers.length === 0) {
    throw new ConfigError(`${PREFIX}JWT_ISSUERS`, 'required: comma-separated issuer URLs (or MEM0_GOV_JWT_ISSUERS_JSON)');
  }
  const jwksUrl = read(env, 'JWKS_URL');
  const jwksFile = read(env, 'JWKS_FILE');
  if ((jwksUrl || jwksFile) && issuers.length > 1) {
    throw new ConfigError(`${PREFIX}JWKS_URL`, 'MEM0_GOV_JWKS_URL/_FILE need exactly one issuer; use MEM0_GOV_JWT_ISSUERS_JSON for several');
  }
  if (jwksUrl && jwksFile) throw new ConfigError(`${PREFIX}JWKS_URL`, 'set MEM0_GOV_JWKS_URL or MEM0_GOV_JWKS_FILE, not both');
  return issuers.map((issuer) => ({
    issuer,
    keys: jwksUrl ? { kind: 'jwks_url', url: jwksUrl } : jwksFile ? { kind: 'jwks_file', path: jwksFile } : { kind: 'discovery' },
  }));
}

export function loadJwtConfig(env: Env): JwtConfig {
  const audience = loadAudiences(env);
  const algorithms = read(env, 'JWT_ALGORITHMS');
  return {
    issuers: parseIssuers(env),
    audience,
    algorithms,
    clockSkewSeconds: read(env, 'JWT_CLOCK_SKEW_SECONDS'),
    jwksCooldownMs: read(env, 'JWKS_COOLDOWN_MS'),
    jwksTimeoutMs: read(env, 'JWKS_TIMEOUT_MS'),
    maxTokenAgeSeconds: read(env, 'JWT_MAX_TOKEN_AGE_SECONDS'),
    claims: {
      tenant: read(env, 'JWT_TENANT_CLAIM'),
      agent: read(env, 'JWT_AGENT_CLAIM'),
      session: read(env, 'JWT_SESSION_CLAIM'),
      realmRoles: read(env, 'JWT_ROLES_CLAIM'),
      // Default (spec: "the audiences"): follows JWT_AUDIENCE.
      roleClients: read(env, 'JWT_ROLE_CLIENTS') ?? audience,
    },
  };
}

/** The accepted token audiences (the dev token CLI signs for the first). */
export function loadAudiences(env: Env): string[] {
  return read(env, 'JWT_AUDIENCE');
}

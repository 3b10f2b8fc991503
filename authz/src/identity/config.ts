// JWT verification settings. Keycloak defaults: roles in realm_access.roles (and
// resource_access.<client>.roles), tenant in a `tenant` claim, agent id in `azp`, session in `sid`.
import { ConfigError, PREFIX, int, list, str } from '../config/env.js';
import type { Env } from '../config/env.js';

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

/** Asymmetric algorithms only: `none` and HS* are never accepted (no HS* against a public key). */
export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'] as const;
const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

function parseIssuers(env: Env): IssuerConfig[] {
  const json = str(env, 'JWT_ISSUERS_JSON');
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new ConfigError(`${PREFIX}JWT_ISSUERS_JSON`, 'not valid JSON');
    }
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
  const issuers = list(env, 'JWT_ISSUERS');
  if (issuers.length === 0) {
    throw new ConfigError(`${PREFIX}JWT_ISSUERS`, 'required: comma-separated issuer URLs (or MEM0_GOV_JWT_ISSUERS_JSON)');
  }
  for (const iss of issuers) {
    try {
      new URL(iss);
    } catch {
      throw new ConfigError(`${PREFIX}JWT_ISSUERS`, `not a URL: ${JSON.stringify(iss)}`);
    }
  }
  const jwksUrl = str(env, 'JWKS_URL');
  const jwksFile = str(env, 'JWKS_FILE');
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
  const audience = list(env, 'JWT_AUDIENCE', ['mem0-gov']);
  const algorithms = list(env, 'JWT_ALGORITHMS', DEFAULT_ALGORITHMS);
  for (const alg of algorithms) {
    if (!(ALLOWED_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new ConfigError(`${PREFIX}JWT_ALGORITHMS`, `${alg} is not allowed (asymmetric only: ${ALLOWED_ALGORITHMS.join(', ')})`);
    }
  }
  return {
    issuers: parseIssuers(env),
    audience,
    algorithms,
    clockSkewSeconds: int(env, 'JWT_CLOCK_SKEW_SECONDS', 30, 0, 300),
    jwksCooldownMs: int(env, 'JWKS_COOLDOWN_MS', 30_000, 0, 3_600_000),
    jwksTimeoutMs: int(env, 'JWKS_TIMEOUT_MS', 2_000, 100, 60_000),
    maxTokenAgeSeconds: int(env, 'JWT_MAX_TOKEN_AGE_SECONDS', 0, 0, 31_536_000),
    claims: {
      tenant: str(env, 'JWT_TENANT_CLAIM', 'tenant'),
      agent: str(env, 'JWT_AGENT_CLAIM', 'azp'),
      session: str(env, 'JWT_SESSION_CLAIM', 'sid'),
      realmRoles: str(env, 'JWT_ROLES_CLAIM', 'realm_access.roles'),
      roleClients: list(env, 'JWT_ROLE_CLIENTS', audience),
    },
  };
}

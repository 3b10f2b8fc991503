// The one configuration spec: every MEM0_GOV_* variable, declared once — its type, default,
// bounds, whether it is a secret, who reads it and what it does. The loaders read through it
// (`read(env, 'OWNER_TIMEOUT_MS')`, config/read.ts), start-up warns about MEM0_GOV_* names it does
// not know, and README's configuration tables are generated from it (`npx tsx scripts/docs.ts`).
// A new variable: one entry here, read it in its subsystem's loader, regenerate the docs
// (authz/test/unit/config/spec.test.ts fails if any of that is missing).
import { hostname, userInfo } from 'node:os';

export const PREFIX = 'MEM0_GOV_';

/** Which process reads the variable: the authz service, the `mem0-gov` CLI, or both. */
export type Reader = 'service' | 'cli' | 'both';

/** The subsystem a variable belongs to (README order; subsystem READMEs show theirs). */
export type Group = 'service' | 'log' | 'mem0' | 'identity' | 'redis' | 'gate' | 'policy' | 'audit' | 'cli';

/** A default computed at start (hostname, OS user); `defaultDoc` says what it is. */
type Lazy<T> = T | (() => T);

interface Common {
  /** What it does, one Markdown line (README's "what" column). */
  description: string;
  group: Group;
  readBy: Reader;
  /** The default as the docs show it, when the value alone would not say it (computed, derived, "off"). */
  defaultDoc?: string;
  /**
   * `true`: unset is a ConfigError. A string: required under that condition, which the loader
   * checks (a relation between variables); shown in the docs.
   */
  required?: true | string;
}

export type VarSpec = Common & (
  | { type: 'string'; default?: Lazy<string>; cliDefault?: string; pattern?: RegExp; patternHint?: string }
  | { type: 'path'; default?: string }
  | { type: 'int'; default?: number; min: number; max?: number }
  | { type: 'bool'; default?: boolean }
  /** http(s), redis(s) or postgres(ql) URL */
  | { type: 'url'; default?: string }
  /** comma-separated; `items: 'url'` checks each item is a URL; `values` restricts the items */
  | { type: 'list'; default?: readonly string[]; items?: 'url'; values?: readonly string[]; valuesLabel?: string }
  | { type: 'enum'; values: readonly string[]; default?: string; cliDefault?: string }
  /** `90s`, `30m`, `4h`, `30d` or seconds (gate/duration.ts; read with readParsed) */
  | { type: 'duration'; default?: string }
  /** `600/m` (ratelimit/rate.ts; read with readParsed) */
  | { type: 'rate'; default?: string }
  /** `role=seconds,…`, read as milliseconds per role; unset = no overrides */
  | { type: 'roleSeconds' }
  /** `host:port,…`; unset = none */
  | { type: 'hostPorts' }
  | { type: 'json' }
  /** the value, or `<NAME>_FILE` naming a file that holds it (Docker/Kubernetes secrets), never both */
  | { type: 'secret' }
  /** a path; the value read is the file's content, a secret */
  | { type: 'secretFile' }
);

/** Asymmetric JWT algorithms only: `none` and HS* are never accepted (no HS* against a public key). */
export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'] as const;

/** pino's levels. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const SPEC = {
  // ── service: listeners and shutdown ───────────────────────────────────────────────────────
  GRPC_HOST: {
    type: 'string', default: '0.0.0.0', group: 'service', readBy: 'service',
    description: 'gRPC listen address: ext_authz (`envoy.service.auth.v3.Authorization`), ext_proc, `grpc.health.v1.Health`',
  },
  GRPC_PORT: { type: 'int', default: 9191, min: 0, max: 65535, group: 'service', readBy: 'service', description: 'gRPC port' },
  HTTP_HOST: {
    type: 'string', default: '0.0.0.0', group: 'service', readBy: 'service',
    description: 'HTTP listen address: `/healthz`, `/readyz`, `/metrics`, and `/check/*` (HTTP-service ext_authz)',
  },
  HTTP_PORT: { type: 'int', default: 9192, min: 0, max: 65535, group: 'service', readBy: 'service', description: 'HTTP port' },
  DRAIN_SECONDS: {
    type: 'int', default: 5, min: 0, max: 300, group: 'service', readBy: 'service',
    description: 'after SIGTERM: NOT_SERVING + keep answering this long, then finish in-flight checks and stop',
  },
  CHECK_BUDGET_MS: {
    // Keep it inside Envoy's ext_authz timeout (0.25 s in envoy/envoy.yaml), with room for the network.
    type: 'int', default: 200, min: 20, max: 60_000, group: 'service', readBy: 'service',
    description: "what one check may take, inside Envoy's 250 ms ext_authz timeout; the deadlines derive from it: audit durability (¼: PostgreSQL's commit, else the spool), Redis (¼, unless `REDIS_TIMEOUT_MS`)",
  },
  MAX_IN_FLIGHT: {
    type: 'int', default: 64, min: 1, max: 100_000, group: 'service', readBy: 'service',
    description: 'admission: checks decided at once; beyond it a check is answered at once with 503 `overloaded` and `Retry-After`, audited',
  },
  WORKERS: {
    // Unset: the CPU count, computed by its loader (authz/src/cluster/config.ts): int entries have no computed defaults.
    type: 'int', defaultDoc: 'CPU count (≤ 64)', min: 1, max: 64, group: 'service', readBy: 'service',
    description: 'processes sharing the gRPC and HTTP ports (node:cluster), each with its own audit chain `<AUDIT_CHAIN_ID>-w<i>`; `1`: one process, chain `AUDIT_CHAIN_ID`. In containers set it to the CPU limit (the CPU count is the node\'s)',
  },

  HELPER_THREADS_NICE: {
    type: 'int', default: 10, min: 0, max: 19, group: 'service', readBy: 'service',
    description: "how much lower than the process's own OS priority (nice) its other threads run, set at start (Linux): V8's optimizing compiler and GC helpers, so the compiling real traffic brings after a start yields to answering checks and to the processes beside it — and libuv's pool (started before any code of ours: signature checks of uncached tokens, the spool's writes while PostgreSQL is out), which then waits while every core is saturated; `0`: all left alone",
  },

  // ── logs ──────────────────────────────────────────────────────────────────────────────────
  LOG_LEVEL: {
    type: 'enum', values: LOG_LEVELS, default: 'info', cliDefault: 'warn', group: 'log', readBy: 'both',
    description: 'pino level (logs never contain tokens or memory content)',
  },
  LOG_DESTINATION: {
    type: 'enum', values: ['stdout', 'stderr'], default: 'stdout', cliDefault: 'stderr', group: 'log', readBy: 'both',
    description: "where logs go; the CLI's stdout carries only command output (a token, a report)",
  },

  // ── Mem0 and the owner lookup ─────────────────────────────────────────────────────────────
  MEM0_URL: { type: 'url', default: 'http://127.0.0.1:9006', group: 'mem0', readBy: 'service', description: 'Mem0, for owner lookups' },
  MEM0_API_KEY: {
    type: 'secret', group: 'mem0', readBy: 'service',
    description: "Mem0's own API key, injected as `X-API-Key` on allowed requests and owner lookups",
  },
  OWNER_CACHE_SECONDS: {
    type: 'int', default: 30, min: 0, max: 3600, group: 'mem0', readBy: 'service',
    description: 'owner lookup cache TTL in Redis (ids only)',
  },
  OWNER_TIMEOUT_MS: {
    // Inside Envoy's ext_authz timeout (250 ms in envoy/envoy.yaml), so a slow Mem0 is our 503 with a reason.
    type: 'int', default: 200, min: 10, max: 30_000, group: 'mem0', readBy: 'service',
    description: "owner lookup timeout (inside Envoy's 250 ms ext_authz timeout)",
  },
  PHI_LABELS: {
    type: 'list', default: ['phi'], group: 'mem0', readBy: 'service',
    description: '`metadata.classification` values that mark PHI (besides `metadata.phi: true`)',
  },

  // ── identity (JWT) ────────────────────────────────────────────────────────────────────────
  JWT_ISSUERS: {
    type: 'list', items: 'url', required: 'unless `JWT_ISSUERS_JSON` is set', group: 'identity', readBy: 'service',
    description: 'issuer URLs; keys via OIDC discovery',
  },
  JWKS_URL: {
    type: 'string', group: 'identity', readBy: 'service',
    description: 'JWKS URL instead of discovery, for a single issuer (not with `JWKS_FILE`)',
  },
  JWKS_FILE: {
    type: 'path', group: 'identity', readBy: 'service',
    description: 'JWKS file instead of discovery, for a single issuer (not with `JWKS_URL`)',
  },
  JWT_ISSUERS_JSON: {
    type: 'json', group: 'identity', readBy: 'service',
    description: 'several issuers with their own key sources: `[{"issuer","jwks_uri"?,"jwks_file"?}]` (instead of `JWT_ISSUERS`)',
  },
  JWT_AUDIENCE: {
    type: 'list', default: ['mem0-gov'], group: 'identity', readBy: 'both',
    description: 'accepted audiences; `mem0-gov token` uses the first',
  },
  JWT_ALGORITHMS: {
    type: 'list', default: ['RS256', 'PS256', 'ES256', 'EdDSA'], values: ALLOWED_ALGORITHMS, valuesLabel: 'asymmetric only',
    group: 'identity', readBy: 'service',
    description: 'asymmetric only; HS* and `none` are refused at start',
  },
  JWT_CLOCK_SKEW_SECONDS: { type: 'int', default: 30, min: 0, max: 300, group: 'identity', readBy: 'service', description: 'tolerance for exp/nbf/iat' },
  JWKS_COOLDOWN_MS: {
    type: 'int', default: 30_000, min: 0, max: 3_600_000, group: 'identity', readBy: 'service',
    description: 'refetch the JWKS on an unknown `kid` at most once per cooldown',
  },
  JWKS_TIMEOUT_MS: { type: 'int', default: 2_000, min: 100, max: 60_000, group: 'identity', readBy: 'service', description: 'JWKS / discovery fetch timeout' },
  JWT_MAX_TOKEN_AGE_SECONDS: {
    type: 'int', default: 0, defaultDoc: '`0` (off)', min: 0, max: 31_536_000, group: 'identity', readBy: 'service',
    description: 'reject tokens issued longer ago than this',
  },
  JWT_TENANT_CLAIM: { type: 'string', default: 'tenant', group: 'identity', readBy: 'service', description: 'claim holding the tenant (dotted path)' },
  JWT_AGENT_CLAIM: { type: 'string', default: 'azp', group: 'identity', readBy: 'service', description: 'claim holding the agent id (dotted path; Keycloak default)' },
  JWT_SESSION_CLAIM: { type: 'string', default: 'sid', group: 'identity', readBy: 'service', description: 'claim holding the session id (dotted path; Keycloak default)' },
  JWT_ROLES_CLAIM: {
    type: 'string', default: 'realm_access.roles', group: 'identity', readBy: 'service',
    description: 'claim holding the roles (dotted path; Keycloak default)',
  },
  JWT_ROLE_CLIENTS: {
    type: 'list', defaultDoc: 'the audiences', group: 'identity', readBy: 'service',
    description: 'clients whose `resource_access.<client>.roles` also count',
  },
  APIKEY_MAX_TTL: {
    type: 'duration', default: '365d', group: 'identity', readBy: 'cli',
    description: 'longest `apikey create --ttl` (docs/api-keys.md)',
  },
  APIKEY_CACHE_SECONDS: {
    type: 'int', default: 30, min: 0, max: 300, group: 'identity', readBy: 'service',
    description: 'how long a replica reuses an API key\'s record read from Redis (`0`: read on every request); revocation is checked by the gate on every request regardless',
  },

  // ── Redis ─────────────────────────────────────────────────────────────────────────────────
  REDIS_URL: { type: 'url', default: 'redis://127.0.0.1:6379', group: 'redis', readBy: 'both', description: 'Redis (standalone); `rediss://` for TLS' },
  REDIS_CLUSTER_NODES: {
    type: 'hostPorts', group: 'redis', readBy: 'both',
    description: 'Redis Cluster seeds; when set, Cluster is used and `REDIS_URL` only supplies TLS',
  },
  REDIS_PASSWORD: { type: 'secret', group: 'redis', readBy: 'both', description: 'Redis password' },
  REDIS_TIMEOUT_MS: {
    type: 'int', min: 1, max: 60_000, group: 'redis', readBy: 'service', defaultDoc: '`CHECK_BUDGET_MS` / 4 (50)',
    description: 'bound on every Redis command (the gate\'s call, owner cache, limits refresh); slower is down: the failure modes apply',
  },

  // ── gate: limits, sessions, failure modes, break-glass ───────────────────────────────────
  LIMIT_DEFAULT: {
    type: 'rate', default: '600/m', group: 'gate', readBy: 'service',
    description: 'per tenant+subject bucket, unless `mem0gov:limits` says otherwise',
  },
  LIMIT_TENANT_DEFAULT: {
    type: 'rate', default: '6000/m', group: 'gate', readBy: 'service',
    description: 'per-tenant aggregate bucket, unless `mem0gov:limits` says otherwise',
  },
  LIMITS_REFRESH_MS: {
    type: 'int', default: 1000, min: 50, max: 2000, group: 'gate', readBy: 'service',
    description: 'how often each replica re-reads `mem0gov:limits` (changes apply within 2 s)',
  },
  SESSION_IDLE_SECONDS: {
    type: 'int', default: 900, min: 1, group: 'gate', readBy: 'service',
    description: 'HIPAA automatic logoff: idle limit (by `sid`)',
  },
  SESSION_MAX_SECONDS: {
    type: 'int', default: 28_800, min: 1, group: 'gate', readBy: 'service',
    description: 'absolute session limit (from `auth_time`/`iat`)',
  },
  SESSION_IDLE_SECONDS_BY_ROLE: {
    type: 'roleSeconds', group: 'gate', readBy: 'service',
    description: "per-role idle limits, e.g. `admin=300,agent-reader=3600`; the strictest of the caller's roles wins",
  },
  SESSION_MAX_SECONDS_BY_ROLE: {
    type: 'roleSeconds', group: 'gate', readBy: 'service',
    description: 'per-role absolute limits, same format and rule',
  },
  REVOCATION_FAILURE_MODE: {
    type: 'enum', values: ['closed', 'open'], default: 'closed', group: 'gate', readBy: 'service',
    description: 'revocation, suspension and sessions while Redis is down or slow: `closed` → 503 `redis_unavailable`; `open` → pass, noted in the audit row',
  },
  RATELIMIT_FAILURE_MODE: {
    type: 'enum', values: ['open', 'closed'], default: 'open', group: 'gate', readBy: 'service',
    description: 'rate limits while Redis is down or slow: `open` → local per-replica limiter, noted in the audit row; `closed` → 503 `redis_unavailable`',
  },
  BREAKGLASS_MAX_TTL: { type: 'duration', default: '4h', group: 'gate', readBy: 'both', description: 'longest `breakglass grant --ttl` (the service checks it at start too)' },

  // ── policy ────────────────────────────────────────────────────────────────────────────────
  POLICY_WASM: { type: 'path', default: 'policies/build/policy.wasm', group: 'policy', readBy: 'both', description: 'compiled policy (opa build -t wasm)' },
  POLICY_DATA: { type: 'path', default: 'policies/data.json', group: 'policy', readBy: 'both', description: 'policy data (roles, tenants)' },
  POLICY_WATCH: {
    type: 'bool', default: true, group: 'policy', readBy: 'service',
    description: 'hot-swap changed policy files (broken ones are rejected, the running bundle stays)',
  },
  POLICY_SHADOW_WASM: {
    type: 'path', group: 'policy', readBy: 'both', defaultDoc: 'off (`POLICY_WASM` when only `POLICY_SHADOW_DATA` is set)',
    description: 'candidate policy evaluated beside the enforced one, never enforced: disagreements counted and written to the audit row (docs/policy-rollout.md); hot-reloaded like the enforced one',
  },
  POLICY_SHADOW_DATA: {
    type: 'path', group: 'policy', readBy: 'both', defaultDoc: 'off (`POLICY_DATA` when only `POLICY_SHADOW_WASM` is set)',
    description: 'the shadow policy\'s data; setting either shadow variable turns the shadow on',
  },

  // ── audit ─────────────────────────────────────────────────────────────────────────────────
  PG_URL: {
    type: 'url', default: 'postgres://mem0gov_writer@127.0.0.1:5432/mem0gov', group: 'audit', readBy: 'both',
    description: 'audit writer (INSERT + SELECT only); password from `PG_PASSWORD` unless in the URL',
  },
  PG_PASSWORD: { type: 'secret', group: 'audit', readBy: 'both', description: "the writer's password" },
  PG_ADMIN_URL: {
    type: 'url', group: 'audit', readBy: 'both',
    description: 'schema owner, for `audit migrate` (else `PG_URL`, which then needs DDL rights)',
  },
  PG_ADMIN_PASSWORD: { type: 'secret', group: 'audit', readBy: 'both', description: "the schema owner's password" },
  AUDIT_MIGRATE: {
    type: 'bool', default: true, group: 'audit', readBy: 'both',
    description: 'migrate at start if the schema is not current (set `false` when a migrate job does it)',
  },
  AUDIT_CHAIN_ID: {
    type: 'string', default: () => hostname(), defaultDoc: 'hostname', pattern: /^[A-Za-z0-9._:@-]{1,128}$/,
    patternHint: 'use 1-128 characters of A-Z a-z 0-9 . _ : @ -', group: 'audit', readBy: 'service',
    description: 'one chain per running instance (one writer per chain, advisory lock)',
  },
  AUDIT_ADMIN_CHAIN_ID: {
    type: 'string', default: () => `admin:${hostname()}`, defaultDoc: '`admin:<hostname>`', group: 'audit', readBy: 'cli',
    description: 'chain of CLI admin actions',
  },
  AUDIT_SPOOL_DIR: { type: 'path', default: '.state/spool', group: 'audit', readBy: 'service', description: 'fsynced local spool while PostgreSQL is down; keep on a persistent volume' },
  AUDIT_SPOOL: { type: 'bool', default: true, group: 'audit', readBy: 'service', description: '`false`: no spool, reject while PostgreSQL is down' },
  AUDIT_BATCH_MS: { type: 'int', default: 0, min: 0, max: 1000, group: 'audit', readBy: 'service', description: 'extra wait (ms) before an idle writer commits; 0 = commit at once when nothing is in flight (events of one tick still share a commit; under load, batches gather while the previous commit is in flight)' },
  AUDIT_MAX_BATCH: { type: 'int', default: 2000, min: 1, max: 20_000, group: 'audit', readBy: 'service', description: 'group commit size' },
  AUDIT_RECONNECT_MS: { type: 'int', default: 500, min: 10, max: 60_000, group: 'audit', readBy: 'service', description: 'PostgreSQL retry interval while spooling' },
  AUDIT_CHECKPOINT_KEY_FILE: {
    type: 'secretFile', group: 'audit', readBy: 'both',
    description: 'Ed25519 PKCS#8 PEM private key; signed checkpoints every `AUDIT_CHECKPOINT_EVERY` events or `AUDIT_CHECKPOINT_SECONDS` (none when unset)',
  },
  AUDIT_CHECKPOINT_EVERY: { type: 'int', default: 1000, min: 1, group: 'audit', readBy: 'service', description: 'checkpoint after this many rows' },
  AUDIT_CHECKPOINT_SECONDS: { type: 'int', default: 60, min: 1, group: 'audit', readBy: 'service', description: 'checkpoint at least this often (if the head moved)' },
  AUDIT_CHECKPOINT_PUBLIC_KEY_FILE: {
    type: 'path', group: 'audit', readBy: 'cli',
    description: 'what `audit verify` checks checkpoints against when `--public-key` is not given',
  },
  AUDIT_RETENTION_MONTHS: {
    type: 'int', default: 12, min: 1, max: 1200, group: 'audit', readBy: 'both',
    description: 'full months of audit rows kept in PostgreSQL besides the current one; older monthly partitions are due for `mem0-gov audit archive` (export, verify, then drop), which refuses newer ones. Nothing is ever dropped otherwise: due months are logged and counted (`mem0gov_audit_partitions_due`, alert)',
  },
  AUDIT_VERIFY_INTERVAL_SECONDS: {
    type: 'int', default: 60, min: 0, max: 86_400, group: 'audit', readBy: 'service',
    description: 'the service verifies the rows written since its last signed checkpoint this often (one replica at a time) and exports `mem0gov_audit_chain_broken`; `0` = off',
  },
  AUDIT_VERIFY_STATE: {
    type: 'path', default: '.state/audit-verify.json', group: 'audit', readBy: 'both',
    description: 'the last signed checkpoint verified per chain: where the next incremental `audit verify` (and the service\'s verifier) starts; lost = one full verification',
  },

  // ── CLI ───────────────────────────────────────────────────────────────────────────────────
  ADMIN_ACTOR: {
    type: 'string', default: () => userInfo().username, defaultDoc: 'OS user', group: 'cli', readBy: 'cli',
    description: 'who the CLI records as the actor of admin actions',
  },
  DEV_KEY_DIR: {
    type: 'path', default: '.state/dev-issuer', group: 'cli', readBy: 'cli',
    description: 'dev issuer key directory (`npm run stack` writes it) that `mem0-gov token` signs with',
  },
  DEV_ISSUER: {
    type: 'string', defaultDoc: '`<DEV_KEY_DIR>/issuer`', group: 'cli', readBy: 'cli',
    description: 'issuer of `mem0-gov token` (`--issuer` wins)',
  },
} as const satisfies Record<string, VarSpec>;

export type Name = keyof typeof SPEC;

export const NAMES = Object.keys(SPEC) as Name[];

export function spec(name: Name): VarSpec {
  return SPEC[name];
}

export function isName(name: string): name is Name {
  return Object.prototype.hasOwnProperty.call(SPEC, name);
}

/** Its value is a secret: never logged, printed or put in an evidence pack. */
export function isSecret(s: VarSpec): boolean {
  return s.type === 'secret' || s.type === 'secretFile';
}

/** Every environment variable name the spec knows, with the prefix (a secret's `_FILE` form too). */
export function knownVariables(): Set<string> {
  const out = new Set<string>();
  for (const name of NAMES) {
    out.add(PREFIX + name);
    if (SPEC[name].type === 'secret') out.add(`${PREFIX}${name}_FILE`);
  }
  return out;
}

/** MEM0_GOV_* names in env that no spec entry declares (typos, retired variables), sorted. */
export function unknownVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = knownVariables();
  return Object.keys(env).filter((k) => k.startsWith(PREFIX) && env[k] !== undefined && !known.has(k)).sort();
}

/** Logs one warning naming the unknown MEM0_GOV_* variables, if any (start-up: service and CLI); not fatal. */
export function warnUnknownVariables(env: Readonly<Record<string, string | undefined>>, logger: { warn(obj: object, msg: string): void }): string[] {
  const unknown = unknownVariables(env);
  if (unknown.length > 0) logger.warn({ variables: unknown }, 'ignoring unknown MEM0_GOV_* variables (typo? see README "Configuration")');
  return unknown;
}

/** The environment name holding a secret's value directly (not its path): shown as "[set]", never printed. */
export function isSecretValueVariable(variable: string): boolean {
  if (!variable.startsWith(PREFIX)) return false;
  const name = variable.slice(PREFIX.length);
  return isName(name) && SPEC[name].type === 'secret';
}

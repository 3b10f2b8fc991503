// The service's whole configuration, read and validated once at start. Each subsystem
// owns its loader; a bad variable fails start-up with a ConfigError naming it.
import { int, list, secret, str, url } from './env.js';
import type { Env } from './env.js';
import { loadJwtConfig } from '../identity/config.js';
import type { JwtConfig } from '../identity/config.js';
import { loadRedisConfig } from '../redis/connect.js';
import type { RedisConfig } from '../redis/connect.js';
import { loadGateConfig } from '../gate/index.js';
import type { GateConfig } from '../gate/index.js';
import { loadPolicyConfig } from '../policy/config.js';
import type { PolicyConfig } from '../policy/config.js';
import { loadAuditConfig } from '../audit/config.js';
import type { AuditConfig } from '../audit/config.js';
import { DEFAULT_PHI_LABELS } from '../request/phi.js';

export interface ServiceConfig {
  grpcHost: string;
  grpcPort: number;
  httpHost: string;
  httpPort: number;
  /** Seconds to keep answering after SIGTERM while Envoy's health checks notice NOT_SERVING. */
  drainSeconds: number;
  mem0Url: string;
  mem0ApiKey?: string;
  ownerCacheSeconds: number;
  ownerTimeoutMs: number;
  phiLabels: string[];
  jwt: JwtConfig;
  redis: RedisConfig;
  gate: GateConfig;
  policy: PolicyConfig;
  audit: AuditConfig;
}

export function loadConfig(env: Env): ServiceConfig {
  const cfg: ServiceConfig = {
    grpcHost: str(env, 'GRPC_HOST', '0.0.0.0'),
    grpcPort: int(env, 'GRPC_PORT', 9191, 0, 65535),
    httpHost: str(env, 'HTTP_HOST', '0.0.0.0'),
    httpPort: int(env, 'HTTP_PORT', 9192, 0, 65535),
    drainSeconds: int(env, 'DRAIN_SECONDS', 5, 0, 300),
    mem0Url: url(env, 'MEM0_URL', 'http://127.0.0.1:9006')!,
    ownerCacheSeconds: int(env, 'OWNER_CACHE_SECONDS', 30, 0, 3600),
    // Inside Envoy's ext_authz timeout (250 ms in envoy/envoy.yaml), so a slow Mem0 is our 503 with a reason.
    ownerTimeoutMs: int(env, 'OWNER_TIMEOUT_MS', 200, 10, 30_000),
    phiLabels: list(env, 'PHI_LABELS', [...DEFAULT_PHI_LABELS]),
    jwt: loadJwtConfig(env),
    redis: loadRedisConfig(env),
    gate: loadGateConfig(env),
    policy: loadPolicyConfig(env),
    audit: loadAuditConfig(env),
  };
  const apiKey = secret(env, 'MEM0_API_KEY');
  if (apiKey !== undefined) cfg.mem0ApiKey = apiKey;
  return cfg;
}

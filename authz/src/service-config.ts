// The service's whole configuration, read and validated once at start. Every variable is
// declared once in config/spec.ts; each subsystem's loader reads its own through config/read.ts;
// a bad variable fails start-up with a ConfigError naming it (exit 78 in main.ts). This file sits
// at the root because it composes every subsystem's loader: config/ itself stays a leaf that
// the subsystems import (no folder cycle).
import type { Env } from './config/env.js';
import { read } from './config/read.js';
import { loadLogConfig, type LogConfig } from './config/log.js';
import { loadJwtConfig } from './identity/config.js';
import type { JwtConfig } from './identity/config.js';
import { loadRedisConfig } from './redis/connect.js';
import type { RedisConfig } from './redis/connect.js';
import { loadGateConfig } from './gate/index.js';
import type { GateConfig } from './gate/index.js';
import { loadPolicyConfig } from './policy/config.js';
import type { PolicyConfig } from './policy/config.js';
import { loadAuditConfig } from './audit/config.js';
import type { AuditConfig } from './audit/config.js';

export { unknownVariables, warnUnknownVariables } from './config/spec.js';
export { loadLogConfig, type LogConfig } from './config/log.js';

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
  /** metadata.classification values that mark a memory as PHI (parse, owner lookup, answers). */
  phiLabels: string[];
  log: LogConfig;
  jwt: JwtConfig;
  redis: RedisConfig;
  gate: GateConfig;
  policy: PolicyConfig;
  audit: AuditConfig;
}

export function loadConfig(env: Env): ServiceConfig {
  const cfg: ServiceConfig = {
    grpcHost: read(env, 'GRPC_HOST'),
    grpcPort: read(env, 'GRPC_PORT'),
    httpHost: read(env, 'HTTP_HOST'),
    httpPort: read(env, 'HTTP_PORT'),
    drainSeconds: read(env, 'DRAIN_SECONDS'),
    mem0Url: read(env, 'MEM0_URL'),
    ownerCacheSeconds: read(env, 'OWNER_CACHE_SECONDS'),
    ownerTimeoutMs: read(env, 'OWNER_TIMEOUT_MS'),
    phiLabels: read(env, 'PHI_LABELS'),
    log: loadLogConfig(env),
    jwt: loadJwtConfig(env),
    redis: loadRedisConfig(env),
    gate: loadGateConfig(env),
    policy: loadPolicyConfig(env),
    audit: loadAuditConfig(env),
  };
  const apiKey = read(env, 'MEM0_API_KEY');
  if (apiKey !== undefined) cfg.mem0ApiKey = apiKey;
  return cfg;
}

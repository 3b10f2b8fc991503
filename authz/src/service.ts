// Wires the stages into a running service: connections at the edges, the pipeline in the
// middle, gRPC :9191 and HTTP :9192 in front. main.ts and the test harness both use this.
import { loadConfig, warnUnknownVariables } from './service-config.js';
import type { ServiceConfig } from './service-config.js';
import type { Env } from './config/env.js';
import { createLogger } from './logger.js';
import type { Logger } from './logger.js';
import { createAuthenticator } from './identity/jwt.js';
import { createApiKeyAuthenticator } from './identity/apikey.js';
import { loadApiKeyCacheMs } from './identity/apikey-config.js';
import { createCredentialAuthenticator } from './identity/credentials.js';
import { connectRedis } from './redis/connect.js';
import { createRedisGate } from './gate/index.js';
import { createOwnerLookup } from './owner/lookup.js';
import { createPolicyEngine } from './policy/engine.js';
import { createAuditSink } from './audit/index.js';
import { createPipeline } from './pipeline.js';
import { startGrpcServer } from './grpc/server.js';
import { startHttpServer } from './http/server.js';
import * as metrics from './metrics.js';
import { configChangeRow } from './record.js';
import { createAuditApi } from './auditapi/index.js';
import { loadBudget } from './budget.js';
import { warmUp } from './warmup.js';
import { loadOtelConfig } from './config/otel.js';
import { loadTracing } from './tracing/index.js';

export interface ServiceHandle {
  config: ServiceConfig;
  grpcPort: number;
  httpPort: number;
  logger: Logger;
  /** Drain (NOT_SERVING, finish in-flight checks), flush audit, close connections. */
  stop(drainMs?: number): Promise<void>;
  /** Drops every gRPC call and stream at once (as a crash would), then closes the rest. */
  abort(): Promise<void>;
}

export async function startService(env: Env, opts: { logger?: Logger; clock?: () => number } = {}): Promise<ServiceHandle> {
  const config = loadConfig(env);
  const logger = opts.logger ?? createLogger(config.log);
  warnUnknownVariables(env, logger);
  const clock = opts.clock ?? Date.now;
  // Deadlines derived from MEM0_GOV_CHECK_BUDGET_MS (budget.ts): answers never wait on a slow
  // PostgreSQL or Redis beyond them.
  const budget = loadBudget(env);
  // OpenTelemetry (OTEL_* variables, docs/tracing.md): off unless OTEL_TRACES_EXPORTER=otlp; off
  // loads no SDK at all.
  const tracing = await loadTracing(loadOtelConfig(env), logger);

  const audit = await createAuditSink(config.audit, logger, { durabilityMs: budget.durabilityMs });
  const redis = connectRedis(config.redis, logger, { commandTimeoutMs: config.redis.timeoutMs });
  const policy = await createPolicyEngine(config.policy, logger);
  const gate = await createRedisGate({
    redis,
    config: config.gate,
    logger,
    clock,
    // Limits changed straight in Redis (redis-cli HSET …) are audited when a replica sees them.
    onConfigChange: (change) => {
      audit.append(configChangeRow(change, policy.revision(), clock()))
        .catch((err: unknown) => logger.error({ err: { message: (err as Error).message } }, 'config change not audited'));
    },
  });
  const owners = createOwnerLookup({
    mem0Url: config.mem0Url,
    redis,
    ttlSeconds: config.ownerCacheSeconds,
    timeoutMs: config.ownerTimeoutMs,
    phiLabels: config.phiLabels,
    logger,
    ...(config.mem0ApiKey !== undefined ? { apiKey: config.mem0ApiKey } : {}),
  });
  // JWTs (Authorization: Bearer) and mem0-gov API keys (X-API-Key, Authorization: Token).
  const authenticator = createCredentialAuthenticator({
    jwt: createAuthenticator(config.jwt, clock),
    apiKeys: createApiKeyAuthenticator({ redis, cacheMs: loadApiKeyCacheMs(env), clock }),
  });
  // Cold start: keys fetched before we report SERVING (a failure only delays to first use).
  const unwarmed = (await authenticator.warm?.()) ?? [];
  if (unwarmed.length > 0) logger.warn({ issuers: unwarmed }, 'could not prefetch signing keys; will retry on first use');
  const decide = createPipeline({
    parse: { phiLabels: config.phiLabels },
    authenticator,
    gate,
    owners,
    policy,
    audit,
    logger,
    clock,
    maxInFlight: budget.maxInFlight,
    ...(tracing !== undefined ? { tracing } : {}),
    ...(config.mem0ApiKey !== undefined ? { mem0ApiKey: config.mem0ApiKey } : {}),
  });

  function refreshDependencyGauges(): void {
    metrics.dependencyUp.set({ dependency: 'postgres' }, audit.health().pg ? 1 : 0);
    metrics.dependencyUp.set({ dependency: 'redis' }, redis.status === 'ready' ? 1 : 0);
  }

  // The audit API on the HTTP port (/audit/, routed there by Envoy; docs/DESIGN.md "Audit API").
  const auditApi = createAuditApi({
    pgUrl: config.audit.pgUrl, audit, logger, clock, policy: config.policy,
    ...(config.audit.checkpointKeyPem !== undefined ? { checkpointKeyPem: config.audit.checkpointKeyPem } : {}),
  });

  let draining = false;
  // NOT_SERVING until warm (below), and again from the first moment of a drain.
  let warm = false;
  const grpcServer = await startGrpcServer({
    host: config.grpcHost,
    port: config.grpcPort,
    decide,
    processor: { audit, owners, phiLabels: config.phiLabels, logger, clock, ...(tracing !== undefined ? { tracing } : {}) },
    logger,
  });
  const httpServer = await startHttpServer({
    host: config.httpHost,
    port: config.httpPort,
    decide,
    logger,
    serving: () => warm && !draining,
    routes: auditApi.handle,
    readiness: () => {
      const h = audit.health();
      refreshDependencyGauges(); // a probe also refreshes what dashboards show
      const checks = { serving: warm && !draining, redis: redis.status === 'ready', audit_durable: h.pg || h.spoolWritable !== false, policy: policy.revision() !== '' };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
  });
  // Dependency gauges for dashboards and alerts, refreshed without waiting for a probe
  // (the policy engine keeps mem0gov_policy_revision_info itself, on every load).
  const probe = setInterval(refreshDependencyGauges, 5_000);
  probe.unref();
  // Warm before SERVING: the ports answer (health says NOT_SERVING) while the hot paths run.
  const report = await warmUp({
    jwt: config.jwt, gate, policy, redis, pgUrl: config.audit.pgUrl, chainId: config.audit.chainId, phiLabels: config.phiLabels, logger, clock,
  }).catch((err: unknown) => ({ decisions: 0, streams: 0, ms: 0, firstMs: 0, lastMs: 0, failed: [(err as Error).message] }));
  if (report.failed.length > 0) logger.warn({ failed: report.failed }, 'warm-up incomplete; serving anyway (the first requests may be slower)');
  if (!draining) {
    warm = true;
    grpcServer.setServing(true);
  }
  logger.info({
    grpcPort: grpcServer.port, httpPort: httpServer.port, policyRevision: policy.revision(),
    warmup: { decisions: report.decisions, streams: report.streams, ms: Math.round(report.ms), firstMs: Math.round(report.firstMs * 100) / 100, lastMs: Math.round(report.lastMs * 100) / 100 },
  }, 'mem0-gov authz ready');

  const handle: ServiceHandle = {
    config,
    grpcPort: grpcServer.port,
    httpPort: httpServer.port,
    logger,
    async abort() {
      grpcServer.server.forceShutdown();
      await handle.stop(0);
    },
    async stop(drainMs = config.drainSeconds * 1000) {
      draining = true;
      clearInterval(probe);
      grpcServer.setServing(false);
      if (drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
      await grpcServer.shutdown(5_000);
      await httpServer.close();
      await auditApi.close();
      await gate.close();
      await policy.close();
      await audit.close();
      await tracing?.shutdown();
      redis.disconnect();
    },
  };
  return handle;
}

// Prometheus metrics (prom-client), one registry for the process. Served on :9192/metrics.
// With several workers (MEM0_GOV_WORKERS) /metrics answers for the whole process group
// (authz/src/cluster/metrics.ts): counters and histograms sum; gauges say how they combine
// (`aggregator`, sum unless set).
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'mem0gov_process_' });

export const decisions = new client.Counter({
  name: 'mem0gov_decisions_total',
  help: 'Decisions by value and reason',
  labelNames: ['decision', 'reason'] as const,
  registers: [registry],
});

export const checksExpired = new client.Counter({
  name: 'mem0gov_checks_expired_total',
  help: 'Checks whose caller had already given up (Envoy\'s timeout) when authz got to them: not decided, not recorded',
  registers: [registry],
});

export const checkDuration = new client.Histogram({
  name: 'mem0gov_check_duration_seconds',
  help: 'Check latency per pipeline stage (stage="total" for the whole check)',
  labelNames: ['stage'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export const dependencyUp = new client.Gauge({
  name: 'mem0gov_dependency_up',
  help: '1 when the dependency answered its last health probe',
  labelNames: ['dependency'] as const,
  aggregator: 'min', // several workers: 1 only while every worker reaches it
  registers: [registry],
});

export const auditQueueDepth = new client.Gauge({
  name: 'mem0gov_audit_queue_depth',
  help: 'Audit events waiting for the next group commit',
  registers: [registry],
});

export const auditSpoolDepth = new client.Gauge({
  name: 'mem0gov_audit_spool_depth',
  help: 'Audit events in the local spool waiting for PostgreSQL',
  registers: [registry],
});

export const auditChainVerifyFailures = new client.Counter({
  name: 'mem0gov_audit_chain_verify_failures_total',
  help: 'Audit chain verifications that found a broken row, by chain (the verifier loop counts every run that still finds it)',
  labelNames: ['chain'] as const,
  registers: [registry],
});

export const auditChainBroken = new client.Gauge({
  name: 'mem0gov_audit_chain_broken',
  help: '1 while the last verification of the chain found a broken row (the verifier loop)',
  labelNames: ['chain'] as const,
  aggregator: 'max',
  registers: [registry],
});

export const auditVerifiedSeq = new client.Gauge({
  name: 'mem0gov_audit_chain_verified_seq',
  help: 'Highest seq of the chain the verifier loop has verified',
  labelNames: ['chain'] as const,
  aggregator: 'max',
  registers: [registry],
});

export const auditVerifyLastRun = new client.Gauge({
  name: 'mem0gov_audit_verify_last_run_timestamp_seconds',
  help: 'When the verifier loop last completed a round (whatever it found)',
  aggregator: 'max',
  registers: [registry],
});

export const auditPartitionsDue = new client.Gauge({
  name: 'mem0gov_audit_partitions_due',
  help: 'Monthly audit partitions older than MEM0_GOV_AUDIT_RETENTION_MONTHS, waiting for `mem0-gov audit archive`',
  aggregator: 'max',
  registers: [registry],
});

export const policyRevision = new client.Gauge({
  name: 'mem0gov_policy_revision_info',
  help: 'Loaded policy bundle revision (value 1 on the current revision label)',
  labelNames: ['revision'] as const,
  aggregator: 'max',
  registers: [registry],
});

export const policyReloads = new client.Counter({
  name: 'mem0gov_policy_reloads_total',
  help: 'Policy bundle reload attempts by result',
  labelNames: ['result'] as const,
  registers: [registry],
});

// Shadow policy (docs/policy-rollout.md): a candidate bundle evaluated beside the enforced one.
export const policyShadowRevision = new client.Gauge({
  name: 'mem0gov_policy_shadow_revision_info',
  help: 'Loaded shadow (candidate) policy bundle revision (value 1 on the current revision label); absent when no shadow runs',
  labelNames: ['revision'] as const,
  aggregator: 'max', // several workers: one bundle, not one per worker
  registers: [registry],
});

export const policyShadowDisagreements = new client.Counter({
  name: 'mem0gov_policy_shadow_disagreements_total',
  help: 'Recorded decisions on which the shadow policy disagreed with the enforced one (both "allowed": answer or content rules differ)',
  labelNames: ['enforced_reason', 'shadow_reason', 'route'] as const,
  registers: [registry],
});

export const policyShadowErrors = new client.Counter({
  name: 'mem0gov_policy_shadow_errors_total',
  help: 'Shadow policy failures by stage (load: a shadow bundle rejected; eval: an evaluation failed). Never change a decision',
  labelNames: ['stage'] as const,
  registers: [registry],
});

export const redisFailMode = new client.Counter({
  name: 'mem0gov_redis_failure_mode_total',
  help: 'Requests decided by a Redis failure mode (open/closed) instead of Redis',
  labelNames: ['component', 'mode'] as const,
  registers: [registry],
});

export const breakGlassUse = new client.Counter({
  name: 'mem0gov_break_glass_requests_total',
  help: 'Requests allowed under a break-glass grant',
  labelNames: ['tenant'] as const,
  registers: [registry],
});

export const crossTenantAttempts = new client.Counter({
  name: 'mem0gov_cross_tenant_attempts_total',
  help: 'Requests denied because they named another tenant\'s entity or memory',
  labelNames: ['tenant'] as const,
  registers: [registry],
});

export const revokedTokenUse = new client.Counter({
  name: 'mem0gov_revoked_credential_use_total',
  help: 'Requests presenting a revoked token, subject, agent or tenant',
  labelNames: ['tenant'] as const,
  registers: [registry],
});

// ---- response stage (Envoy ext_proc) ----

export const outcomes = new client.Counter({
  name: 'mem0gov_outcomes_total',
  help: 'Outcome rows recorded for allowed requests, by route and Mem0 status class',
  labelNames: ['route', 'status_class'] as const,
  registers: [registry],
});

export const responseWithheld = new client.Counter({
  name: 'mem0gov_response_withheld_total',
  help: 'Items removed from Mem0 answers: PHI the caller may not see, other tenants\' entities in GET /entities',
  labelNames: ['tenant', 'why'] as const,
  registers: [registry],
});

export const responseCrossTenant = new client.Counter({
  name: 'mem0gov_response_cross_tenant_total',
  help: 'Memories of another tenant found in a per-tenant answer and removed (Mem0 or policy misbehaved)',
  labelNames: ['tenant', 'route'] as const,
  registers: [registry],
});

export const responseStageFailures = new client.Counter({
  name: 'mem0gov_response_stage_failures_total',
  help: 'Answers the response stage refused to release, by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const contentActions = new client.Counter({
  name: 'mem0gov_content_actions_total',
  help: 'Write bodies rewritten by content rules (flagged, masked); blocked ones are decisions',
  labelNames: ['tenant', 'action'] as const,
  registers: [registry],
});

// ---- process group (MEM0_GOV_WORKERS > 1; authz/src/cluster/) ----

export const workerRestarts = new client.Counter({
  name: 'mem0gov_worker_restarts_total',
  help: 'Workers that ended without being asked to and were started again (same index, same audit chain)',
  labelNames: ['worker'] as const,
  registers: [registry],
});

/** What /metrics answers: this process's registry, or in a worker the whole group's (cluster/worker.ts sets it). */
let metricsSource: () => Promise<string> = () => registry.metrics();
export function metricsText(): Promise<string> {
  return metricsSource();
}
export function setMetricsSource(source: () => Promise<string>): void {
  metricsSource = source;
}

// Runs DESIGN's decision pipeline in its contractual order:
//   parse → authenticate → Redis gate → owner lookup → policy → audit → respond.
// Every outcome, including every error, is audited before the answer; if the audit
// cannot be made durable the answer is 503 `error` (fail closed).
import { randomUUID } from 'node:crypto';
import { PipelineStop } from './types.js';
import type {
  AuditEvent,
  AuditSink,
  BreakGlassGrant,
  DecisionValue,
  Gate,
  Identity,
  Mem0Request,
  MemoryOwner,
  OwnerLookup,
  PolicyDecision,
  PolicyEngine,
  Verdict,
} from './types.js';
import type { Authenticator } from './identity/jwt.js';
import { bodyDigest, parseCheck } from './request/parse.js';
import type { ParseOptions, RawCheck } from './request/parse.js';
import { buildPolicyInput } from './policy/input.js';
import { allowVerdict, denyVerdict } from './respond/verdict.js';
import * as metrics from './metrics.js';
import type { Logger } from './logger.js';

export interface PipelineDeps {
  parse: ParseOptions;
  authenticator: Authenticator;
  gate: Gate;
  owners: OwnerLookup;
  policy: PolicyEngine;
  audit: AuditSink;
  logger: Logger;
  mem0ApiKey?: string;
  clock?: () => number;
}

export interface Outcome {
  decision: DecisionValue;
  reason: string;
  status: number;
  decisionId: string;
  verdict: Verdict;
}

interface Trace {
  req?: Mem0Request;
  identity?: Identity;
  owner?: MemoryOwner;
  breakGlass?: BreakGlassGrant;
  policy?: PolicyDecision;
  notes: string[];
}

/** Errors from stages carry `reason` (e.g. owner lookup → `owner_lookup_failed`). */
function reasonOf(err: unknown, fallback: string): string {
  const r = (err as { reason?: unknown } | null)?.reason;
  return typeof r === 'string' && /^[a-z0-9_]+$/.test(r) ? r : fallback;
}

function timed<T>(stage: string, fn: () => T): T {
  const end = metrics.checkDuration.startTimer({ stage });
  try {
    const out = fn();
    if (out instanceof Promise) return out.finally(end) as T;
    end();
    return out;
  } catch (err) {
    end();
    throw err;
  }
}

export function createPipeline(deps: PipelineDeps): (raw: RawCheck) => Promise<Outcome> {
  const clock = deps.clock ?? Date.now;
  const log = deps.logger;

  async function evaluate(raw: RawCheck, t: Trace): Promise<{ decision: DecisionValue; reason: string; status: number; headers: Record<string, string> }> {
    const req = timed('parse', () => parseCheck(raw, deps.parse));
    t.req = req;
    const identity = await timed('authenticate', () => deps.authenticator.authenticate(raw.headers.authorization));
    t.identity = identity;
    const gate = await timed('gate', () => deps.gate.check(identity, req, clock()));
    if (!gate.ok) return { decision: gate.decision, reason: gate.reason, status: gate.status, headers: gate.clientHeaders };
    t.notes.push(...gate.notes);
    if (gate.breakGlass) t.breakGlass = gate.breakGlass;
    if (req.memoryId !== undefined) {
      try {
        t.owner = await timed('owner', () => deps.owners.lookup(req.memoryId!, req.requestId));
      } catch (err) {
        throw new PipelineStop('error', reasonOf(err, 'owner_lookup_failed'), 503);
      }
    }
    const input = buildPolicyInput(req, identity, t.owner, t.breakGlass, clock());
    const pd = timed('policy', () => deps.policy.evaluate(input));
    t.policy = pd;
    const headers = { ...gate.clientHeaders, ...(pd.headers ?? {}) };
    if (pd.allow) return { decision: 'allow', reason: 'allowed', status: 200, headers };
    return { decision: 'deny', reason: pd.reasons[0] ?? 'denied', status: pd.status ?? 403, headers };
  }

  return async function decide(raw: RawCheck): Promise<Outcome> {
    const started = process.hrtime.bigint();
    const decisionId = randomUUID();
    const t: Trace = { notes: [] };
    let result: { decision: DecisionValue; reason: string; status: number; headers: Record<string, string> };
    try {
      result = await evaluate(raw, t);
    } catch (err) {
      if (err instanceof PipelineStop) {
        result = { decision: err.decision, reason: err.reason, status: err.status, headers: err.headers };
        // Malformed requests stop before authentication; for the audit row only, name the
        // caller when the token verifies, so auditors can attribute bad input too.
        if (!t.identity && t.req === undefined && raw.headers.authorization) {
          t.identity = await deps.authenticator.authenticate(raw.headers.authorization).catch(() => undefined);
        }
      } else {
        log.error({ err: { message: (err as Error)?.message }, requestId: raw.requestId }, 'pipeline error');
        result = { decision: 'error', reason: reasonOf(err, 'internal_error'), status: 503, headers: {} };
      }
    }
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    const event = auditEvent(raw, t, result, decisionId, latencyMs, deps.policy.revision(), clock());
    try {
      await timed('audit', () => deps.audit.append(event));
    } catch (err) {
      log.error({ err: { message: (err as Error)?.message }, requestId: raw.requestId, decisionId }, 'audit not durable: failing closed');
      result = { decision: 'error', reason: 'audit_unavailable', status: 503, headers: {} };
    }
    metrics.decisions.inc({ decision: result.decision, reason: result.reason });
    metrics.checkDuration.observe({ stage: 'total' }, Number(process.hrtime.bigint() - started) / 1e9);
    // cross_tenant is only ever a policy reason; memory_cross_tenant hides behind a 404.
    if (t.policy?.reasons.includes('cross_tenant') || auditReasons(t.policy).includes('memory_cross_tenant')) {
      metrics.crossTenantAttempts.inc({ tenant: t.identity?.tenant ?? 'unknown' });
    }
    if (result.decision === 'allow' && t.policy?.break_glass) metrics.breakGlassUse.inc({ tenant: t.identity?.tenant ?? 'unknown' });

    log.info(
      {
        requestId: raw.requestId,
        decisionId,
        decision: result.decision,
        reason: result.reason,
        status: result.status,
        route: t.req?.route,
        sub: t.identity?.subject,
        tenant: t.identity?.tenant,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
      },
      'decision',
    );

    const verdict: Verdict =
      result.decision === 'allow' && t.identity
        ? allowVerdict({
            identity: t.identity,
            decisionId,
            requestId: raw.requestId,
            clientHeaders: result.headers,
            incomingHeaders: Object.keys(raw.headers),
            breakGlass: t.policy?.break_glass === true,
            ...(deps.mem0ApiKey !== undefined ? { mem0ApiKey: deps.mem0ApiKey } : {}),
          })
        : denyVerdict({
            decision: result.decision === 'allow' ? 'error' : result.decision,
            reason: result.reason,
            status: result.status,
            headers: result.headers,
            requestId: raw.requestId,
            decisionId,
          });
    return { decision: result.decision, reason: result.reason, status: result.status, decisionId, verdict };
  };
}

function auditReasons(pd: PolicyDecision | undefined): string[] {
  return pd?.audit_reasons ?? [];
}

function auditEvent(
  raw: RawCheck,
  t: Trace,
  r: { decision: DecisionValue; reason: string; status: number },
  decisionId: string,
  latencyMs: number,
  policyRevision: string,
  nowMs: number,
): AuditEvent {
  const q = raw.path.indexOf('?');
  const reasons = [r.reason, ...(t.policy?.reasons ?? []).filter((x) => x !== r.reason), ...t.notes];
  // Audit-only reasons the caller must not see (a 404 that hides another tenant's memory).
  for (const extra of auditReasons(t.policy)) if (!reasons.includes(extra)) reasons.push(extra);
  return {
    event_id: decisionId,
    ts: new Date(nowMs).toISOString(),
    decision: r.decision,
    reasons,
    actor_sub: t.identity?.subject ?? null,
    roles: t.identity?.roles ?? [],
    tenant: t.identity?.tenant ?? null,
    agent: t.identity?.agent ?? null,
    session: t.identity?.sessionId ?? null,
    action: t.req?.action ?? null,
    route: t.req?.route ?? null,
    method: raw.method.toUpperCase(),
    path: (t.req?.path ?? (q === -1 ? raw.path : raw.path.slice(0, q))).slice(0, 2048).replace(/[\u0000-\u001f\u007f]/g, '?'),
    entity_ids: (t.req?.entities ?? []).map((e) => `${e.kind}=${e.id}`),
    memory_id: t.req?.memoryId ?? null,
    source_ip: raw.sourceIp || null,
    request_id: raw.requestId,
    policy_revision: policyRevision,
    break_glass: t.policy?.break_glass === true,
    phi: t.policy?.phi === true || t.req?.phiInBody === true || t.owner?.phi === true,
    latency_ms: Math.round(latencyMs * 1000) / 1000,
    body_digest: t.req?.bodyDigest ?? bodyDigest(raw.body) ?? null,
    status: r.status,
  };
}

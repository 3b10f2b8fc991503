// Runs the decision pipeline in its contractual order (docs/DESIGN.md):
//   parse → authenticate → Redis gate → owner lookup → policy (+ content rules) → audit → respond.
// Every stage fails the same way: it throws a PipelineStop (errors.ts) with a stable reason.
// Every outcome, including every error, is audited before the answer; if the audit cannot be
// made durable the answer is 503 `error` (fail closed). The per-request context grows one
// immutable step per stage and feeds the one row builder (record.ts).
//
// Two hooks keep it available under load (docs/DESIGN.md "Availability"):
//   admission — at most `maxInFlight` checks are decided at once; beyond that a check is refused
//               at once (503 `overloaded`, Retry-After), audited, without authentication or Redis;
//   deadline  — the caller's deadline (Envoy's ext_authz timeout, from the gRPC call): a check
//               whose caller already gave up when we get to it is dropped (no decision, no row,
//               mem0gov_checks_expired_total); one whose deadline passes while it is decided is
//               not charged to limits (no gate call after it), and its row never says it was
//               answered: `deadline_exceeded` when it passed before the row was written, a
//               follow-up `answer_not_delivered` outcome row when it passed after (and a 503 goes
//               out instead of the decision).
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { asStop, PipelineStop, stop } from './errors.js';
import type { AuditSink, DecisionValue, Gate, Identity, Mem0Request, OwnerLookup, PolicyDecision, PolicyEngine, Verdict } from './types.js';
import type { Authenticator } from './identity/jwt.js';
import { parseCheck } from './request/parse.js';
import type { ParseOptions, RawCheck } from './request/parse.js';
import { buildPolicyInput } from './policy/input.js';
import { disagreementLabels } from './policy/shadow.js';
import { allowVerdict, denyVerdict } from './respond/verdict.js';
import { decisionRow, undeliveredRow, type DecisionContext } from './record.js';
import { encodeContext, type ResponseContext } from './response/context.js';
import { checkContent, type ContentCheck } from './content/check.js';
import * as metrics from './metrics.js';
import type { Logger } from './logger.js';
import { createLogLimiter } from './log-limit.js';
import type { SpanAttributes, TraceScope, Tracing } from './tracing/index.js';
import { parseTraceparent, pickTraceparent } from './tracing/traceparent.js';

/** What the transport knows about the call: when the caller gives up, and whether it has. */
export interface CheckCall {
  /** performance.now() after which nobody waits for the answer (Envoy's timeout); none = Infinity. */
  deadline?: number;
  /** The caller is gone (Envoy cancelled the call when its timeout fired). */
  cancelled?: () => boolean;
  /** W3C traceparent of the call itself (gRPC metadata: Envoy's ext_authz span), for tracing. */
  traceparent?: string;
}

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
  /** Admission: checks decided at once (MEM0_GOV_MAX_IN_FLIGHT); unset = no bound. */
  maxInFlight?: number;
  /** Warm-up runs: no metrics, no decision log lines. */
  quiet?: boolean;
  /** OpenTelemetry spans per check and stage (tracing/); undefined = off, the path without it. */
  tracing?: Tracing;
}

export interface Outcome {
  decision: DecisionValue;
  reason: string;
  status: number;
  decisionId: string;
  verdict: Verdict;
  /** false when the caller had given up before the answer was ready (recorded as such). */
  delivered: boolean;
}

/** At most this much of the caller's deadline is kept back as a margin (ms). */
const DEADLINE_MARGIN_MS = 25;

/** Retry-After of an `overloaded` refusal (s). */
export const OVERLOADED_RETRY_AFTER_S = 1;

interface Result {
  decision: DecisionValue;
  reason: string;
  status: number;
  headers: Record<string, string>;
}

function timedStage<T>(stage: string, fn: () => T, trace: TraceScope | undefined): T {
  const end = metrics.checkDuration.startTimer({ stage });
  try {
    const out = trace === undefined ? fn() : trace.stage(stage, fn);
    if (out instanceof Promise) return out.finally(end) as T;
    end();
    return out;
  } catch (err) {
    end();
    throw err;
  }
}

/** Thrown inside evaluate() with the context reached so far, so the row names what was known. */
class StopAt extends Error {
  constructor(readonly stop: PipelineStop, readonly ctx: DecisionContext) {
    super(stop.message);
  }
}

export type Decide = ((raw: RawCheck, call?: CheckCall) => Promise<Outcome>) & {
  /** Checks being decided now (admitted, not yet answered). */
  inFlight(): number;
};

export function createPipeline(deps: PipelineDeps): Decide {
  const clock = deps.clock ?? Date.now;
  const log = deps.logger;
  const quiet = deps.quiet === true;
  const maxInFlight = deps.maxInFlight ?? Infinity;
  const limited = createLogLimiter();
  let inFlight = 0;

  async function evaluate(start: DecisionContext, late: () => boolean, trace: TraceScope | undefined): Promise<{ ctx: DecisionContext; result: Result }> {
    const timed = <T>(stage: string, fn: () => T): T => timedStage(stage, fn, trace);
    let ctx = start;
    const fail = (err: unknown): never => {
      throw new StopAt(asStop(err), ctx);
    };
    // 1. parse. A malformed request is still attributed to its caller when the token verifies:
    // authenticate once, then let the parse failure decide.
    let req: Mem0Request | undefined;
    let parseStop: PipelineStop | undefined;
    try {
      req = timed('parse', () => parseCheck(ctx.raw, deps.parse));
      ctx = { ...ctx, req };
    } catch (err) {
      parseStop = asStop(err);
    }
    // 2. authenticate
    let identity: Identity;
    try {
      identity = await timed('authenticate', () => deps.authenticator.authenticate(ctx.raw.headers.authorization, ctx.raw.headers));
      ctx = { ...ctx, identity };
    } catch (err) {
      if (parseStop) throw new StopAt(parseStop, ctx);
      return fail(err);
    }
    if (parseStop || !req) throw new StopAt(parseStop ?? stop('internal_error'), ctx);
    // Nobody waits for this answer any more: charge no limit, look nothing up.
    if (late()) throw new StopAt(stop('deadline_exceeded'), ctx);
    // 3. gate
    const gate = await timed('gate', () => deps.gate.check(identity, req, clock()));
    if (!gate.ok) throw new StopAt(new PipelineStop(gate.decision, gate.reason, gate.status, gate.clientHeaders), ctx);
    ctx = { ...ctx, notes: gate.notes };
    // 4. owner
    if (req.memoryId !== undefined) {
      if (late()) throw new StopAt(stop('deadline_exceeded'), ctx);
      try {
        const owner = await timed('owner', () => deps.owners.lookup(req.memoryId!, req.requestId));
        ctx = { ...ctx, owner };
      } catch (err) {
        fail(err instanceof PipelineStop ? err : stop('owner_lookup_failed', {}, err));
      }
    }
    // 5. policy, then the tenant's content rules on writes (block mode refuses here)
    const input = buildPolicyInput(req, identity, ctx.owner, gate.breakGlass, clock());
    let pd: PolicyDecision;
    try {
      pd = timed('policy', () => deps.policy.evaluate(input));
    } catch (err) {
      return fail(err);
    }
    ctx = { ...ctx, policy: pd, policyInput: input };
    const headers = { ...gate.clientHeaders, ...(pd.headers ?? {}) };
    if (!pd.allow) return { ctx, result: { decision: 'deny', reason: pd.reasons[0] ?? 'policy_error', status: pd.status ?? 403, headers } };
    // An allow must say what the response stage enforces; without it nothing may be released.
    if (pd.answer === undefined) return fail(stop('policy_eval_failed'));
    if (pd.content !== undefined && pd.content !== null && req.body !== undefined) {
      let content: ContentCheck;
      try {
        content = timed('content', () => checkContent(pd.content, req.body!));
      } catch (err) {
        return fail(err instanceof PipelineStop ? err : stop('content_rules_invalid', {}, err));
      }
      // Types and counts only: the rewritten body is the response stage's to produce.
      ctx = { ...ctx, content: { mode: content.mode, action: content.action, findings: content.findings } };
      if (content.action === 'blocked') return { ctx, result: { decision: 'deny', reason: 'content_blocked', status: 422, headers } };
    }
    return { ctx, result: { decision: 'allow', reason: 'allowed', status: 200, headers } };
  }

  async function decide(raw: RawCheck, call: CheckCall = {}): Promise<Outcome> {
    const started = process.hrtime.bigint();
    const decisionId = randomUUID();
    const nowMs = clock();
    // Our view of the caller's deadline is a little late (the call's headers may have waited in
    // the socket before they were read): an answer ready in the last stretch before it is treated
    // as too late rather than risk recording an answer nobody received.
    const deadline = call.deadline === undefined || !Number.isFinite(call.deadline) ? Infinity
      : call.deadline - Math.min(DEADLINE_MARGIN_MS, (call.deadline - performance.now()) / 10);
    const late = (): boolean => performance.now() >= deadline || call.cancelled?.() === true;
    // Tracing (docs/tracing.md): the parent is Envoy's ext_authz span (the call's metadata), else
    // the request's own traceparent; its trace id goes into the row and the log line either way.
    const traceparent = pickTraceparent(call.traceparent, raw.headers.traceparent);
    const trace = quiet ? undefined : deps.tracing?.start('mem0-gov check', traceparent, { 'mem0_gov.decision_id': decisionId, 'mem0_gov.request_id': raw.requestId });
    const traceId = trace?.traceId ?? parseTraceparent(traceparent)?.traceId;
    const start: DecisionContext = { raw, decisionId, nowMs, notes: [], policyRevision: deps.policy.revision(), ...(traceId !== undefined ? { traceId } : {}) };
    let ctx: DecisionContext = start;
    let result: Result;
    let admitted = false;
    if (late()) {
      // The caller gave up before we looked at the check (it waited behind others): nothing is
      // decided, nothing charged, nothing recorded — Envoy answered 503 and logged it.
      // Should the caller still be there after all, it gets a 503 naming no decision (none was made).
      if (!quiet) metrics.checksExpired.inc();
      trace?.set({ 'mem0_gov.decision': 'error', 'mem0_gov.reason': 'deadline_exceeded' });
      trace?.end(true);
      const verdict = denyVerdict({ decision: 'error', reason: 'deadline_exceeded', status: 503, headers: {}, requestId: raw.requestId, decisionId: '' });
      if (!verdict.allowed) delete verdict.headers['x-mem0-gov-decision-id'];
      return { decision: 'error', reason: 'deadline_exceeded', status: 503, decisionId: '', verdict, delivered: false };
    }
    if (inFlight >= maxInFlight) {
      // Admission: refuse at once, before any work, and say when to come back.
      result = { decision: 'error', reason: 'overloaded', status: 503, headers: { 'retry-after': String(OVERLOADED_RETRY_AFTER_S) } };
      if (!quiet) limited('warn', log, 'overloaded', { maxInFlight, reason: 'overloaded' }, 'more checks in flight than MEM0_GOV_MAX_IN_FLIGHT: refusing with 503 overloaded');
    } else {
      admitted = true;
      inFlight++;
      try {
        ({ ctx, result } = await evaluate(start, late, trace));
      } catch (err) {
        const s = err instanceof StopAt ? err.stop : asStop(err);
        ctx = err instanceof StopAt ? err.ctx : start;
        if (s.audit !== undefined) ctx = { ...ctx, stopAudit: s.audit };
        if (s.reason === 'internal_error') log.error({ err: { message: (s.cause as Error | undefined)?.message }, requestId: raw.requestId, traceId }, 'pipeline error');
        result = { decision: s.decision, reason: s.reason, status: s.status, headers: s.headers };
      }
    }
    try {
      return await finish(raw, ctx, result, started, late, Number.isFinite(deadline), trace);
    } finally {
      if (admitted) inFlight--;
      trace?.end();
    }
  }

  async function finish(raw: RawCheck, ctxIn: DecisionContext, resultIn: Result, started: bigint, late: () => boolean, hasDeadline: boolean, trace: TraceScope | undefined): Promise<Outcome> {
    const timed = <T>(stage: string, fn: () => T): T => timedStage(stage, fn, trace);
    let ctx = ctxIn;
    let result = resultIn;
    const decisionId = ctx.decisionId;
    // Written with the deadline in mind: a decision nobody waits for is not recorded as answered.
    if (late() && result.reason !== 'deadline_exceeded') {
      ctx = { ...ctx, undelivered: { decision: result.decision, reason: result.reason, status: result.status } };
      result = { decision: 'error', reason: 'deadline_exceeded', status: 503, headers: {} };
    }
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    try {
      await timed('audit', () => deps.audit.append(decisionRow(ctx, result, latencyMs)));
    } catch (err) {
      limited('error', log, 'audit-not-durable', { err: { message: (err as Error)?.message }, requestId: raw.requestId, decisionId, traceId: ctx.traceId }, 'audit not durable: failing closed');
      result = { decision: 'error', reason: 'audit_unavailable', status: 503, headers: {} };
    }
    // The row is durable; if the caller gave up meanwhile, the answer goes nowhere: say so. One
    // turn of the event loop first, so a cancellation already in the socket is seen.
    let delivered = result.reason !== 'deadline_exceeded';
    if (delivered && hasDeadline) await new Promise<void>((r) => setImmediate(r));
    if (delivered && late()) {
      delivered = false;
      deps.audit.append(undeliveredRow(ctx, result, clock())).catch((err: unknown) => {
        limited('error', log, 'undelivered-not-durable', { err: { message: (err as Error)?.message }, decisionId }, 'answer_not_delivered row not durable');
      });
    }
    if (!quiet) {
      metrics.decisions.inc({ decision: result.decision, reason: result.reason });
      metrics.checkDuration.observe({ stage: 'total' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
    const pd = ctx.policy;
    // cross_tenant is only ever a policy reason; memory_cross_tenant hides behind a 404.
    if (!quiet && (pd?.reasons.includes('cross_tenant') || pd?.audit_reasons?.includes('memory_cross_tenant'))) {
      metrics.crossTenantAttempts.inc({ tenant: ctx.identity?.tenant ?? 'unknown' });
    }
    if (!quiet && result.decision === 'allow' && pd?.break_glass) metrics.breakGlassUse.inc({ tenant: ctx.identity?.tenant ?? 'unknown' });
    // A shadow policy that disagreed (recorded in the row's detail.shadow); never warm-up's (quiet).
    const shadowLabels = quiet ? undefined : disagreementLabels(pd, ctx.req?.route);
    if (shadowLabels !== undefined) metrics.policyShadowDisagreements.inc(shadowLabels);

    if (!quiet && result.reason !== 'overloaded') log.info(
      {
        requestId: raw.requestId,
        decisionId,
        decision: result.decision,
        reason: result.reason,
        status: result.status,
        route: ctx.req?.route,
        sub: ctx.identity?.subject,
        tenant: ctx.identity?.tenant,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
        traceId: ctx.traceId,
      },
      'decision',
    );
    trace?.set(spanAttributes(ctx, result));

    if (!delivered && result.reason !== 'deadline_exceeded') {
      // Recorded as not delivered: whatever still reaches the caller must not be this decision.
      // A 503 `deadline_exceeded` goes out instead (or Envoy's own 503, if it already gave up).
      const verdict = denyVerdict({ decision: 'error', reason: 'deadline_exceeded', status: 503, headers: {}, requestId: raw.requestId, decisionId });
      return { decision: 'error', reason: 'deadline_exceeded', status: 503, decisionId, verdict, delivered };
    }
    if (result.decision === 'allow' && ctx.identity && ctx.req && pd?.answer !== undefined) {
      // The owner routes leave effects the next decisions must see: an allowed update or delete
      // evicts the cached owner now (Mem0 answers after), a delete records a tombstone.
      await ownerEffects(ctx);
      const verdict = allowVerdict({
        identity: ctx.identity,
        decisionId,
        requestId: raw.requestId,
        clientHeaders: result.headers,
        incomingHeaders: Object.keys(raw.headers),
        breakGlass: pd.break_glass === true,
        context: encodeContext(responseContext(ctx, pd)),
        ...(deps.mem0ApiKey !== undefined ? { mem0ApiKey: deps.mem0ApiKey } : {}),
      });
      return { decision: 'allow', reason: result.reason, status: result.status, decisionId, verdict, delivered };
    }
    const verdict = denyVerdict({
      decision: result.decision === 'allow' ? 'error' : result.decision,
      reason: result.decision === 'allow' ? 'internal_error' : result.reason,
      status: result.decision === 'allow' ? 503 : result.status,
      headers: result.headers,
      requestId: raw.requestId,
      decisionId,
    });
    return { decision: result.decision, reason: result.reason, status: result.status, decisionId, verdict, delivered };
  }

  return Object.assign(decide, { inFlight: () => inFlight });

  async function ownerEffects(ctx: DecisionContext): Promise<void> {
    const req = ctx.req!;
    if (req.memoryId === undefined || (req.route !== 'memories.delete' && req.route !== 'memories.update')) return;
    try {
      if (req.route === 'memories.delete' && ctx.owner) await deps.owners.tombstone(req.memoryId, ctx.owner);
      await deps.owners.evict(req.memoryId);
    } catch (err) {
      // The response stage evicts again once Mem0 answered; a stale cache entry lives at most
      // MEM0_GOV_OWNER_CACHE_SECONDS and only ever names the same owner.
      limited('warn', log, 'owner-evict', { err: { message: (err as Error).message }, requestId: req.requestId }, 'owner cache eviction failed');
    }
  }
}

/** The check span's attributes: what was decided and for whom; never a token or content. */
function spanAttributes(ctx: DecisionContext, result: Result): SpanAttributes {
  return {
    'mem0_gov.decision': result.decision,
    'mem0_gov.reason': result.reason,
    'mem0_gov.status': result.status,
    'mem0_gov.route': ctx.req?.route,
    'mem0_gov.tenant': ctx.identity?.tenant,
  };
}

function responseContext(ctx: DecisionContext, pd: PolicyDecision): ResponseContext {
  const req = ctx.req!;
  const id = ctx.identity!;
  const c: ResponseContext = {
    v: 1,
    decisionId: ctx.decisionId,
    requestId: ctx.raw.requestId,
    route: req.route,
    action: req.action,
    method: req.method,
    path: req.path,
    identity: { subject: id.subject, roles: [...id.roles], tenant: id.tenant, ...(id.agent !== undefined ? { agent: id.agent } : {}), ...(id.sessionId !== undefined ? { sessionId: id.sessionId } : {}) },
    entityIds: req.entities.map((e) => `${e.kind}=${e.id}`),
    sourceIp: ctx.raw.sourceIp,
    policyRevision: pd.revision ?? ctx.policyRevision,
    breakGlass: pd.break_glass === true,
    answer: pd.answer!,
    content: pd.content ?? null,
    decidedAtMs: ctx.nowMs,
    phi: pd.phi === true || req.phiInBody,
  };
  if (req.memoryId !== undefined) c.memoryId = req.memoryId;
  if (ctx.owner !== undefined) c.owner = ctx.owner;
  return c;
}

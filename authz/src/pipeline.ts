// Runs the decision pipeline in its contractual order (docs/DESIGN.md):
//   parse → authenticate → Redis gate → owner lookup → policy (+ content rules) → audit → respond.
// Every stage fails the same way: it throws a PipelineStop (errors.ts) with a stable reason.
// Every outcome, including every error, is audited before the answer; if the audit cannot be
// made durable the answer is 503 `error` (fail closed). The per-request context grows one
// immutable step per stage and feeds the one row builder (record.ts).
import { randomUUID } from 'node:crypto';
import { asStop, PipelineStop, stop } from './errors.js';
import type { AuditSink, DecisionValue, Gate, Identity, Mem0Request, OwnerLookup, PolicyDecision, PolicyEngine, Verdict } from './types.js';
import type { Authenticator } from './identity/jwt.js';
import { parseCheck } from './request/parse.js';
import type { ParseOptions, RawCheck } from './request/parse.js';
import { buildPolicyInput } from './policy/input.js';
import { allowVerdict, denyVerdict } from './respond/verdict.js';
import { decisionRow, type DecisionContext } from './record.js';
import { encodeContext, type ResponseContext } from './response/context.js';
import { checkContent, type ContentCheck } from './content/check.js';
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

interface Result {
  decision: DecisionValue;
  reason: string;
  status: number;
  headers: Record<string, string>;
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

/** Thrown inside evaluate() with the context reached so far, so the row names what was known. */
class StopAt extends Error {
  constructor(readonly stop: PipelineStop, readonly ctx: DecisionContext) {
    super(stop.message);
  }
}

export function createPipeline(deps: PipelineDeps): (raw: RawCheck) => Promise<Outcome> {
  const clock = deps.clock ?? Date.now;
  const log = deps.logger;

  async function evaluate(start: DecisionContext): Promise<{ ctx: DecisionContext; result: Result }> {
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
      identity = await timed('authenticate', () => deps.authenticator.authenticate(ctx.raw.headers.authorization));
      ctx = { ...ctx, identity };
    } catch (err) {
      if (parseStop) throw new StopAt(parseStop, ctx);
      return fail(err);
    }
    if (parseStop || !req) throw new StopAt(parseStop ?? stop('internal_error'), ctx);
    // 3. gate
    const gate = await timed('gate', () => deps.gate.check(identity, req, clock()));
    if (!gate.ok) throw new StopAt(new PipelineStop(gate.decision, gate.reason, gate.status, gate.clientHeaders), ctx);
    ctx = { ...ctx, notes: gate.notes };
    // 4. owner
    if (req.memoryId !== undefined) {
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
    ctx = { ...ctx, policy: pd };
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

  return async function decide(raw: RawCheck): Promise<Outcome> {
    const started = process.hrtime.bigint();
    const decisionId = randomUUID();
    const nowMs = clock();
    const start: DecisionContext = { raw, decisionId, nowMs, notes: [], policyRevision: deps.policy.revision() };
    let ctx: DecisionContext;
    let result: Result;
    try {
      ({ ctx, result } = await evaluate(start));
    } catch (err) {
      const s = err instanceof StopAt ? err.stop : asStop(err);
      ctx = err instanceof StopAt ? err.ctx : start;
      if (s.reason === 'internal_error') log.error({ err: { message: (s.cause as Error | undefined)?.message }, requestId: raw.requestId }, 'pipeline error');
      result = { decision: s.decision, reason: s.reason, status: s.status, headers: s.headers };
    }
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    try {
      await timed('audit', () => deps.audit.append(decisionRow(ctx, result, latencyMs)));
    } catch (err) {
      log.error({ err: { message: (err as Error)?.message }, requestId: raw.requestId, decisionId }, 'audit not durable: failing closed');
      result = { decision: 'error', reason: 'audit_unavailable', status: 503, headers: {} };
    }
    metrics.decisions.inc({ decision: result.decision, reason: result.reason });
    metrics.checkDuration.observe({ stage: 'total' }, Number(process.hrtime.bigint() - started) / 1e9);
    const pd = ctx.policy;
    // cross_tenant is only ever a policy reason; memory_cross_tenant hides behind a 404.
    if (pd?.reasons.includes('cross_tenant') || pd?.audit_reasons?.includes('memory_cross_tenant')) {
      metrics.crossTenantAttempts.inc({ tenant: ctx.identity?.tenant ?? 'unknown' });
    }
    if (result.decision === 'allow' && pd?.break_glass) metrics.breakGlassUse.inc({ tenant: ctx.identity?.tenant ?? 'unknown' });

    log.info(
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
      },
      'decision',
    );

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
      return { decision: 'allow', reason: result.reason, status: result.status, decisionId, verdict };
    }
    const verdict = denyVerdict({
      decision: result.decision === 'allow' ? 'error' : result.decision,
      reason: result.decision === 'allow' ? 'internal_error' : result.reason,
      status: result.decision === 'allow' ? 503 : result.status,
      headers: result.headers,
      requestId: raw.requestId,
      decisionId,
    });
    return { decision: result.decision, reason: result.reason, status: result.status, decisionId, verdict };
  };

  async function ownerEffects(ctx: DecisionContext): Promise<void> {
    const req = ctx.req!;
    if (req.memoryId === undefined || (req.route !== 'memories.delete' && req.route !== 'memories.update')) return;
    try {
      if (req.route === 'memories.delete' && ctx.owner) await deps.owners.tombstone(req.memoryId, ctx.owner);
      await deps.owners.evict(req.memoryId);
    } catch (err) {
      // The response stage evicts again once Mem0 answered; a stale cache entry lives at most
      // MEM0_GOV_OWNER_CACHE_SECONDS and only ever names the same owner.
      log.warn({ err: { message: (err as Error).message }, requestId: req.requestId }, 'owner cache eviction failed');
    }
  }
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

// The one place audit rows are built: decision rows (pipeline), outcome rows (response stage),
// config-change rows (service) and admin rows (CLI). Each builder takes an immutable context
// and returns a complete AuditEvent; adding a column means changing AuditEvent and the base
// below, nothing else. Rows never carry tokens or memory content (ids, counts, digests only).
import { createHash, randomUUID } from 'node:crypto';
import type { AdminAction, AuditEvent, DecisionValue, Identity, Mem0Request, MemoryOwner, PolicyDecision, PolicyInput, RowKind } from './types.js';
import { policyInputDigest } from './policy/replay-input.js';
import { shadowDetail } from './policy/shadow.js';
import type { RawCheck } from './request/parse.js';
import { bodyDigest, describeForAudit } from './request/parse.js';
import { jcs } from './audit/jcs.js';

/** What the pipeline knows about one request when it decides; each field set by its stage. */
export interface DecisionContext {
  readonly raw: RawCheck;
  readonly decisionId: string;
  readonly nowMs: number;
  readonly req?: Mem0Request;
  readonly identity?: Identity;
  /** Gate notes worth auditing on pass (e.g. `ratelimit_fail_open`). */
  readonly notes: readonly string[];
  readonly owner?: MemoryOwner;
  readonly policy?: PolicyDecision;
  /** What the policy was given (set with `policy`): its digest lets `policy replay` rebuild it. */
  readonly policyInput?: PolicyInput;
  /** Content rules' result on a write: detector types and counts, never the text. */
  readonly content?: { mode: string; action: string; findings: { type: string; count: number }[] };
  /** The bundle revision when no policy decision was made (stops before stage 5). */
  readonly policyRevision: string;
  /**
   * The caller's deadline passed before this decision was recorded: what it would have answered.
   * The row then says `deadline_exceeded` (nothing was answered) and keeps this in `detail`.
   */
  readonly undelivered?: DecisionResult;
  /** The W3C trace this check belongs to (docs/tracing.md), for `detail.trace_id`. */
  readonly traceId?: string;
  /** What the stop that decided knew for the row (PipelineStop.audit), e.g. a refused API key's id. */
  readonly stopAudit?: Readonly<Record<string, string>>;
}

export interface DecisionResult {
  decision: DecisionValue;
  reason: string;
  status: number;
}

type Detail = Record<string, unknown>;

function detailText(d: Detail | undefined, keepEmpty = false): string | null {
  if (d === undefined) return null;
  const kept = Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined));
  return Object.keys(kept).length === 0 && !keepEmpty ? null : jcs(kept);
}

// Paths are audited without the query string, bounded, with control characters replaced.
function auditPath(p: string): string {
  const q = p.indexOf('?');
  return (q === -1 ? p : p.slice(0, q)).slice(0, 2048).replace(/[\u0000-\u001f\u007f]/g, '?');
}

interface Base {
  kind: RowKind;
  eventId?: string;
  nowMs: number;
  decision: DecisionValue;
  reasons: string[];
  status: number;
  identity?: { subject: string; roles: readonly string[]; tenant: string | null; agent?: string | undefined; sessionId?: string | undefined };
  action?: string | null;
  route?: string | null;
  method: string;
  path: string;
  entityIds?: string[];
  memoryId?: string | null;
  sourceIp?: string | null;
  requestId: string;
  policyRevision: string | null;
  breakGlass?: boolean;
  phi?: boolean;
  latencyMs?: number;
  bodyDigest?: string | null;
  refEventId?: string | null;
  detail?: Detail;
  keepEmptyDetail?: boolean;
}

function row(b: Base): AuditEvent {
  return {
    event_id: b.eventId ?? randomUUID(),
    ts: new Date(b.nowMs).toISOString(),
    decision: b.decision,
    reasons: b.reasons,
    actor_sub: b.identity?.subject ?? null,
    roles: b.identity ? [...b.identity.roles] : [],
    tenant: b.identity?.tenant ?? null,
    agent: b.identity?.agent ?? null,
    session: b.identity?.sessionId ?? null,
    action: b.action ?? null,
    route: b.route ?? null,
    method: b.method,
    path: b.path,
    entity_ids: b.entityIds ?? [],
    memory_id: b.memoryId ?? null,
    source_ip: b.sourceIp || null,
    request_id: b.requestId,
    policy_revision: b.policyRevision,
    break_glass: b.breakGlass === true,
    phi: b.phi === true,
    latency_ms: Math.round((b.latencyMs ?? 0) * 1000) / 1000,
    body_digest: b.bodyDigest ?? null,
    status: b.status,
    kind: b.kind,
    ref_event_id: b.refEventId ?? null,
    detail: detailText(b.detail, b.keepEmptyDetail),
  };
}

/** The owner ids of a looked-up memory, as `kind=id`, so "who touched whose memory" needs no join. */
function ownerIds(owner: MemoryOwner | undefined): string[] {
  if (!owner) return [];
  return (['user_id', 'agent_id', 'run_id'] as const).filter((k) => owner[k] !== undefined).map((k) => `owner.${k}=${owner[k]}`);
}

/** One row per decision (DESIGN "Audit chain"): every outcome, every error. */
export function decisionRow(ctx: DecisionContext, r: DecisionResult, latencyMs: number, notes: readonly string[] = []): AuditEvent {
  const pd = ctx.policy;
  const reasons = [r.reason, ...(pd?.reasons ?? []).filter((x) => x !== r.reason), ...ctx.notes, ...notes];
  // Audit-only reasons the caller must not see (a 404 that hides another tenant's memory).
  for (const extra of pd?.audit_reasons ?? []) if (!reasons.includes(extra)) reasons.push(extra);
  const req = ctx.req;
  // A request that did not parse is still described as far as it can be read: whose memories
  // a refused bulk delete named, which memory a refused update addressed.
  const seen = req === undefined ? describeForAudit(ctx.raw) : undefined;
  return row({
    kind: 'decision',
    eventId: ctx.decisionId,
    nowMs: ctx.nowMs,
    decision: r.decision,
    reasons,
    status: r.status,
    ...(ctx.identity ? { identity: ctx.identity } : {}),
    action: req?.action ?? null,
    route: req?.route ?? seen?.route ?? null,
    method: ctx.raw.method.toUpperCase(),
    path: auditPath(req?.path ?? ctx.raw.path),
    entityIds: [...(req?.entities ?? []).map((e) => `${e.kind}=${e.id}`), ...(seen?.entityIds ?? []), ...ownerIds(ctx.owner)],
    memoryId: req?.memoryId ?? seen?.memoryId ?? null,
    sourceIp: ctx.raw.sourceIp,
    requestId: ctx.raw.requestId,
    policyRevision: pd?.revision ?? ctx.policyRevision,
    breakGlass: pd?.break_glass === true,
    phi: pd?.phi === true || req?.phiInBody === true || ctx.owner?.phi === true,
    latencyMs,
    bodyDigest: req?.bodyDigest ?? bodyDigest(ctx.raw.body) ?? null,
    detail: {
      options: req && Object.keys(req.options).length > 0 ? req.options : undefined,
      content: ctx.content,
      // API-key callers are marked (with the key id, never the key); no mark: a JWT.
      credential: ctx.identity?.credential === 'api_key' ? 'api_key' : ctx.stopAudit?.credential,
      api_key_id: ctx.identity?.credential === 'api_key' ? ctx.identity.keyId : ctx.stopAudit?.api_key_id,
      undelivered: ctx.undelivered !== undefined ? { decision: ctx.undelivered.decision, reason: ctx.undelivered.reason, status: ctx.undelivered.status } : undefined,
      trace_id: ctx.traceId,
      // Policy decisions only: what `policy replay` needs beyond the row's columns, and what a
      // shadow policy decided when it disagreed (docs/policy-rollout.md).
      policy_input: ctx.policyInput !== undefined ? policyInputDigest(ctx.policyInput) : undefined,
      shadow: shadowDetail(pd?.shadow),
    },
  });
}

/**
 * The decision row was durable, but its answer reached nobody: the caller's deadline (Envoy's
 * ext_authz timeout) passed meanwhile and Envoy answered 503 on its own. An `outcome` row for the
 * decision (ref_event_id) says so; Mem0 never saw the request.
 */
export function undeliveredRow(ctx: DecisionContext, r: DecisionResult, nowMs: number): AuditEvent {
  const req = ctx.req;
  return row({
    kind: 'outcome',
    nowMs,
    decision: r.decision,
    reasons: ['outcome', 'answer_not_delivered'],
    status: 503,
    ...(ctx.identity ? { identity: ctx.identity } : {}),
    action: req?.action ?? null,
    route: req?.route ?? null,
    method: ctx.raw.method.toUpperCase(),
    path: auditPath(req?.path ?? ctx.raw.path),
    entityIds: (req?.entities ?? []).map((e) => `${e.kind}=${e.id}`),
    memoryId: req?.memoryId ?? null,
    sourceIp: ctx.raw.sourceIp,
    requestId: ctx.raw.requestId,
    policyRevision: ctx.policy?.revision ?? ctx.policyRevision,
    refEventId: ctx.decisionId,
    detail: { error: 'deadline_exceeded' },
  });
}

/** What the response stage knows of an allowed request (carried from ext_authz to ext_proc). */
export interface OutcomeContext {
  decisionId: string;
  requestId: string;
  route: string;
  action: string;
  method: string;
  path: string;
  identity: Pick<Identity, 'subject' | 'roles' | 'tenant' | 'agent' | 'sessionId'>;
  entityIds: string[];
  memoryId?: string;
  sourceIp: string;
  policyRevision: string;
  breakGlass: boolean;
}

/** What Mem0 answered to an allowed request, and what the response stage did with it. */
export interface OutcomeFacts {
  upstreamStatus: number;
  /** Status the caller got (differs when the response stage refused to release the answer). */
  status: number;
  reasons: string[];
  latencyMs: number;
  /** PHI-labelled memories were released to the caller. */
  phiReleased: boolean;
  returned?: number;
  affected?: number | null;
  withheldPhi?: string[];
  withheldCrossTenant?: string[];
  returnedIds?: string[];
  content?: DecisionContext['content'];
  error?: string;
  /** The W3C trace of the request (docs/tracing.md), for `detail.trace_id`. */
  traceId?: string;
}

/** The `outcome` row: names its decision (ref_event_id), records what Mem0 did. */
export function outcomeRow(c: OutcomeContext, f: OutcomeFacts, nowMs: number): AuditEvent {
  return row({
    kind: 'outcome',
    nowMs,
    decision: 'allow',
    reasons: ['outcome', ...f.reasons],
    status: f.status,
    identity: c.identity,
    action: c.action,
    route: c.route,
    method: c.method,
    path: c.path,
    entityIds: c.entityIds,
    memoryId: c.memoryId ?? null,
    sourceIp: c.sourceIp,
    requestId: c.requestId,
    policyRevision: c.policyRevision,
    breakGlass: c.breakGlass,
    phi: f.phiReleased,
    latencyMs: f.latencyMs,
    refEventId: c.decisionId,
    detail: {
      upstream_status: f.upstreamStatus,
      returned: f.returned,
      affected: f.affected,
      returned_ids: f.returnedIds,
      withheld_phi: f.withheldPhi !== undefined && f.withheldPhi.length > 0 ? f.withheldPhi : undefined,
      withheld_cross_tenant: f.withheldCrossTenant !== undefined && f.withheldCrossTenant.length > 0 ? f.withheldCrossTenant : undefined,
      content: f.content,
      error: f.error,
      trace_id: f.traceId,
    },
  });
}

/** A limit or other run-time setting changed in Redis, seen by this replica. */
export function configChangeRow(change: { key: string; field: string; value: string | null }, policyRevision: string, nowMs: number): AuditEvent {
  return row({
    kind: 'config',
    nowMs,
    decision: 'allow',
    reasons: ['config_changed', `value=${change.value ?? 'unset'}`],
    status: 200,
    action: 'admin',
    route: 'config.redis',
    method: 'CONFIG',
    path: `${change.key}#${change.field}`,
    requestId: randomUUID(),
    policyRevision,
    detail: { key: change.key, field: change.field, value: change.value },
  });
}

/** An admin CLI action (`mem0-gov …`), recorded before it takes effect. */
export function adminRow(a: AdminAction, nowMs: number): AuditEvent {
  const details = Object.keys(a.details).sort().map((k) => `detail:${k}=${String(a.details[k])}`);
  return row({
    kind: 'admin',
    nowMs,
    decision: 'allow',
    reasons: ['admin_action', ...details],
    status: 0,
    identity: { subject: a.actor, roles: ['admin'], tenant: /^tenant:/.test(a.target) ? a.target.slice('tenant:'.length) : null, agent: 'mem0-gov-cli' },
    action: 'admin',
    route: `cli.${a.command}`,
    method: 'CLI',
    path: a.target,
    requestId: randomUUID(),
    policyRevision: null,
    bodyDigest: sha256Hex(jcs(a.details)),
    // Always the details object, even empty: an admin row says what it was given.
    detail: a.details,
    keepEmptyDetail: true,
  });
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** An allowed read of the audit API (authz/src/auditapi/), as its decision row recorded it. */
export interface AuditReadContext {
  decisionId: string;
  requestId: string;
  route: string;
  method: string;
  path: string;
  identity: { subject: string; roles: readonly string[]; tenant: string | null; agent?: string | undefined; sessionId?: string | undefined };
  sourceIp: string | null;
  policyRevision: string | null;
}

/** What the audit API answered: rows handed out, the query (ids and times only), a download's digest. */
export interface AuditReadFacts {
  status: number;
  returned: number;
  query: Record<string, string>;
  latencyMs: number;
  sha256?: string;
  error?: string;
}

/**
 * The `outcome` row of an audit API read: names its decision (ref_event_id) like the response
 * stage's outcome rows, and records what was asked and how much was returned. Rows only, never
 * their content (which is itself audit data, not memory content).
 */
export function auditReadRow(c: AuditReadContext, f: AuditReadFacts, nowMs: number): AuditEvent {
  return row({
    kind: 'outcome',
    nowMs,
    decision: 'allow',
    reasons: ['outcome'],
    status: f.status,
    identity: c.identity,
    action: 'audit_read',
    route: c.route,
    method: c.method,
    path: c.path,
    sourceIp: c.sourceIp,
    requestId: c.requestId,
    policyRevision: c.policyRevision,
    latencyMs: f.latencyMs,
    refEventId: c.decisionId,
    detail: {
      returned: f.returned,
      query: Object.keys(f.query).length > 0 ? f.query : undefined,
      sha256: f.sha256,
      error: f.error,
    },
  });
}

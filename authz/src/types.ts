// Types at the borders between pipeline stages (DESIGN.md "Decision pipeline").
// Each stage is a module with one job; data flows one way:
//   parse (request/) → authenticate (identity/) → gate (gate/) → owner (owner/) → policy (policy/)
//   → audit (audit/) → respond (respond/)

/** Decision values: the audit column and the metrics label. Part of the public contract. */
export type DecisionValue = 'allow' | 'deny' | 'invalid_request' | 'unauthenticated' | 'rate_limited' | 'error';
export const DECISION_VALUES: readonly DecisionValue[] = [
  'allow', 'deny', 'invalid_request', 'unauthenticated', 'rate_limited', 'error',
];

export type Action = 'read' | 'write' | 'delete' | 'bulk_delete' | 'admin';

/** Stable ids for the Mem0 routes of DESIGN's table. */
export type RouteId =
  | 'memories.create'      // POST /memories
  | 'memories.list'        // GET /memories
  | 'memories.get'         // GET /memories/{id}
  | 'memories.history'     // GET /memories/{id}/history
  | 'memories.update'      // PUT /memories/{id}
  | 'memories.delete'      // DELETE /memories/{id}
  | 'memories.bulk_delete' // DELETE /memories (ids in query/body)
  | 'search'               // POST /search
  | 'reset'                // POST /reset
  | 'entities.delete'      // DELETE /entities/{type}/{id}
  | 'configure';           // POST /configure

export type EntityKind = 'user_id' | 'agent_id' | 'run_id';
export const ENTITY_KINDS: readonly EntityKind[] = ['user_id', 'agent_id', 'run_id'];

/** One entity id named by the request, and where it was named (for audit and reasons). */
export interface EntityRef {
  kind: EntityKind;
  id: string;
  /** query | body | filters | path */
  source: 'query' | 'body' | 'filters' | 'path';
}

/** Stage 1 output: a normalized request. `body` is memory content: never logged or audited. */
export interface Mem0Request {
  requestId: string;
  method: string;
  /** Path without the query string, as Envoy saw it. */
  path: string;
  route: RouteId;
  action: Action;
  memoryId?: string;
  /** Every user_id/agent_id/run_id the request names (query, body, filters, path). */
  entities: EntityRef[];
  /** Memory ids named by bulk delete. */
  memoryIds: string[];
  query: Record<string, string>;
  body?: Record<string, unknown>;
  /** sha256 hex of the raw body bytes, for audit. */
  bodyDigest?: string;
  /** The write carries PHI (metadata.phi === true or a configured classification label). */
  phiInBody: boolean;
  sourceIp: string;
  userAgent?: string;
}

/** Stage 2 output: the verified caller. Never holds the raw token. */
export interface Identity {
  subject: string;
  issuer: string;
  tenant: string;
  roles: string[];
  /** agent / client id (azp by default). */
  agent?: string;
  /** session id (`sid` claim). */
  sessionId?: string;
  jti?: string;
  /** seconds since epoch */
  iat?: number;
  authTime?: number;
  exp?: number;
}

/** Break-glass grant as stored in Redis (issue 3/4): time-limited, justified elevation. */
export interface BreakGlassGrant {
  grantId: string;
  subject: string;
  tenant: string;
  role: string;
  justification: string;
  grantedBy: string;
  /** ms since epoch */
  grantedAt: number;
  expiresAt: number;
}

/** Stage 3 (Redis gate) result. */
export type GateResult =
  | {
      ok: true;
      /** RateLimit-Limit / -Remaining / -Reset to send to the client. */
      clientHeaders: Record<string, string>;
      breakGlass?: BreakGlassGrant;
      /** Reasons worth auditing even on pass (e.g. `redis_unavailable_fail_open`). */
      notes: string[];
    }
  | {
      ok: false;
      decision: Exclude<DecisionValue, 'allow'>;
      /** Stable machine-readable reason, e.g. `rate_limited`, `token_revoked`, `session_idle_timeout`. */
      reason: string;
      status: number;
      clientHeaders: Record<string, string>;
    };

export interface Gate {
  check(identity: Identity, req: Mem0Request, nowMs: number): Promise<GateResult>;
  close(): Promise<void>;
}

/** Stage 4: owner of a memory, looked up in Mem0 and cached. */
export interface MemoryOwner {
  exists: boolean;
  user_id?: string;
  agent_id?: string;
  run_id?: string;
  phi: boolean;
}
export interface OwnerLookup {
  lookup(memoryId: string, requestId: string): Promise<MemoryOwner>;
}

/** Stage 5: the small normalized policy input (not the whole CheckRequest). */
export interface PolicyInput {
  /** ms since epoch: policy must not read the wall clock itself. */
  now_ms: number;
  request: {
    method: string;
    path: string;
    route: RouteId;
    action: Action;
    memory_id?: string;
    entities: EntityRef[];
    memory_ids: string[];
    phi_in_body: boolean;
    source_ip: string;
  };
  subject: {
    sub: string;
    tenant: string;
    roles: string[];
    agent?: string;
  };
  owner?: MemoryOwner;
  break_glass?: { role: string; expires_at_ms: number; grant_id: string };
}

/** What `mem0/authz/decision` returns. */
export interface PolicyDecision {
  allow: boolean;
  reasons: string[];
  status?: number;
  headers?: Record<string, string>;
  break_glass?: boolean;
  phi?: boolean;
  /** Reasons for the audit row only, never shown to the caller (e.g. `memory_cross_tenant`
   * behind a 404 `memory_not_found` that must not leak existence). */
  audit_reasons?: string[];
}

export interface PolicyEngine {
  evaluate(input: PolicyInput): PolicyDecision;
  /** sha256 of the loaded bundle (wasm + data), in every decision and audit row. */
  revision(): string;
}

/** Stage 6: one audit row before chaining (DESIGN "Audit chain"). No tokens, no memory content. */
export interface AuditEvent {
  event_id: string;
  ts: string; // ISO 8601 UTC, ms precision
  decision: DecisionValue;
  reasons: string[];
  actor_sub: string | null;
  roles: string[];
  tenant: string | null;
  agent: string | null;
  session: string | null;
  action: string | null;
  route: string | null;
  method: string;
  path: string;
  entity_ids: string[];
  memory_id: string | null;
  source_ip: string | null;
  request_id: string;
  policy_revision: string | null;
  break_glass: boolean;
  phi: boolean;
  latency_ms: number;
  body_digest: string | null;
  status: number;
}

export interface AuditSink {
  /** Resolves once the event is durable (PG commit or spool fsync); rejects if neither is possible. */
  append(event: AuditEvent): Promise<void>;
  close(): Promise<void>;
}

/** Stage 7 output, turned into a CheckResponse by grpc/. */
export type Verdict =
  | {
      allowed: true;
      /** Headers added to the request forwarded to Mem0. */
      upstreamHeaders: Record<string, string>;
      /** Request headers removed before Mem0. */
      removeHeaders: string[];
      /** Headers added to the response to the client. */
      clientHeaders: Record<string, string>;
    }
  | {
      allowed: false;
      status: number;
      headers: Record<string, string>;
      body: DenyBody;
    };

/** The JSON body of every denial (DESIGN step 7). */
export interface DenyBody {
  error: DecisionValue;
  reason: string;
  request_id: string;
  decision_id: string;
}

/** An error that stops the pipeline with a stable reason. */
export class PipelineStop extends Error {
  constructor(
    readonly decision: Exclude<DecisionValue, 'allow'>,
    readonly reason: string,
    readonly status: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${decision}: ${reason}`);
  }
}

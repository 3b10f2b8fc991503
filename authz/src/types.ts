// Types at the borders between pipeline stages (DESIGN.md "Decision pipeline").
// Each stage is a module with one job; data flows one way:
//   parse (request/) → authenticate (identity/) → gate (gate/) → owner (owner/) → policy (policy/)
//   → audit (audit/) → respond (respond/)

/** Decision values: the audit column and the metrics label. Part of the public contract. */
export type DecisionValue = 'allow' | 'deny' | 'invalid_request' | 'unauthenticated' | 'rate_limited' | 'error';
export const DECISION_VALUES: readonly DecisionValue[] = [
  'allow', 'deny', 'invalid_request', 'unauthenticated', 'rate_limited', 'error',
];

/** What a route does, as the policy's permissions name it (`platform`: global Mem0 routes that
 * act on every tenant; `account`: Mem0's own accounts, always denied; `audit_read`: the audit API). */
export type Action = 'read' | 'write' | 'delete' | 'bulk_delete' | 'admin' | 'platform' | 'account' | 'audit_read';

/** Stable ids for the Mem0 routes of the route table (authz/src/request/routes.ts). */
export type RouteId =
  | 'memories.create'       // POST /memories
  | 'memories.list'         // GET /memories?user_id|agent_id|run_id
  | 'memories.list_all'     // GET /memories naming no entity: every tenant's memories
  | 'memories.get'          // GET /memories/{id}
  | 'memories.history'      // GET /memories/{id}/history
  | 'memories.update'       // PUT /memories/{id}
  | 'memories.delete'       // DELETE /memories/{id}
  | 'memories.bulk_delete'  // DELETE /memories?user_id|agent_id|run_id
  | 'search'                // POST /search
  | 'entities.list'         // GET /entities
  | 'entities.delete'       // DELETE /entities/{user|agent|run}/{id}
  | 'reset'                 // POST /reset
  | 'configure.get'         // GET /configure
  | 'configure.providers'   // GET /configure/providers
  | 'configure.set'         // POST /configure
  | 'requests.list'         // GET /requests
  | 'instructions.generate' // POST /generate-instructions
  | 'docs'                  // GET / /docs /redoc /openapi.json
  | 'mem0.account'          // /auth/*, /api-keys*
  // The audit API (served by mem0-gov itself, authz/src/auditapi/), not Mem0:
  | 'audit.events'          // GET /audit/events
  | 'audit.memory'          // GET /audit/memories/{id}
  | 'audit.chains'          // GET /audit/chains
  | 'audit.export'          // GET /audit/export
  | 'audit.evidence';       // GET /audit/evidence

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
  /** Body and query fields that change what Mem0 does (they reach policy). */
  options: RequestOptions;
  query: Record<string, string>;
  body?: Record<string, unknown>;
  /** sha256 hex of the raw body bytes, for audit. */
  bodyDigest?: string;
  /** The write carries PHI (metadata.phi === true or a configured classification label). */
  phiInBody: boolean;
  sourceIp: string;
  userAgent?: string;
}

/** Fields of a request that change Mem0's behaviour, validated by the parser. Never content:
 * `custom_prompt` says whether a prompt was sent, not what it says. */
export interface RequestOptions {
  infer?: boolean;
  custom_prompt?: boolean;
  memory_type?: string;
  expiration_date?: string | null;
  show_expired?: boolean;
  explain?: boolean;
  top_k?: number;
  threshold?: number;
  /** PUT: which fields are set (text, metadata, expiration_date). */
  update_fields?: string[];
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
  /** How the caller proved who it is: a JWT (the default when absent) or a mem0-gov API key
   * (docs/api-keys.md; then `jti` is the key id, so `revoke --jti` applies). */
  credential?: 'jwt' | 'api_key';
  /** The API key's id (never its secret), when `credential` is `api_key`. */
  keyId?: string;
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
  /** The memory is gone from Mem0 but mem0-gov recorded its owner when it allowed the delete
   * (a tombstone): its history stays readable by the owner's tenant. */
  deleted?: boolean;
}
export interface OwnerLookup {
  lookup(memoryId: string, requestId: string): Promise<MemoryOwner>;
  /** Forgets the cached owner (after an allowed update or delete). */
  evict(memoryId: string): Promise<void>;
  /** Records the owner of a memory about to be deleted, so its history stays reachable. */
  tombstone(memoryId: string, owner: MemoryOwner): Promise<void>;
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
    phi_in_body: boolean;
    source_ip: string;
    options: RequestOptions;
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
  /** On allow: what the response stage must enforce on the answer. */
  answer?: AnswerRules;
  /** Revision (sha256) of the bundle that made this decision: recorded from here, not read
   * from the engine later (a hot reload in between would record the wrong one). */
  revision?: string;
  /** On allow, for writes: the tenant's content rules (content/rules.ts validates them). */
  content?: unknown;
  /** A shadow (candidate) bundle's decision on the same input, when one is configured
   * (MEM0_GOV_POLICY_SHADOW_*): recorded and counted, never enforced (docs/policy-rollout.md). */
  shadow?: ShadowSummary;
}

/** What the shadow bundle decided, compared with the enforced decision (policy/shadow.ts). */
export interface ShadowSummary {
  revision: string;
  allow: boolean;
  /** 200 on allow; 503 when the shadow failed to evaluate (it would have failed closed). */
  status: number;
  /** `policy_eval_failed` when the shadow failed to evaluate. */
  reasons: string[];
  /** allow, status, first reason, answer rules and content rules all match the enforced decision. */
  agree: boolean;
  /** What differs: `allow`, `status`, `reason`, `answer`, `content`; empty when they agree. */
  differs: string[];
}

/** The policy's instructions to the response stage for one allowed request. */
export interface AnswerRules {
  /** Entity-id prefixes that belong to the caller's tenant; `null` = no tenant filter (global
   * routes of a platform admin). */
  tenant_prefixes: string[] | null;
  /** The caller may receive PHI-labelled memories. */
  phi_allowed: boolean;
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
  /** What the row records (row format 2; format-1 rows predate kinds and are all decisions or
   * admin actions). */
  kind: RowKind;
  /** outcome rows: the event_id of the decision whose answer this is; null otherwise. */
  ref_event_id: string | null;
  /** Kind-specific facts as RFC 8785 canonical JSON text (an object), or null. Counts, ids and
   * detector types only: never memory content, never a token. */
  detail: string | null;
}

/** Row kinds in the audit chain (audit/README.md). */
export type RowKind = 'decision' | 'outcome' | 'admin' | 'config';
export const ROW_KINDS: readonly RowKind[] = ['decision', 'outcome', 'admin', 'config'];

/** One admin action (CLI), written to the audit chain before it takes effect. */
export interface AdminAction {
  /** who ran it: MEM0_GOV_ADMIN_ACTOR, else the OS user */
  actor: string;
  /** e.g. `limits.set`, `revoke`, `tenant.suspend`, `breakglass.grant`, `audit.checkpoint` */
  command: string;
  /** what it acts on, e.g. `tenant:acme`, `jti:abc` */
  target: string;
  details: Record<string, string | number | boolean | null>;
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
      /** Envoy dynamic metadata for the response stage (response/context.ts). */
      dynamicMetadata: Record<string, string>;
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

// The pipeline's one error type lives in errors.ts; re-exported for the stage-border readers.
export { PipelineStop } from './errors.js';

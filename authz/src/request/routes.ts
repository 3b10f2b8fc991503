// The Mem0 route table (docs/DESIGN.md "Mem0 routes"): every route the current Mem0 REST server
// registers, as data. The parser, the policy's route tests and the response stage all read this
// one table; adding a route means adding one entry here (and its permission in
// policies/authz.rego, which a unit test compares with this table).
import type { Action, EntityKind, RouteId } from '../types.js';

/** What the response stage does with a route's answer (response/answer.ts). */
export type AnswerKind =
  | 'memories'  // {"results": [memory…]}: list, search
  | 'created'   // {"results": [{id, memory, event}…]}: what a write added, updated or deleted
  | 'memory'    // one memory or null: GET /memories/{id}
  | 'history'   // [history entry…] of the addressed memory
  | 'entities'  // [{id, type, total_memories…}]
  | 'none';     // nothing to filter; the outcome is still recorded

export interface RouteSpec {
  id: RouteId;
  method: string;
  /** Literal segments, `:memory_id`, `:entity_type`, `:entity_id`, `:key_id`, `:id`, or a final `*`. */
  path: string;
  action: Action;
  /** Query parameters Mem0 reads here. Others are refused on destructive routes
   * (`unsupported_parameter`: Mem0 would silently ignore them) and ignored elsewhere. */
  query: readonly string[];
  /** `json`: a JSON object body is required. `none`: Mem0 reads no body (a non-empty body on a
   * destructive route is refused: `unexpected_body`). */
  body: 'json' | 'none';
  /** Deletes or overwrites data. */
  destructive?: true;
  /** Acts on every tenant: never a tenant admin's (platform-admin only). */
  global?: true;
  answer: AnswerKind;
}

const IDS = ['user_id', 'agent_id', 'run_id'] as const;

export const ROUTE_TABLE: readonly RouteSpec[] = [
  { id: 'memories.create', method: 'POST', path: '/memories', action: 'write', query: [], body: 'json', answer: 'created' },
  // GET /memories naming no entity lists every tenant's memories: the parser turns it into
  // memories.list_all (global).
  { id: 'memories.list', method: 'GET', path: '/memories', action: 'read', query: [...IDS, 'top_k', 'show_expired'], body: 'none', answer: 'memories' },
  { id: 'memories.list_all', method: 'GET', path: '/memories', action: 'platform', query: ['top_k', 'show_expired'], body: 'none', global: true, answer: 'memories' },
  { id: 'memories.get', method: 'GET', path: '/memories/:memory_id', action: 'read', query: [], body: 'none', answer: 'memory' },
  { id: 'memories.history', method: 'GET', path: '/memories/:memory_id/history', action: 'read', query: [], body: 'none', answer: 'history' },
  { id: 'memories.update', method: 'PUT', path: '/memories/:memory_id', action: 'write', query: [], body: 'json', destructive: true, answer: 'none' },
  { id: 'memories.delete', method: 'DELETE', path: '/memories/:memory_id', action: 'delete', query: [], body: 'none', destructive: true, answer: 'none' },
  { id: 'memories.bulk_delete', method: 'DELETE', path: '/memories', action: 'bulk_delete', query: IDS, body: 'none', destructive: true, answer: 'none' },
  { id: 'search', method: 'POST', path: '/search', action: 'read', query: [], body: 'json', answer: 'memories' },
  { id: 'entities.list', method: 'GET', path: '/entities', action: 'read', query: [], body: 'none', answer: 'entities' },
  { id: 'entities.delete', method: 'DELETE', path: '/entities/:entity_type/:entity_id', action: 'admin', query: [], body: 'none', destructive: true, answer: 'none' },
  { id: 'reset', method: 'POST', path: '/reset', action: 'platform', query: [], body: 'none', destructive: true, global: true, answer: 'none' },
  { id: 'configure.get', method: 'GET', path: '/configure', action: 'platform', query: [], body: 'none', global: true, answer: 'none' },
  { id: 'configure.providers', method: 'GET', path: '/configure/providers', action: 'platform', query: [], body: 'none', global: true, answer: 'none' },
  { id: 'configure.set', method: 'POST', path: '/configure', action: 'platform', query: [], body: 'json', destructive: true, global: true, answer: 'none' },
  { id: 'requests.list', method: 'GET', path: '/requests', action: 'platform', query: ['limit'], body: 'none', global: true, answer: 'none' },
  { id: 'instructions.generate', method: 'POST', path: '/generate-instructions', action: 'write', query: [], body: 'json', answer: 'none' },
  { id: 'docs', method: 'GET', path: '/', action: 'read', query: [], body: 'none', answer: 'none' },
  { id: 'docs', method: 'GET', path: '/docs', action: 'read', query: [], body: 'none', answer: 'none' },
  { id: 'docs', method: 'GET', path: '/docs/oauth2-redirect', action: 'read', query: [], body: 'none', answer: 'none' },
  { id: 'docs', method: 'GET', path: '/redoc', action: 'read', query: [], body: 'none', answer: 'none' },
  { id: 'docs', method: 'GET', path: '/openapi.json', action: 'read', query: [], body: 'none', answer: 'none' },
  // Mem0's own dashboard accounts and per-user keys bypass the governed identity: always denied
  // by policy (`mem0_account_route`), whatever the method.
  { id: 'mem0.account', method: '*', path: '/auth/*', action: 'account', query: [], body: 'none', answer: 'none' },
  { id: 'mem0.account', method: '*', path: '/api-keys', action: 'account', query: [], body: 'none', answer: 'none' },
  { id: 'mem0.account', method: '*', path: '/api-keys/:key_id', action: 'account', query: [], body: 'none', answer: 'none' },
  // The audit API: served by mem0-gov (authz/src/auditapi/, Envoy routes /audit/ to authz :9192),
  // judged here like any route so every read is a decision row. Nothing of Mem0's: no owner lookup
  // (the memory id of /audit/memories/{id} is not `:memory_id`), no answer filtering.
  { id: 'audit.events', method: 'GET', path: '/audit/events', action: 'audit_read', query: [], body: 'none', answer: 'none' },
  { id: 'audit.memory', method: 'GET', path: '/audit/memories/:id', action: 'audit_read', query: [], body: 'none', answer: 'none' },
  { id: 'audit.chains', method: 'GET', path: '/audit/chains', action: 'audit_read', query: [], body: 'none', answer: 'none' },
  { id: 'audit.export', method: 'GET', path: '/audit/export', action: 'audit_read', query: [], body: 'none', answer: 'none' },
  { id: 'audit.evidence', method: 'GET', path: '/audit/evidence', action: 'audit_read', query: [], body: 'none', answer: 'none' },
];

/** One spec per route id (the first entry of each id). */
export const ROUTES: Readonly<Record<RouteId, RouteSpec>> = Object.fromEntries(
  [...ROUTE_TABLE].reverse().map((r) => [r.id, r]),
) as Record<RouteId, RouteSpec>;

/** What Mem0 answers on a route, for a route name read back from a decision's context (an
 * unknown one — a context from another version — has no answer to filter: `none`). */
export function answerKindOf(route: string): AnswerKind {
  return (ROUTES as Readonly<Record<string, RouteSpec | undefined>>)[route]?.answer ?? 'none';
}

/** Mem0's entity path types (`DELETE /entities/user/alice`); anything else → 422 at Mem0, 400 here. */
export const ENTITY_PATH_TYPES: Readonly<Record<string, EntityKind>> = {
  user: 'user_id',
  agent: 'agent_id',
  run: 'run_id',
};

export interface RouteMatch {
  spec: RouteSpec;
  route: RouteId;
  action: Action;
  memoryId?: string;
  /** DELETE /entities/{type}/{id}: the raw type and id segments, validated by the parser. */
  pathEntity?: { type: string; id: string };
}

const PATTERNS = ROUTE_TABLE.map((spec) => ({ spec, segs: spec.path === '/' ? [] : spec.path.slice(1).split('/') }));

/**
 * `segments` are the already-validated, percent-decoded path segments.
 * Returns undefined for an unknown route (→ `unknown_route`).
 */
export function matchRoute(method: string, segments: readonly string[]): RouteMatch | undefined {
  for (const { spec, segs } of PATTERNS) {
    if (spec.method !== '*' && spec.method !== method) continue;
    const rest = segs[segs.length - 1] === '*';
    const fixed = rest ? segs.length - 1 : segs.length;
    if (rest ? segments.length <= fixed : segments.length !== fixed) continue;
    const bound: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < fixed && ok; i++) {
      const p = segs[i]!;
      const s = segments[i]!;
      if (p.startsWith(':')) bound[p.slice(1)] = s;
      else ok = p === s;
    }
    if (!ok) continue;
    const m: RouteMatch = { spec, route: spec.id, action: spec.action };
    if (bound.memory_id !== undefined) m.memoryId = bound.memory_id;
    if (bound.entity_type !== undefined && bound.entity_id !== undefined) m.pathEntity = { type: bound.entity_type, id: bound.entity_id };
    return m;
  }
  return undefined;
}

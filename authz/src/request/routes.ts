// DESIGN's Mem0 route table: method + path → route id and action. Anything else is unknown.
import type { Action, EntityKind, RouteId } from '../types.js';

export interface RouteMatch {
  route: RouteId;
  action: Action;
  memoryId?: string;
  /** DELETE /entities/{type}/{id}: the raw type and id segments, validated by the parser. */
  pathEntity?: { type: string; id: string };
}

/** Mem0's entity path types (`/entities/user/alice`) and the id field each names. */
export const ENTITY_PATH_TYPES: Readonly<Record<string, EntityKind>> = {
  user: 'user_id',
  users: 'user_id',
  agent: 'agent_id',
  agents: 'agent_id',
  run: 'run_id',
  runs: 'run_id',
};

/**
 * `segments` are the already-validated, percent-decoded path segments.
 * Returns undefined for an unknown route (→ deny `unknown_route`).
 */
export function matchRoute(method: string, segments: readonly string[]): RouteMatch | undefined {
  const [a, b, c, d] = segments;
  const n = segments.length;
  if (a === 'memories') {
    if (n === 1) {
      if (method === 'POST') return { route: 'memories.create', action: 'write' };
      if (method === 'GET') return { route: 'memories.list', action: 'read' };
      if (method === 'DELETE') return { route: 'memories.bulk_delete', action: 'bulk_delete' };
      return undefined;
    }
    if (n === 2 && b !== undefined) {
      if (method === 'GET') return { route: 'memories.get', action: 'read', memoryId: b };
      if (method === 'PUT') return { route: 'memories.update', action: 'write', memoryId: b };
      if (method === 'DELETE') return { route: 'memories.delete', action: 'delete', memoryId: b };
      return undefined;
    }
    if (n === 3 && b !== undefined && c === 'history' && method === 'GET') {
      return { route: 'memories.history', action: 'read', memoryId: b };
    }
    return undefined;
  }
  if (n === 1 && method === 'POST') {
    if (a === 'search') return { route: 'search', action: 'read' };
    if (a === 'reset') return { route: 'reset', action: 'admin' };
    if (a === 'configure') return { route: 'configure', action: 'admin' };
  }
  if (n === 3 && a === 'entities' && method === 'DELETE' && c !== undefined && d === undefined) {
    if (b !== undefined) return { route: 'entities.delete', action: 'admin', pathEntity: { type: b, id: c } };
  }
  return undefined;
}

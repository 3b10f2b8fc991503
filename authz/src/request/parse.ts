// Stage 1: an Envoy CheckRequest (already reduced to RawCheck) → a normalized Mem0Request.
// Everything here is pure. Malformed → PipelineStop(invalid_request, 400); unknown route →
// PipelineStop(deny, 403, unknown_route). Mem0 trusts whatever ids it is sent, so this stage
// must find EVERY entity id a request names, in the same way Mem0 will read it.
import { createHash } from 'node:crypto';
import { ENTITY_KINDS, PipelineStop } from '../types.js';
import type { EntityKind, EntityRef, Mem0Request } from '../types.js';
import { ENTITY_PATH_TYPES, matchRoute } from './routes.js';
import { isPhiMetadata } from './phi.js';

/** The parts of a CheckRequest this stage reads (grpc/ and http/ both produce it). */
export interface RawCheck {
  method: string;
  /** Path including the query string, as Envoy forwards it. */
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body?: Uint8Array;
  sourceIp: string;
  /** Envoy's x-request-id, or one made up by the caller. */
  requestId: string;
}

export interface ParseOptions {
  phiLabels: readonly string[];
}

const MAX_ENTITY_ID = 256;
const MAX_FILTER_DEPTH = 8;
const MEMORY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
// Printable, no control characters (which Mem0 would store and echo into logs).
const CONTROL = /[\u0000-\u001f\u007f]/;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** sha256 hex of the raw body: what audit records instead of the content. */
export function bodyDigest(bytes: Uint8Array | undefined): string | undefined {
  return bytes && bytes.length > 0 ? createHash('sha256').update(bytes).digest('hex') : undefined;
}

function invalid(reason: string): never {
  throw new PipelineStop('invalid_request', reason, 400);
}

/** Splits and validates the path. Any traversal, including percent-encoded forms, is refused. */
export function pathSegments(rawPath: string): string[] {
  if (!rawPath.startsWith('/') || CONTROL.test(rawPath) || rawPath.includes('\\')) invalid('invalid_path');
  // Encoded separators and dots have no legitimate use in Mem0 paths and are how traversal
  // hides from a naive matcher (%2e%2e, %2f, %5c, double encoding %252e).
  if (/%(2e|2f|5c|25|00)/i.test(rawPath)) invalid('path_traversal');
  if (rawPath === '/') return [];
  const parts = rawPath.split('/').slice(1);
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // one trailing slash
  const segments: string[] = [];
  for (const part of parts) {
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      invalid('invalid_path');
    }
    if (seg === '.' || seg === '..') invalid('path_traversal');
    if (seg === '' || CONTROL.test(seg)) invalid('invalid_path');
    segments.push(seg);
  }
  return segments;
}

function parseQuery(rawQuery: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (rawQuery === '') return out;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(rawQuery);
  } catch {
    invalid('invalid_query');
  }
  for (const [k, v] of params) {
    // Mem0 (FastAPI) and we could read a repeated parameter differently: refuse it.
    if (Object.prototype.hasOwnProperty.call(out, k)) invalid('duplicate_parameter');
    if (CONTROL.test(k) || CONTROL.test(v)) invalid('invalid_query');
    out[k] = v;
  }
  return out;
}

function entityId(value: unknown): string {
  if (typeof value !== 'string') invalid('invalid_entity_id');
  if (value.length === 0 || value.length > MAX_ENTITY_ID || CONTROL.test(value)) invalid('invalid_entity_id');
  return value;
}

function parseJsonBody(raw: RawCheck): Record<string, unknown> {
  const ctype = (raw.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (ctype !== 'application/json') invalid('unsupported_content_type');
  const bytes = raw.body ?? new Uint8Array();
  if (bytes.length === 0) invalid('body_required');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    invalid('invalid_json');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) invalid('body_not_object');
  return parsed as Record<string, unknown>;
}

/** An entity value inside `filters`: a string, {eq: s} or {in: [s…]}. Anything else (ne, nin,
 * contains, wildcards via operators) could select other tenants' memories, so it is refused. */
function filterValues(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [entityId(value)];
  if (!Array.isArray(value)) {
    const keys = Object.keys(value);
    const v = value as Record<string, unknown>;
    if (keys.length === 1 && keys[0] === 'eq') return [entityId(v.eq)];
    if (keys.length === 1 && keys[0] === 'in' && Array.isArray(v.in) && v.in.length > 0) return v.in.map(entityId);
  }
  return invalid('unsupported_entity_filter');
}

const LOGICAL = /^(and|or|not)$/i;

/**
 * Collects every entity id in a `filters` tree. Returns whether the tree is scoped at its top
 * level (an entity constraint ANDed with everything else): entity ids that appear only under
 * OR would not restrict the result set, and under NOT would invert it.
 */
function walkFilters(node: unknown, out: EntityRef[], depth: number, under: 'top' | 'and' | 'or' | 'not'): boolean {
  if (depth > MAX_FILTER_DEPTH) invalid('filter_too_deep');
  let scoped = false;
  if (Array.isArray(node)) {
    for (const item of node) scoped = walkFilters(item, out, depth + 1, under) || scoped;
    return scoped;
  }
  if (node === null || typeof node !== 'object') return false;
  for (const [key, value] of Object.entries(node)) {
    if ((ENTITY_KINDS as readonly string[]).includes(key)) {
      if (under === 'not') invalid('unsupported_entity_filter');
      for (const id of filterValues(value)) out.push({ kind: key as EntityKind, id, source: 'filters' });
      if (under === 'top' || under === 'and') scoped = true;
    } else if (LOGICAL.test(key)) {
      const op = key.toLowerCase() as 'and' | 'or' | 'not';
      const next = under === 'not' || op === 'not' ? 'not' : under === 'or' || op === 'or' ? 'or' : under;
      scoped = walkFilters(value, out, depth + 1, next === 'top' ? 'and' : next) || scoped;
    } else if (value !== null && typeof value === 'object') {
      walkFilters(value, out, depth + 1, under === 'top' || under === 'and' ? 'or' : under);
    }
  }
  return scoped;
}

function bodyEntities(body: Record<string, unknown>, out: EntityRef[]): boolean {
  let scoped = false;
  for (const kind of ENTITY_KINDS) {
    const v = body[kind];
    if (v === undefined || v === null) continue;
    out.push({ kind, id: entityId(v), source: 'body' });
    scoped = true;
  }
  return scoped;
}

function bodyMemoryIds(body: Record<string, unknown> | undefined, query: Record<string, string>): string[] {
  const ids: string[] = [];
  const fromQuery = query.memory_ids ?? query.ids;
  if (fromQuery !== undefined) ids.push(...fromQuery.split(',').map((s) => s.trim()).filter(Boolean));
  const fromBody = body?.memory_ids;
  if (fromBody !== undefined) {
    if (!Array.isArray(fromBody)) invalid('invalid_memory_id');
    ids.push(...fromBody.map((v) => (typeof v === 'string' ? v : invalid('invalid_memory_id'))));
  }
  for (const id of ids) if (!MEMORY_ID.test(id)) invalid('invalid_memory_id');
  return ids;
}

export function parseCheck(raw: RawCheck, opts: ParseOptions): Mem0Request {
  const method = raw.method.toUpperCase();
  const q = raw.path.indexOf('?');
  const pathOnly = q === -1 ? raw.path : raw.path.slice(0, q);
  const rawQuery = q === -1 ? '' : raw.path.slice(q + 1);
  const segments = pathSegments(pathOnly);
  const query = parseQuery(rawQuery);

  const match = matchRoute(method, segments);
  if (!match) throw new PipelineStop('deny', 'unknown_route', 403);

  // Envoy sets this when the body exceeded with_request_body.max_request_bytes and partial
  // messages are allowed: a policy decision on half a body is not a decision.
  if ((raw.headers['x-envoy-auth-partial-body'] ?? '').toLowerCase() === 'true') invalid('body_truncated');

  if (match.memoryId !== undefined && !MEMORY_ID.test(match.memoryId)) invalid('invalid_memory_id');

  const entities: EntityRef[] = [];
  for (const kind of ENTITY_KINDS) {
    if (query[kind] !== undefined) entities.push({ kind, id: entityId(query[kind]), source: 'query' });
  }
  if (match.pathEntity) {
    const kind = ENTITY_PATH_TYPES[match.pathEntity.type];
    if (!kind) invalid('unknown_entity_type');
    entities.push({ kind, id: entityId(match.pathEntity.id), source: 'path' });
  }

  let body: Record<string, unknown> | undefined;
  const digest = bodyDigest(raw.body);
  const hasBody = (raw.body?.length ?? 0) > 0;
  // Mem0's POST /reset takes no body; any body it is sent must still be JSON.
  const bodyOptional = match.route === 'reset' && !hasBody;
  if (BODY_METHODS.has(method) && !bodyOptional) {
    body = parseJsonBody(raw);
  } else if (hasBody) {
    // DELETE /memories may carry memory_ids in a JSON body; other bodies are ignored by Mem0
    // but still digested for audit.
    if (match.route === 'memories.bulk_delete') body = parseJsonBody(raw);
  }

  if (body) {
    bodyEntities(body, entities);
    if (body.filters !== undefined) {
      if (body.filters === null || typeof body.filters !== 'object' || Array.isArray(body.filters)) {
        invalid('invalid_filters');
      }
      const before = entities.length;
      const scoped = walkFilters(body.filters, entities, 0, 'top');
      const topLevelIds = entities.some((e) => e.source !== 'filters');
      // Ids only under OR do not restrict what Mem0 returns: refuse rather than guess.
      if (entities.length > before && !scoped && !topLevelIds) invalid('unscoped_filter');
    }
  }

  const memoryIds = match.route === 'memories.bulk_delete' ? bodyMemoryIds(body, query) : [];
  const metadata = body?.metadata;
  const phiInBody = metadata !== undefined && isPhiMetadata(metadata, opts.phiLabels);

  const req: Mem0Request = {
    requestId: raw.requestId,
    method,
    path: pathOnly,
    route: match.route,
    action: match.action,
    entities,
    memoryIds,
    query,
    phiInBody,
    sourceIp: raw.sourceIp,
  };
  if (match.memoryId !== undefined) req.memoryId = match.memoryId;
  if (body !== undefined) req.body = body;
  if (digest !== undefined) req.bodyDigest = digest;
  const ua = raw.headers['user-agent'];
  if (ua !== undefined) req.userAgent = ua;
  return req;
}

// Stage 1: an Envoy CheckRequest (already reduced to RawCheck) → a normalized Mem0Request.
// Everything here is pure. Malformed → invalid_request (400) with a stable reason; unknown
// route → deny `unknown_route` (403). Mem0 trusts whatever ids it is sent, so this stage must
// find EVERY entity id a request names, in the same way Mem0 will read it, and refuse what
// Mem0 would silently ignore on a destructive route.
import { createHash } from 'node:crypto';
import { ENTITY_KINDS } from '../types.js';
import type { EntityKind, EntityRef, Mem0Request, RequestOptions } from '../types.js';
import { stop, type Reason } from '../errors.js';
import { ENTITY_PATH_TYPES, matchRoute, ROUTES } from './routes.js';
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
/** Nesting bound for any JSON body: Mem0's parser gives up far sooner than ours would. */
export const MAX_BODY_DEPTH = 32;
/** Mem0's own bound on GET /memories top_k; applied to search too (Mem0 has none there). */
export const MAX_TOP_K = 1000;
// Mem0 names every memory with a UUID (uuid4); anything else it answers with a 502 from its
// database, which would reach the caller as our owner_lookup_failed. Refuse it as what it is.
const MEMORY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Printable, no control characters (which Mem0 would store and echo into logs).
const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROL_G = /[\u0000-\u001f\u007f]/g;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** sha256 hex of the raw body: what audit records instead of the content. */
export function bodyDigest(bytes: Uint8Array | undefined): string | undefined {
  return bytes && bytes.length > 0 ? createHash('sha256').update(bytes).digest('hex') : undefined;
}

function invalid(reason: Reason): never {
  throw stop(reason);
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
  // No prototype: `__proto__` is then a parameter like any other (refused on destructive routes,
  // caught when repeated) instead of an assignment to the object's prototype that drops it.
  const out = Object.create(null) as Record<string, string>;
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
  // Mem0 trims ids and refuses inner whitespace: refuse any whitespace so that what we
  // tenant-check is byte for byte what Mem0 stores.
  if (value.length === 0 || value.length > MAX_ENTITY_ID || CONTROL.test(value) || /\s/.test(value)) invalid('invalid_entity_id');
  return value;
}

function parseJsonBody(raw: RawCheck): Record<string, unknown> {
  const ctype = (raw.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (ctype !== 'application/json') invalid('unsupported_content_type');
  const bytes = raw.body ?? new Uint8Array();
  if (bytes.length === 0) invalid('body_required');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    invalid('invalid_json');
  }
  if (jsonDepth(text) > MAX_BODY_DEPTH) invalid('body_too_deep');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    invalid('invalid_json');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) invalid('body_not_object');
  return parsed as Record<string, unknown>;
}

/** Deepest bracket nesting of a JSON text, brackets inside strings not counted. Runs before
 * JSON.parse so a pathological body costs one linear scan. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) max = depth;
    } else if (c === 93 || c === 125) depth--;
  }
  return max;
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
 * Collects every entity id in a `filters` tree (all must be in the caller's tenant). Returns
 * whether the tree names one at its top level, which is what Mem0 requires (it answers 400
 * otherwise, even for an id under AND); ids under OR would not restrict the result set, and
 * under NOT would invert it (refused).
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
      if (under === 'top' && depth === 0) scoped = true;
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

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/** A boolean query parameter as FastAPI reads it. */
function queryBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const w = v.toLowerCase();
  if (TRUE_WORDS.has(w)) return true;
  if (FALSE_WORDS.has(w)) return false;
  return invalid('invalid_parameter');
}

function queryInt(v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,7}$/.test(v)) invalid('invalid_parameter');
  const n = Number(v);
  if (n < min || n > max) invalid('invalid_parameter');
  return n;
}

function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'boolean' ? v : invalid('invalid_parameter');
}

function optNumber(body: Record<string, unknown>, key: string, min: number, max: number, integer: boolean): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) invalid('invalid_parameter');
  return v;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
function expirationDate(v: unknown): string | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const m = typeof v === 'string' ? DATE.exec(v) : null;
  if (!m) return invalid('invalid_parameter');
  const d = new Date(`${v as string}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) invalid('invalid_parameter');
  return v as string;
}

function isMessageList(v: unknown): boolean {
  return Array.isArray(v) && v.every((m) => m !== null && typeof m === 'object' && !Array.isArray(m)
    && typeof (m as Record<string, unknown>).role === 'string' && typeof (m as Record<string, unknown>).content === 'string');
}

/** The fields of each route that change what Mem0 does, validated (types Mem0 would 400/422 on). */
function requestOptions(route: string, query: Record<string, string>, body: Record<string, unknown> | undefined): RequestOptions {
  const o: RequestOptions = {};
  const set = <K extends keyof RequestOptions>(k: K, v: RequestOptions[K] | undefined): void => {
    if (v !== undefined) o[k] = v;
  };
  if (route === 'memories.list' || route === 'memories.list_all') {
    set('top_k', queryInt(query.top_k, 0, MAX_TOP_K));
    set('show_expired', queryBool(query.show_expired));
  } else if (route === 'requests.list') {
    set('top_k', queryInt(query.limit, 1, 200));
  } else if (route === 'memories.create' && body) {
    if (!isMessageList(body.messages)) invalid('invalid_parameter');
    set('infer', optBool(body, 'infer'));
    if (body.prompt !== undefined && body.prompt !== null) {
      if (typeof body.prompt !== 'string') invalid('invalid_parameter');
      o.custom_prompt = true;
    }
    if (body.memory_type !== undefined && body.memory_type !== null) {
      if (body.memory_type !== 'procedural_memory') invalid('invalid_parameter');
      o.memory_type = body.memory_type;
    }
    set('expiration_date', expirationDate(body.expiration_date));
    if (body.metadata !== undefined && body.metadata !== null && (typeof body.metadata !== 'object' || Array.isArray(body.metadata))) invalid('invalid_parameter');
  } else if (route === 'memories.update' && body) {
    const fields = ['text', 'metadata', 'expiration_date'].filter((k) => body[k] !== undefined);
    // Mem0 answers 400 for an update that sets none of them (e.g. the old `data` alias).
    if (fields.length === 0) invalid('update_field_required');
    if (body.text !== undefined && typeof body.text !== 'string') invalid('invalid_parameter');
    if (body.metadata !== undefined && body.metadata !== null && (typeof body.metadata !== 'object' || Array.isArray(body.metadata))) invalid('invalid_parameter');
    set('expiration_date', expirationDate(body.expiration_date));
    o.update_fields = fields;
  } else if (route === 'search' && body) {
    if (typeof body.query !== 'string') invalid('invalid_parameter');
    set('top_k', optNumber(body, 'top_k', 0, MAX_TOP_K, true));
    set('threshold', optNumber(body, 'threshold', 0, 1, false));
    set('explain', optBool(body, 'explain'));
    set('show_expired', optBool(body, 'show_expired'));
  }
  return o;
}

export function parseCheck(raw: RawCheck, opts: ParseOptions): Mem0Request {
  const method = raw.method.toUpperCase();
  const q = raw.path.indexOf('?');
  const pathOnly = q === -1 ? raw.path : raw.path.slice(0, q);
  const rawQuery = q === -1 ? '' : raw.path.slice(q + 1);
  const segments = pathSegments(pathOnly);
  const query = parseQuery(rawQuery);

  const match = matchRoute(method, segments);
  if (!match) throw stop('unknown_route');

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

  // GET /memories naming no entity is Mem0's "every memory of every tenant".
  let spec = match.spec;
  if (spec.id === 'memories.list' && entities.length === 0) spec = ROUTES['memories.list_all'];

  // On a destructive route, anything Mem0 would silently ignore is refused: a caller who sends
  // `memory_ids=X` to bulk delete means "only X", and Mem0 would delete everything.
  if (spec.destructive) {
    for (const k of Object.keys(query)) if (!spec.query.includes(k)) invalid('unsupported_parameter');
  }

  let body: Record<string, unknown> | undefined;
  const digest = bodyDigest(raw.body);
  const hasBody = (raw.body?.length ?? 0) > 0;
  if (spec.body === 'json') {
    body = parseJsonBody(raw);
  } else if (hasBody && spec.destructive) {
    // Mem0 reads no body here; one that says anything is a request Mem0 would not honour.
    const parsed = parseJsonBody(raw);
    if (Object.keys(parsed).length > 0) invalid('unexpected_body');
  }

  let scopedAtTop = false;
  if (body && spec.id !== 'configure.set') {
    scopedAtTop = bodyEntities(body, entities);
    if (body.filters !== undefined && body.filters !== null) {
      if (typeof body.filters !== 'object' || Array.isArray(body.filters)) invalid('invalid_filters');
      scopedAtTop = walkFilters(body.filters, entities, 0, 'top') || scopedAtTop;
    }
    // Mem0 needs an entity id at the top level of a search (filters or the deprecated body
    // ids) and answers 400 otherwise; ids only nested under AND/OR do not count.
    if (spec.id === 'search' && entities.length > 0 && !scopedAtTop) invalid('unscoped_filter');
  }

  const options = requestOptions(spec.id, query, body);
  const metadata = body?.metadata;
  const phiInBody = metadata !== undefined && isPhiMetadata(metadata, opts.phiLabels);

  const req: Mem0Request = {
    requestId: raw.requestId,
    method,
    path: pathOnly,
    route: spec.id,
    action: spec.action,
    entities,
    options,
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

/**
 * For the audit row of a request that failed to parse: the route, memory id and query entity
 * ids it would have named, as far as they can be read. Never throws; never used to decide.
 */
export function describeForAudit(raw: RawCheck): { route?: string; memoryId?: string; entityIds: string[] } {
  const q = raw.path.indexOf('?');
  const out: { route?: string; memoryId?: string; entityIds: string[] } = { entityIds: [] };
  try {
    const match = matchRoute(raw.method.toUpperCase(), pathSegments(q === -1 ? raw.path : raw.path.slice(0, q)));
    if (match) {
      out.route = match.route;
      if (match.memoryId !== undefined) out.memoryId = match.memoryId.slice(0, 128).replace(CONTROL_G, '?');
    }
  } catch {
    // the path itself is what was malformed
  }
  try {
    for (const [k, v] of new URLSearchParams(q === -1 ? '' : raw.path.slice(q + 1))) {
      if ((ENTITY_KINDS as readonly string[]).includes(k)) out.entityIds.push(`${k}=${v.slice(0, MAX_ENTITY_ID).replace(CONTROL_G, '?')}`);
      if (out.entityIds.length >= 16) break;
    }
  } catch {
    // unreadable query: nothing to add
  }
  return out;
}

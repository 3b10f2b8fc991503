// Target `request`: stage 1 (authz/src/request/parse.ts) on attacker-shaped requests — every
// route of the table with its path segments, query strings and JSON bodies bent the ways that
// fool parsers (encodings, traversal, duplicates, prototype keys, control and format characters,
// deep nesting, invalid UTF-8, filters with every operator). Properties:
//   1. parseCheck returns or throws a PipelineStop with a parse-stage reason (or unknown_route):
//      never another exception (that would be a 503 internal_error, or a crash).
//   2. When it returns, what it says is what Mem0 will read:
//      - the route is the table's for the method and the decoded segments; an RFC 3986 path
//        normalizer (WHATWG URL) sees the same segments (no traversal hides in the path);
//      - every entity id in the query, the path, the body's top level and anywhere in `filters`
//        is in `entities` (Mem0 trusts whatever ids it is sent: a missed one is a tenant escape);
//      - entity ids have no whitespace or control characters and at most 256 characters;
//      - `query` is exactly the query Mem0 parses (same keys, no duplicates), and on a
//        destructive route every key is one Mem0 reads there;
//      - a search names an entity id at the top level of `filters` or the body;
//      - the memory id is a UUID; options are in their documented bounds; the digest is the body's.
//   3. describeForAudit never throws.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { parseCheck, describeForAudit, MAX_TOP_K, type RawCheck } from '../../authz/src/request/parse.js';
import { ROUTE_TABLE, ROUTES, matchRoute } from '../../authz/src/request/routes.js';
import { PipelineStop } from '../../authz/src/errors.js';
import { REASONS, isReason } from '../../authz/src/reasons.js';
import { ENTITY_KINDS } from '../../authz/src/types.js';
import type { Mem0Request } from '../../authz/src/types.js';
import { holds, violated, type Target } from '../engine/target.js';
import { anyString, asString, entityIdArb, isRecord, show, TRICKY_IDS, UUIDS } from './shared.js';
import { filtersArb } from './filters-arb.js';

export interface RequestInput {
  method: string;
  path: string;
  contentType: string | null;
  /** x-envoy-auth-partial-body */
  partial: string | null;
  /** Body as text (UTF-8 encoded on the wire), or null. */
  body: string | null;
  /** Body as base64 (any bytes, e.g. invalid UTF-8); wins over `body`. */
  bodyB64: string | null;
}

const OPTS = { phiLabels: ['phi', 'restricted-health'] };

/** Percent-encodes the UTF-8 bytes of any string (lone surrogates included, as U+FFFD). */
function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
const ENTITY = ENTITY_KINDS as readonly string[];

// ---------- generators ----------

const segmentArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('memories', 'search', 'entities', 'user', 'agent', 'run', 'history', 'configure', 'providers', 'reset', 'requests', 'docs', 'auth', 'api-keys', 'login', 'openapi.json', 'redoc') },
  { weight: 2, arbitrary: fc.constantFrom(...UUIDS) },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 2, arbitrary: fc.constantFrom('..', '.', '%2e%2e', '%2E', '%2f', '%5c', '%252e%252e', '%00', '%', '%zz', '%c0%ae', '%e2%80%8b', 'a%20b', 'x;y', '%3A', ' ', '\t', '\\', '') },
  { weight: 2, arbitrary: fc.tuple(entityIdArb(), fc.boolean()).map(([s, enc]) => (enc ? pct(s) : s)) },
);

function fillTemplate(path: string): fc.Arbitrary<string> {
  if (path === '/') return fc.constant('/');
  const parts = path.slice(1).split('/').map((p): fc.Arbitrary<string> => {
    if (p === ':memory_id') return fc.oneof(fc.constantFrom(...UUIDS), fc.uuid(), segmentArb);
    if (p === ':entity_type') return fc.oneof(fc.constantFrom('user', 'agent', 'run', 'User', 'users', 'tenant'), segmentArb);
    if (p === ':entity_id') return fc.oneof(entityIdArb().map(pct), segmentArb);
    if (p === ':key_id') return segmentArb;
    if (p === '*') return fc.array(segmentArb, { minLength: 1, maxLength: 3 }).map((a) => a.join('/'));
    return fc.oneof({ weight: 8, arbitrary: fc.constant(p) }, { weight: 1, arbitrary: segmentArb }, { weight: 1, arbitrary: fc.constant(p.toUpperCase()) });
  });
  return fc.tuple(...parts).map((ps) => '/' + ps.join('/'));
}

const pathArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ROUTE_TABLE.map((r) => r.path)).chain(fillTemplate) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...ROUTE_TABLE.map((r) => r.path)).chain(fillTemplate), fc.constantFrom('/', '//', '/..', '/./', '/%2e%2e/', '/../memories', '#x', '/\u0000', '?')).map(([p, s]) => p + s) },
  { weight: 1, arbitrary: fc.array(segmentArb, { maxLength: 5 }).map((a) => '/' + a.join('/')) },
  { weight: 1, arbitrary: anyString(30) },
);

const queryKeyArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ENTITY, 'top_k', 'show_expired', 'limit', 'memory_ids', 'filters', 'query', 'page') },
  { weight: 2, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'USER_ID', 'user_id ', 'user%5Fid', 'user_id[]', 'user_id.x', '') },
  { weight: 1, arbitrary: anyString(10) },
);
const queryValueArb = fc.oneof(
  { weight: 5, arbitrary: entityIdArb() },
  { weight: 2, arbitrary: fc.constantFrom('true', 'false', '1', '0', 'yes', 'off', 'TRUE', '-1', '1000', '1001', '10000000', '1e3', ' 5', '') },
  { weight: 1, arbitrary: fc.integer({ min: -5, max: 2000 }).map(String) },
  { weight: 1, arbitrary: anyString(20) },
);
const queryArb: fc.Arbitrary<string> = fc.tuple(
  fc.array(fc.tuple(queryKeyArb, queryValueArb, fc.constantFrom('enc', 'raw', 'plus', 'nokey', 'noeq')), { maxLength: 5 }),
  fc.constantFrom('&', '&', '&', ';', '&&'),
).map(([pairs, sep]) => pairs.map(([k, v, how]) => {
  if (how === 'nokey') return `=${pct(v)}`;
  if (how === 'noeq') return pct(k);
  if (how === 'raw') return `${k}=${v}`;
  if (how === 'plus') return `${pct(k)}=${pct(v).replace(/%20/g, '+')}`;
  return `${pct(k)}=${pct(v)}`;
}).join(sep));

const jsonLeaf = fc.oneof(anyString(15), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
const messagesArb = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system'), content: anyString(40) }), { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.oneof(fc.constant([]), anyString(10), fc.array(jsonLeaf, { maxLength: 2 }), fc.constant([{ role: 'user' }]), fc.constant([{ role: 'user', content: 5 }])) },
);
const metadataArb = fc.oneof(
  fc.record({ phi: fc.oneof(fc.boolean(), anyString(5)), classification: fc.constantFrom('phi', 'PHI', 'Restricted-Health', 'public', 5) }, { requiredKeys: [] }),
  fc.dictionary(fc.constantFrom('phi', 'classification', 'user_id', 'tag', '__proto__'), jsonLeaf, { maxKeys: 3 }),
  jsonLeaf,
);

/** A JSON body whose keys are the ones Mem0 reads (and a few it does not). */
const bodyObjectArb: fc.Arbitrary<Record<string, unknown>> = fc.record({
  messages: messagesArb,
  user_id: fc.oneof(entityIdArb(), jsonLeaf),
  agent_id: entityIdArb(),
  run_id: entityIdArb(),
  filters: fc.oneof({ weight: 6, arbitrary: filtersArb }, { weight: 1, arbitrary: jsonLeaf }, { weight: 1, arbitrary: fc.array(filtersArb, { maxLength: 2 }) }),
  query: fc.oneof(anyString(20), jsonLeaf),
  top_k: fc.oneof(fc.integer({ min: -2, max: MAX_TOP_K + 2 }), fc.double(), anyString(4)),
  threshold: fc.oneof(fc.double({ min: -1, max: 2 }), anyString(4)),
  explain: fc.oneof(fc.boolean(), anyString(4)),
  show_expired: fc.oneof(fc.boolean(), anyString(4)),
  infer: fc.oneof(fc.boolean(), anyString(4), fc.constant(null)),
  prompt: fc.oneof(anyString(10), jsonLeaf),
  memory_type: fc.oneof(fc.constant('procedural_memory'), anyString(10), fc.constant(null)),
  expiration_date: fc.oneof(fc.constantFrom('2026-12-31', '2026-02-30', '2026-1-1', '9999-12-31', '2026-12-31T00:00:00Z', ''), jsonLeaf),
  metadata: metadataArb,
  text: fc.oneof(anyString(20), jsonLeaf),
  memory_ids: fc.array(fc.uuid(), { maxLength: 2 }),
}, { requiredKeys: [] });

const bodyTextArb: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 8, arbitrary: bodyObjectArb.map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom('', '{}', '[]', 'null', '"x"', '{"a":', '\ufeff{"query":"q","user_id":"acme:a"}', '{"user_id":"globex:x","user_id":"acme:a","query":"q"}',
    '{"__proto__":{"user_id":"globex:x"},"query":"q","user_id":"acme:a"}', '{"query":"q","filters":{"__proto__":{"user_id":"globex:x"},"user_id":"acme:a"}}') },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 25, max: 40 }).map((n) => '{"query":"q","user_id":"acme:a","filters":' + '{"AND":['.repeat(n) + '{"user_id":"acme:a"}' + ']}'.repeat(n) + '}') },
);

const arbitrary: fc.Arbitrary<RequestInput> = fc.record({
  method: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') }, { weight: 1, arbitrary: fc.constantFrom('PATCH', 'HEAD', 'OPTIONS', 'get', 'Delete', 'TRACE', '') }),
  path: fc.tuple(pathArb, fc.option(queryArb, { nil: undefined })).map(([p, q]) => (q === undefined ? p : `${p}?${q}`)),
  contentType: fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', ' application/json ', 'text/plain', 'application/x-www-form-urlencoded', 'application/json, text/plain', 'application/merge-patch+json', ''), { nil: null }),
  partial: fc.option(fc.constantFrom('true', 'TRUE', 'false', '1'), { nil: null, freq: 8 }),
  body: bodyTextArb,
  bodyB64: fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')), { nil: null, freq: 12 }),
});

// ---------- oracles ----------

function fromJson(x: unknown): RequestInput {
  const o = isRecord(x) ? x : {};
  const opt = (v: unknown): string | null => (v === null || v === undefined ? null : asString(v));
  return {
    method: asString(o.method, 'GET'),
    path: asString(o.path, '/'),
    contentType: opt(o.contentType),
    partial: opt(o.partial),
    body: opt(o.body),
    bodyB64: opt(o.bodyB64),
  };
}

/** What arrives from Envoy is decoded from UTF-8 bytes: no lone surrogates (they become U+FFFD). */
const wire = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

function toRaw(i: RequestInput): RawCheck {
  const headers: Record<string, string> = { 'user-agent': 'fuzz' };
  if (i.contentType !== null) headers['content-type'] = wire(i.contentType);
  if (i.partial !== null) headers['x-envoy-auth-partial-body'] = wire(i.partial);
  const body = i.bodyB64 !== null ? new Uint8Array(Buffer.from(i.bodyB64, 'base64')) : i.body !== null ? new Uint8Array(Buffer.from(i.body, 'utf8')) : undefined;
  return { method: wire(i.method), path: wire(i.path), headers, ...(body !== undefined ? { body } : {}), sourceIp: '10.0.0.1', requestId: 'fuzz' };
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Every value Mem0 would read as an entity id inside a filters tree (any depth, any key). */
function filterIds(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) filterIds(n, out);
    return;
  }
  if (!isRecord(node)) return;
  for (const [k, v] of Object.entries(node)) {
    if (ENTITY.includes(k)) {
      if (typeof v === 'string') out.push(`${k}=${v}`);
      else if (isRecord(v)) {
        for (const [op, x] of Object.entries(v)) {
          if (typeof x === 'string') out.push(`${k}=${x}`);
          else if (Array.isArray(x)) for (const y of x) if (typeof y === 'string') out.push(`${k}=${y}`);
          void op;
        }
      }
    }
    filterIds(v, out);
  }
}

function checkParsed(i: RequestInput, raw: RawCheck, req: Mem0Request): void {
  const q = raw.path.indexOf('?');
  const pathOnly = q === -1 ? raw.path : raw.path.slice(0, q);
  const rawQuery = q === -1 ? '' : raw.path.slice(q + 1);
  const spec = ROUTES[req.route];
  holds(spec !== undefined, 'route-known', req.route);
  holds(req.path === pathOnly, 'path-kept', { path: req.path, pathOnly });
  holds(spec.method === '*' || spec.method === req.method, 'route-method', { route: req.route, method: req.method });

  // The segments a URL normalizer (what Envoy or Mem0's router would resolve) sees.
  // ('#' would start a fragment for the URL parser, which also trims leading and trailing spaces;
  // on the wire both are part of the path.)
  const normalized = new URL(pathOnly.replace(/#/g, '%23').replace(/ /g, '%20'), 'http://h').pathname.replace(/%23/g, '#');
  const decode = (p: string): string[] => (p === '/' ? [] : p.slice(1).split('/').filter((s, idx, a) => !(idx === a.length - 1 && s === '' && a.length > 1)).map((s) => decodeURIComponent(s)));
  let ours: string[];
  let theirs: string[];
  try {
    ours = decode(pathOnly);
    theirs = decode(normalized);
  } catch (err) {
    violated('path-decodable', `${(err as Error).message} ${show(pathOnly)}`);
  }
  holds(JSON.stringify(ours) === JSON.stringify(theirs), 'path-normalizes-to-itself', { ours, theirs });
  for (const s of ours) holds(s !== '.' && s !== '..' && s !== '' && !s.includes('/') && !CONTROL.test(s), 'segment-clean', s);
  const m = matchRoute(req.method, ours);
  holds(m !== undefined && (m.route === req.route || (m.route === 'memories.list' && req.route === 'memories.list_all')), 'route-from-segments', { route: req.route, m: m?.route });

  // The query Mem0 reads (FastAPI: parse_qsl; the same pairs as URLSearchParams for what we accept).
  const pairs = [...new URLSearchParams(rawQuery)];
  const keys = pairs.map(([k]) => k);
  holds(new Set(keys).size === keys.length, 'no-duplicate-parameter', keys);
  holds(JSON.stringify(Object.keys(req.query).sort()) === JSON.stringify([...keys].sort()), 'query-complete', { parsed: Object.keys(req.query), mem0: keys });
  for (const [k, v] of pairs) holds(req.query[k] === v, 'query-values', { k, v, got: req.query[k] });
  if (spec.destructive) for (const k of keys) holds(spec.query.includes(k), 'destructive-parameters-read-by-mem0', { route: req.route, k });

  // Every entity id Mem0 will read is in `entities`.
  const got = new Set(req.entities.map((e) => `${e.kind}=${e.id}`));
  const want: string[] = [];
  for (const [k, v] of pairs) if (ENTITY.includes(k)) want.push(`${k}=${v}`);
  if (m?.pathEntity) {
    const kind = { user: 'user_id', agent: 'agent_id', run: 'run_id' }[m.pathEntity.type];
    holds(kind !== undefined, 'entity-path-type', m.pathEntity.type);
    want.push(`${kind}=${m.pathEntity.id}`);
  }
  const body = req.body;
  if (body !== undefined && req.route !== 'configure.set') {
    for (const k of ENTITY) {
      const v = body[k];
      if (v !== undefined && v !== null) want.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
    filterIds(body.filters, want);
  }
  for (const w of want) holds(got.has(w), 'entity-complete', { missing: w, got: [...got] });
  for (const e of req.entities) {
    holds(typeof e.id === 'string' && e.id.length > 0 && e.id.length <= 256 && !/\s/.test(e.id) && !CONTROL.test(e.id), 'entity-clean', e.id);
    holds(ENTITY.includes(e.kind), 'entity-kind', e.kind);
  }

  // Search is scoped at the top level (Mem0 refuses it otherwise; we must not pass it on unscoped).
  if (req.route === 'search' && req.entities.length > 0) {
    const f = body?.filters;
    const top = ENTITY.some((k) => body?.[k] !== undefined && body?.[k] !== null) || (isRecord(f) && ENTITY.some((k) => k in f));
    holds(top, 'search-scoped-at-top', show(body));
  }

  if (req.memoryId !== undefined) holds(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(req.memoryId), 'memory-id-uuid', req.memoryId);
  const o = req.options;
  if (o.top_k !== undefined) holds(Number.isInteger(o.top_k) && o.top_k >= 0 && o.top_k <= MAX_TOP_K, 'top_k-bounded', o.top_k);
  if (o.threshold !== undefined) holds(o.threshold >= 0 && o.threshold <= 1, 'threshold-bounded', o.threshold);
  const bytes = raw.body;
  if (bytes !== undefined && bytes.length > 0) holds(req.bodyDigest === createHash('sha256').update(bytes).digest('hex'), 'body-digest');
  if (spec.body === 'json') holds(isRecord(req.body), 'json-body-object');
  void i;
}

async function check(i: RequestInput): Promise<void> {
  const raw = toRaw(i);
  try {
    describeForAudit(raw);
  } catch (err) {
    violated('describeForAudit-never-throws', (err as Error).stack ?? String(err));
  }
  let req: Mem0Request;
  try {
    req = parseCheck(raw, OPTS);
  } catch (err) {
    if (!(err instanceof PipelineStop)) violated('only-pipeline-stops', (err as Error).stack ?? String(err));
    holds(isReason(err.reason), 'stable-reason', err.reason);
    const stage = REASONS[err.reason as keyof typeof REASONS].stage;
    holds(stage === 'parse', 'parse-stage-reason', err.reason);
    return;
  }
  checkParsed(i, raw, req);
}

export const requestTarget: Target<RequestInput> = {
  name: 'request',
  about: 'authz/src/request/parse.ts: paths, queries, bodies, filters of every route',
  arbitrary,
  fromJson,
  check,
  dictionary: [
    ...ENTITY, ...TRICKY_IDS, ...UUIDS, '/memories', '/search', '/entities/user/', '/memories/', '/history', '?', '&', '=', '%2e', '%2f', '%25', '%00', '..',
    'filters', 'AND', 'OR', 'NOT', 'eq', 'in', 'ne', 'nin', 'contains', 'metadata', 'messages', 'query', 'top_k', 'threshold', 'infer', 'prompt',
    'application/json', '__proto__', 'constructor', 'true', 'false', '1000', '1001', '{', '}', '[', ']', '"', '\\u0000',
  ],
};

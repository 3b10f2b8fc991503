// In-memory stand-in for the Mem0 OSS REST server (`server/` of mem0ai/mem0, as described in
// testing/mem0-contract/): every route that server registers, its auth, request validation and
// response shapes, over an in-memory store and without an LLM or embeddings:
//   - `infer: false` stores each message (user and assistant) as its own memory;
//   - `infer: true` (the default) stores one memory per user message, its text being the message
//     content, and skips texts the entity already holds (Mem0 drops extracted duplicates);
//   - search scores by query-word overlap (the share of query words the memory contains).
// It records every request that reached it so tests can prove what Envoy let through and with
// which headers. testing/mem0-contract/ holds recorded exchanges with the real server; the
// contract replay test keeps this file honest against them.
import { createHash, createHmac, randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A memory as the stand-in holds it (the view `memories()` and `seed()` return). */
export interface StoredMemory {
  id: string;
  memory: string;
  /** md5 hex of `memory`, as Mem0 stores it. */
  hash: string;
  user_id?: string;
  agent_id?: string;
  run_id?: string;
  /** Message role the memory came from (`infer: false` only). */
  role?: string;
  /** YYYY-MM-DD; expired memories are hidden from scoped lists and search. */
  expiration_date?: string | null;
  /** Caller metadata (identity keys dropped), as GET /memories/{id} shows it; null when empty. */
  metadata: Record<string, unknown> | null;
  created_at: string;
  updated_at: string | null;
}

export interface HistoryEntry {
  id: string;
  memory_id: string;
  old_memory: string | null;
  new_memory: string | null;
  event: 'ADD' | 'UPDATE' | 'DELETE';
  created_at: string | null;
  updated_at: string | null;
  is_deleted: boolean;
  actor_id: string | null;
  role: string | null;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Path with the query string, as received. */
  url: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, when there was one and it parsed. */
  body?: unknown;
  rawBody: string;
}

export interface Mem0Standin {
  port: number;
  url: string;
  /** Every request that reached the stand-in, oldest first (including rejected ones). */
  requests: RecordedRequest[];
  memories(): StoredMemory[];
  seed(memory: Partial<StoredMemory>): StoredMemory;
  /** Back to a fresh server: forgets memories, history, accounts, config and recorded requests. */
  reset(): void;
  stop(): Promise<void>;
  /**
   * Test hook for a misbehaving Mem0: when set and it returns a reply, that raw reply is sent
   * instead of the real route's (after an optional delay). Cleared by reset().
   */
  intercept: ((req: RecordedRequest) => InterceptReply | undefined) | undefined;
}

/** A raw answer for Mem0Standin.intercept. */
export interface InterceptReply {
  status: number;
  body: string;
  contentType?: string;
  delayMs?: number;
}

export interface Mem0StandinOptions {
  port?: number;
  /**
   * Mem0's ADMIN_API_KEY. When set, Mem0's own auth is on: requests without this `X-API-Key`
   * (or a dashboard token / per-user key the stand-in issued) get 401, except the public routes
   * (/auth/setup-status, /auth/register, /auth/login, /auth/refresh and the docs). When unset,
   * the stand-in behaves like `AUTH_DISABLED=true` and checks no credentials at all.
   */
  requireApiKey?: string;
  /** Clock, for deterministic timestamps in tests. */
  now?: () => Date;
}

type Json = Record<string, unknown>;
const ENTITY_KEYS = ['user_id', 'agent_id', 'run_id'] as const;
type EntityKey = (typeof ENTITY_KEYS)[number];
/** Keys caller metadata may never set (Mem0 drops them). */
const IDENTITY_KEYS = new Set<string>([...ENTITY_KEYS, 'actor_id']);
/** Payload keys promoted to the top level of a memory (get, scoped list, search), in order. */
const PROMOTED_KEYS = ['user_id', 'agent_id', 'run_id', 'actor_id', 'role', 'attributed_to', 'expiration_date'] as const;
const CORE_KEYS = new Set<string>(['data', 'hash', 'created_at', 'updated_at', 'id', 'text_lemmatized', 'attributed_to', ...PROMOTED_KEYS]);
/** Payload keys the flat "list everything" shape keeps out of `metadata`. */
const FLAT_RESERVED_KEYS = new Set<string>(['data', 'user_id', 'agent_id', 'run_id', 'hash', 'created_at', 'updated_at', 'expiration_date']);
const ALL_MEMORIES_LIMIT = 1000;
const ENTITY_SCAN_LIMIT = 10_000;
const LLM_PROVIDERS = ['openai', 'anthropic', 'gemini'];
const EMBEDDER_PROVIDERS = ['openai', 'gemini'];
const SENSITIVE_CONFIG_KEYS = new Set(['admin_api_key', 'api_key', 'authorization', 'jwt_secret', 'password', 'password_hash', 'secret', 'token']);
const MSG_AUTH_REQUIRED = 'Authentication required. Provide a Bearer token or X-API-Key header.';
const MSG_SEARCH_NEEDS_ENTITY = "filters must contain at least one of: user_id, agent_id, run_id. Example: filters={'user_id': 'u1'}";

// ---------------------------------------------------------------------------------------------
// Errors: `{"detail": "..."}` (HTTPException), FastAPI's 422 list, and Mem0's 502 upstream error.

interface ValidationIssue { type: string; loc: (string | number)[]; msg: string; input: unknown; ctx?: Json }

class HttpError extends Error {
  constructor(readonly status: number, readonly detail: string | ValidationIssue[], readonly headers: Record<string, string> = {}) {
    super(typeof detail === 'string' ? detail : 'validation error');
  }
}

/** What Mem0 answers when its backing store or core raises something it does not map to 4xx. */
class UpstreamError extends Error {}

const unprocessable = (issues: ValidationIssue[]): HttpError => new HttpError(422, issues);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Pydantic-like validation (lax mode, as FastAPI runs it) of bodies, query and path parameters.

type FieldType = 'str' | 'bool' | 'int' | 'float' | 'dict' | 'email' | 'messages';
interface FieldSpec { name: string; type: FieldType; required?: boolean }

const BOOL_STRINGS = new Map<string, boolean>([
  ['0', false], ['off', false], ['f', false], ['false', false], ['n', false], ['no', false],
  ['1', true], ['on', true], ['t', true], ['true', true], ['y', true], ['yes', true],
]);

function checkValue(type: FieldType, v: unknown, loc: (string | number)[], out: ValidationIssue[]): unknown {
  const issue = (t: string, msg: string, ctx?: Json): undefined => {
    out.push({ type: t, loc, msg, input: v, ...(ctx ? { ctx } : {}) });
    return undefined;
  };
  switch (type) {
    case 'str':
      return typeof v === 'string' ? v : issue('string_type', 'Input should be a valid string');
    case 'email':
      if (typeof v !== 'string') return issue('string_type', 'Input should be a valid string');
      return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v) ? v
        : issue('value_error', 'value is not a valid email address: The email address is not valid.', { reason: 'The email address is not valid.' });
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 0 || v === 1) return v === 1;
      if (typeof v === 'string' && BOOL_STRINGS.has(v.trim().toLowerCase())) return BOOL_STRINGS.get(v.trim().toLowerCase());
      if (typeof v === 'string' || typeof v === 'number') return issue('bool_parsing', 'Input should be a valid boolean, unable to interpret input');
      return issue('bool_type', 'Input should be a valid boolean');
    case 'int':
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'number') return Number.isInteger(v) ? v : issue('int_from_float', 'Input should be a valid integer, got a number with a fractional part');
      if (typeof v === 'string') return /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : issue('int_parsing', 'Input should be a valid integer, unable to parse string as an integer');
      return issue('int_type', 'Input should be a valid integer');
    case 'float':
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'number') return v;
      if (typeof v === 'string') return v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : issue('float_parsing', 'Input should be a valid number, unable to parse string as a number');
      return issue('float_type', 'Input should be a valid number');
    case 'dict':
      return isObject(v) ? v : issue('dict_type', 'Input should be a valid dictionary');
    case 'messages': {
      if (!Array.isArray(v)) return issue('list_type', 'Input should be a valid list');
      return v.map((m, i) => {
        if (!isObject(m)) {
          out.push({ type: 'model_type', loc: [...loc, i], msg: 'Input should be a valid dictionary or instance of Message', input: m, ctx: { class_name: 'Message' } });
          return undefined;
        }
        const msg: Json = {};
        for (const k of ['role', 'content']) {
          if (!(k in m)) out.push({ type: 'missing', loc: [...loc, i, k], msg: 'Field required', input: m });
          else msg[k] = checkValue('str', m[k], [...loc, i, k], out);
        }
        return msg;
      });
    }
  }
}

/** Validates a JSON body against a model: `Optional[...] = None` fields unless `required`. */
function validateModel(body: unknown, hasBody: boolean, fields: FieldSpec[], out: ValidationIssue[]): { values: Json; set: Set<string> } {
  const values: Json = {};
  const set = new Set<string>();
  if (!hasBody) {
    out.push({ type: 'missing', loc: ['body'], msg: 'Field required', input: null });
    return { values, set };
  }
  if (!isObject(body)) {
    out.push({ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body });
    return { values, set };
  }
  for (const f of fields) {
    if (!(f.name in body)) {
      if (f.required) out.push({ type: 'missing', loc: ['body', f.name], msg: 'Field required', input: body });
      values[f.name] = null;
      continue;
    }
    set.add(f.name);
    const v = body[f.name];
    values[f.name] = v === null && !f.required ? null : checkValue(f.type, v, ['body', f.name], out);
  }
  return { values, set };
}

function queryInt(query: Record<string, string>, name: string, out: ValidationIssue[], bounds: { ge?: number; le?: number }): number | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  const n = checkValue('int', raw, ['query', name], out);
  if (typeof n !== 'number') return undefined;
  if (bounds.ge !== undefined && n < bounds.ge) {
    out.push({ type: 'greater_than_equal', loc: ['query', name], msg: `Input should be greater than or equal to ${bounds.ge}`, input: raw, ctx: { ge: bounds.ge } });
    return undefined;
  }
  if (bounds.le !== undefined && n > bounds.le) {
    out.push({ type: 'less_than_equal', loc: ['query', name], msg: `Input should be less than or equal to ${bounds.le}`, input: raw, ctx: { le: bounds.le } });
    return undefined;
  }
  return n;
}

function queryBool(query: Record<string, string>, name: string, out: ValidationIssue[]): boolean | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  const b = checkValue('bool', raw, ['query', name], out);
  return typeof b === 'boolean' ? b : undefined;
}

// ---------------------------------------------------------------------------------------------
// Mem0 core rules: entity ids, expiration dates, timestamps, payload → response shapes.

/** Python's str() of a non-string id (Mem0 coerces before validating). */
function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(pyStr).join(', ')}]`;
  if (isObject(v)) return `{${Object.entries(v).map(([k, x]) => `'${k}': ${pyStr(x)}`).join(', ')}}`;
  return String(v);
}

/** Trims an entity id; empty or inner whitespace is a client error (ValueError in Mem0). */
function trimEntityId(value: unknown, name: string): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = pyStr(value).trim();
  if (trimmed === '') throw new HttpError(400, `Invalid ${name}: cannot be empty or whitespace-only. Provide a valid identifier.`);
  if (/\s/.test(trimmed)) throw new HttpError(400, `Invalid ${name}: cannot contain whitespace. Provide a valid identifier without spaces.`);
  return trimmed;
}

/** Same rule on paths where Mem0 wraps every core error into a 502 upstream error. */
function trimEntityIdOrUpstream(value: unknown, name: string): string | null {
  try {
    return trimEntityId(value, name);
  } catch {
    throw new UpstreamError();
  }
}

function normalizeExpirationDate(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new HttpError(400, 'expiration_date must be a date string in YYYY-MM-DD format.');
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(value);
  const bad = new HttpError(400, 'expiration_date must be a valid date in YYYY-MM-DD format.');
  if (!m || (value.length !== 8 && value.length !== 10)) throw bad;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1 || date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) throw bad;
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/** Python's `datetime.now(timezone.utc).isoformat()`. */
function pyIsoformat(d: Date): string {
  const base = d.toISOString().slice(0, 19);
  const ms = d.getUTCMilliseconds();
  return ms === 0 ? `${base}+00:00` : `${base}.${String(ms).padStart(3, '0')}000+00:00`;
}

/** How pydantic serializes a datetime parsed from an ISO string (UTC as `Z`). */
function pydanticDatetime(s: unknown): string | null {
  if (typeof s !== 'string') return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$/.exec(s);
  if (!m) return null;
  const frac = (m[2] ?? '').padEnd(6, '0');
  const tz = m[3] === undefined ? '' : m[3] === 'Z' || m[3] === '+00:00' || m[3] === '-00:00' ? 'Z' : m[3];
  return `${m[1]}${/^0+$/.test(frac) ? '' : `.${frac}`}${tz}`;
}

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

/** PostgreSQL JSONB key order (shorter keys first, then bytewise): Mem0's pgvector payloads. */
function jsonb(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(jsonb);
  if (!isObject(v)) return v;
  const keys = Object.keys(v).sort((a, b) => {
    const ba = Buffer.from(a, 'utf8');
    const bb = Buffer.from(b, 'utf8');
    return ba.length - bb.length || Buffer.compare(ba, bb);
  });
  return Object.fromEntries(keys.map((k) => [k, jsonb(v[k])]));
}

function pick(payload: Json, keep: (k: string) => boolean): Json {
  return Object.fromEntries(Object.entries(payload).filter(([k]) => keep(k)));
}

function dropIdentityKeys(metadata: Json): Json {
  return pick(metadata, (k) => !IDENTITY_KEYS.has(k));
}

function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(jsonb(a)) === JSON.stringify(jsonb(b));
}

// ---------------------------------------------------------------------------------------------
// The store: memories (id → payload, like Mem0's vector store rows) and history (Mem0's SQLite).

interface Row { id: string; payload: Json }

type Shape = 'get' | 'list' | 'search';

/** A memory as Mem0's get / get_all / search return it. */
function memoryItem(row: Row, shape: Shape, score?: number): Json {
  const p = row.payload;
  const item: Json = { id: row.id, memory: p.data ?? '', hash: p.hash ?? null, metadata: null };
  if (shape !== 'list') item.score = score ?? null;
  item.created_at = p.created_at ?? null;
  item.updated_at = p.updated_at ?? null;
  for (const k of PROMOTED_KEYS) if (k in p) item[k] = jsonb(p[k]);
  const extra = pick(p, (k) => !CORE_KEYS.has(k));
  if (Object.keys(extra).length > 0) item.metadata = jsonb(extra);
  return item;
}

/** The flatter shape of GET /memories without any entity id (every memory, raw payload). */
function flatItem(row: Row): Json {
  const p = row.payload;
  return {
    id: row.id, memory: p.data ?? null, user_id: p.user_id ?? null, agent_id: p.agent_id ?? null, run_id: p.run_id ?? null,
    hash: p.hash ?? null, expiration_date: p.expiration_date ?? null,
    metadata: jsonb(pick(p, (k) => !FLAT_RESERVED_KEYS.has(k))),
    created_at: p.created_at ?? null, updated_at: p.updated_at ?? null,
  };
}

function isExpired(payload: Json, now: Date): boolean {
  const exp = payload.expiration_date;
  if (typeof exp !== 'string' || exp === '') return false;
  return /^\d{4}-\d{2}-\d{2}$/.test(exp) && exp < now.toISOString().slice(0, 10);
}

/** Query-word overlap in [0, 1]: the stand-in's similarity score. */
function overlapScore(query: string, text: string): number {
  const words = (s: string): string[] => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== '');
  const q = [...new Set(words(query))];
  if (q.length === 0) return 0;
  const have = new Set(words(text));
  return q.filter((w) => have.has(w)).length / q.length;
}

function looseEqual(a: unknown, b: unknown): boolean {
  if (jsonEqual(a, b)) return true;
  return (typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean')
    && (typeof b === 'string' || typeof b === 'number' || typeof b === 'boolean') && String(a) === String(b);
}

/** Mem0's search filters over a payload: equality, operators, `*`, AND / OR / NOT. */
function filterMatches(filters: Json, payload: Json): boolean {
  for (const [key, cond] of Object.entries(filters)) {
    if (key === 'AND' || key === 'OR' || key === 'NOT') {
      if (!Array.isArray(cond) || (key !== 'AND' && cond.length === 0)) {
        throw new HttpError(400, key === 'AND' ? 'AND operator requires a list of conditions' : `${key} operator requires a non-empty list of conditions`);
      }
      const subs = cond.map((c) => (isObject(c) ? filterMatches(c, payload) : false));
      if (key === 'AND' && !subs.every(Boolean)) return false;
      if (key === 'OR' && !subs.some(Boolean)) return false;
      if (key === 'NOT' && subs.some(Boolean)) return false;
      continue;
    }
    const actual = payload[key];
    if (cond === '*') {
      if (!(key in payload)) return false;
      continue;
    }
    if (!isObject(cond)) {
      if (cond === null || !(key in payload) || !looseEqual(actual, cond)) return false;
      continue;
    }
    for (const [op, want] of Object.entries(cond)) {
      const num = (x: unknown): number => (typeof x === 'number' ? x : Number(x));
      let ok: boolean;
      switch (op) {
        case 'eq': ok = key in payload && looseEqual(actual, want); break;
        case 'ne': ok = !(key in payload) || !looseEqual(actual, want); break;
        case 'in': ok = Array.isArray(want) && want.some((w) => looseEqual(actual, w)); break;
        case 'nin': ok = Array.isArray(want) && !want.some((w) => looseEqual(actual, w)); break;
        case 'gt': ok = key in payload && num(actual) > num(want); break;
        case 'gte': ok = key in payload && num(actual) >= num(want); break;
        case 'lt': ok = key in payload && num(actual) < num(want); break;
        case 'lte': ok = key in payload && num(actual) <= num(want); break;
        case 'contains': ok = typeof actual === 'string' && actual.includes(String(want)); break;
        case 'icontains': ok = typeof actual === 'string' && actual.toLowerCase().includes(String(want).toLowerCase()); break;
        default: throw new HttpError(400, `Unsupported metadata filter operator: ${op}`);
      }
      if (!ok) return false;
    }
  }
  return true;
}

class Store {
  readonly rows = new Map<string, Row>();
  readonly history: HistoryEntry[] = [];
  constructor(private readonly now: () => Date) {}

  stamp(): string { return pyIsoformat(this.now()); }

  private log(entry: Omit<HistoryEntry, 'id'>): void {
    this.history.push({ id: randomUUID(), ...entry });
  }

  /** Mem0's `_create_memory`: payload = metadata + data, hash, timestamps, lemmatized text. */
  create(text: string, metadata: Json, opts: { id?: string; createdAt?: string; updatedAt?: string | null; batch?: boolean } = {}): Row {
    const created = opts.createdAt ?? this.stamp();
    const payload: Json = { ...metadata, data: text, hash: md5(text), created_at: created, updated_at: opts.updatedAt ?? created, text_lemmatized: text };
    const row: Row = { id: opts.id ?? randomUUID(), payload };
    this.rows.set(row.id, row);
    this.log({
      memory_id: row.id, old_memory: null, new_memory: text, event: 'ADD', created_at: created,
      // Mem0's batched (infer) history rows carry no updated_at, actor or role.
      updated_at: opts.batch ? null : (payload.updated_at as string | null),
      is_deleted: false,
      actor_id: opts.batch ? null : ((payload.actor_id as string | undefined) ?? null),
      role: opts.batch ? null : ((payload.role as string | undefined) ?? null),
    });
    return row;
  }

  update(row: Row, text: string, metadata: Json | null): void {
    const prev = row.payload.data as string;
    const payload: Json = { ...row.payload, ...(metadata ? dropIdentityKeys(metadata) : {}) };
    payload.data = text;
    payload.hash = md5(text);
    payload.text_lemmatized = text;
    payload.created_at = row.payload.created_at;
    payload.updated_at = this.stamp();
    row.payload = payload;
    this.log({
      memory_id: row.id, old_memory: prev, new_memory: text, event: 'UPDATE', created_at: (payload.created_at as string | undefined) ?? null,
      updated_at: payload.updated_at as string, is_deleted: false,
      actor_id: (payload.actor_id as string | undefined) ?? null, role: (payload.role as string | undefined) ?? null,
    });
  }

  remove(row: Row): void {
    this.rows.delete(row.id);
    this.log({
      memory_id: row.id, old_memory: (row.payload.data as string | undefined) ?? '', new_memory: null, event: 'DELETE',
      created_at: (row.payload.created_at as string | undefined) ?? null, updated_at: this.stamp(), is_deleted: true,
      actor_id: (row.payload.actor_id as string | undefined) ?? null, role: (row.payload.role as string | undefined) ?? null,
    });
  }

  /** Rows whose entity ids equal every given one. */
  scoped(filters: Partial<Record<EntityKey, string>>): Row[] {
    return [...this.rows.values()].filter((r) => ENTITY_KEYS.every((k) => filters[k] === undefined || r.payload[k] === filters[k]));
  }

  deleteAll(filters: Partial<Record<EntityKey, string>>): void {
    for (const row of this.scoped(filters)) this.remove(row);
  }

  clear(): void {
    this.rows.clear();
    this.history.length = 0;
  }
}

function view(row: Row): StoredMemory {
  const p = row.payload;
  const m: StoredMemory = {
    id: row.id, memory: String(p.data ?? ''), hash: String(p.hash ?? ''),
    metadata: (memoryItem(row, 'get').metadata as Json | null) ?? null,
    created_at: String(p.created_at ?? ''), updated_at: (p.updated_at as string | null | undefined) ?? null,
  };
  for (const k of ENTITY_KEYS) if (typeof p[k] === 'string') m[k] = p[k] as string;
  if (typeof p.role === 'string') m.role = p.role;
  if ('expiration_date' in p) m.expiration_date = (p.expiration_date as string | null) ?? null;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Dashboard accounts (Mem0's /auth/* and /api-keys): HS256 tokens, per-user `m0sk_` keys.

interface User { id: string; name: string; email: string; salt: Buffer; passwordHash: Buffer; role: 'admin'; created_at: string; last_login_at: string | null }
interface ApiKey { id: string; label: string; key_prefix: string; keyHash: string; created_by: string; created_at: string; last_used_at: string | null; revoked_at: string | null }
interface RequestLogRow { id: string; method: string; path: string; status_code: number; latency_ms: number; auth_type: string; created_at: string }

type AuthType = 'none' | 'bearer' | 'admin_api_key' | 'api_key' | 'disabled';
type Guard = 'public' | 'auth' | 'user' | 'admin';

function hashPassword(password: string, salt: Buffer): Buffer {
  return scryptSync(password, salt, 32, { N: 1024 });
}

class Accounts {
  users: User[] = [];
  apiKeys: ApiKey[] = [];
  refreshJtis = new Map<string, { userId: string; expiresAt: number; used: boolean }>();
  readonly secret = randomBytes(32);
  constructor(private readonly now: () => Date) {}

  clear(): void {
    this.users = [];
    this.apiKeys = [];
    this.refreshJtis.clear();
  }

  createUser(name: string, email: string, password: string): User {
    const salt = randomBytes(16);
    const user: User = { id: randomUUID(), name, email, salt, passwordHash: hashPassword(password, salt), role: 'admin', created_at: pyIsoformat(this.now()), last_login_at: null };
    this.users.push(user);
    return user;
  }

  checkPassword(user: User, password: string): boolean {
    return timingSafeEqual(hashPassword(password, user.salt), user.passwordHash);
  }

  private sign(payload: Json): string {
    const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const sig = createHmac('sha256', this.secret).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${sig}`;
  }

  decode(token: string): Json {
    const invalid = new HttpError(401, 'Invalid or expired token.');
    const parts = token.split('.');
    if (parts.length !== 3) throw invalid;
    const expected = createHmac('sha256', this.secret).update(`${parts[0]}.${parts[1]}`).digest();
    const got = Buffer.from(parts[2] ?? '', 'base64url');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw invalid;
    let payload: unknown;
    try { payload = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')); } catch { throw invalid; }
    if (!isObject(payload) || typeof payload.exp !== 'number' || payload.exp * 1000 <= this.now().getTime()) throw invalid;
    return payload;
  }

  tokens(user: User): Json {
    const nowS = Math.floor(this.now().getTime() / 1000);
    const jti = randomUUID();
    this.refreshJtis.set(jti, { userId: user.id, expiresAt: (nowS + 30 * 86400) * 1000, used: false });
    return {
      access_token: this.sign({ sub: user.id, role: user.role, exp: nowS + 30 * 60, type: 'access' }),
      refresh_token: this.sign({ sub: user.id, exp: nowS + 30 * 86400, jti, type: 'refresh' }),
      token_type: 'bearer',
    };
  }

  consumeRefresh(jti: unknown): void {
    const rec = typeof jti === 'string' ? this.refreshJtis.get(jti) : undefined;
    if (!rec || rec.used || rec.expiresAt <= this.now().getTime()) throw new HttpError(401, 'Refresh token is no longer valid.');
    rec.used = true;
  }

  createKey(user: User, label: string): { key: string; rec: ApiKey } {
    const key = `m0sk_${randomBytes(32).toString('base64url')}`;
    const rec: ApiKey = {
      id: randomUUID(), label, key_prefix: key.slice(0, 12), keyHash: createHash('sha256').update(key).digest('hex'),
      created_by: user.id, created_at: pyIsoformat(this.now()), last_used_at: null, revoked_at: null,
    };
    this.apiKeys.push(rec);
    return { key, rec };
  }

  userForKey(key: string): User {
    const prefix = key.slice(0, 12);
    const digest = createHash('sha256').update(key).digest('hex');
    const rec = this.apiKeys.find((k) => k.key_prefix === prefix && k.revoked_at === null && k.keyHash === digest);
    if (!rec) throw new HttpError(401, 'Invalid API key.');
    rec.last_used_at = pyIsoformat(this.now());
    const user = this.users.find((u) => u.id === rec.created_by);
    if (!user) throw new HttpError(401, 'API key owner not found.');
    return user;
  }
}

const userResponse = (u: User): Json => ({ id: u.id, name: u.name, email: u.email, role: u.role, created_at: pydanticDatetime(u.created_at) });

// ---------------------------------------------------------------------------------------------
// Routing (FastAPI / Starlette semantics: exact paths, no slash redirects, 404 / 405).

interface Ctx {
  req: RecordedRequest;
  params: Record<string, string>;
  /** Parsed body (JSON, or the raw text for a non-JSON content type). */
  body: unknown;
  hasBody: boolean;
  user: User | null;
  authType: AuthType;
}

/** A response other than a plain 200 JSON body. */
class Reply {
  constructor(readonly status: number, readonly body: unknown = null, readonly headers: Record<string, string> = {}, readonly html?: string) {}
}

interface Route {
  method: string;
  path: string;
  summary: string;
  guard: Guard;
  /** The route reads a JSON body (FastAPI parses it before running auth). */
  body?: boolean;
  docs?: boolean;
  handle(ctx: Ctx): unknown;
}

class Mem0Server {
  readonly store: Store;
  readonly accounts: Accounts;
  readonly requestLog: RequestLogRow[] = [];
  config: Json = Mem0Server.defaultConfig();
  readonly routes: Route[];

  constructor(readonly opts: Mem0StandinOptions, readonly now: () => Date) {
    this.store = new Store(now);
    this.accounts = new Accounts(now);
    this.routes = this.buildRoutes();
  }

  static defaultConfig(): Json {
    return {
      version: 'v1.1',
      vector_store: { provider: 'pgvector', config: { host: '127.0.0.1', port: 5432, dbname: 'postgres', user: 'postgres', password: 'postgres', collection_name: 'memories' } },
      llm: { provider: 'openai', config: { api_key: 'sk-standin', temperature: 0.2, model: 'gpt-5-mini' } },
      embedder: { provider: 'openai', config: { api_key: 'sk-standin', model: 'text-embedding-3-small' } },
      history_db_path: '/app/history/history.db',
      custom_instructions: 'Remember the preferences, facts and plans the user states.',
    };
  }

  reset(): void {
    this.store.clear();
    this.accounts.clear();
    this.requestLog.length = 0;
    this.config = Mem0Server.defaultConfig();
  }

  // --- auth (Mem0's verify_auth / require_auth / require_admin) ---

  private authenticate(ctx: Ctx, guard: Guard): void {
    if (guard === 'public') return;
    const adminKey = this.opts.requireApiKey;
    const h = ctx.req.headers;
    if (adminKey === undefined) {
      ctx.authType = 'disabled';
    } else {
      const authz = typeof h.authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h.authorization) : null;
      const apiKey = typeof h['x-api-key'] === 'string' ? h['x-api-key'] : undefined;
      if (authz) {
        ctx.authType = 'bearer';
        const payload = this.accounts.decode(authz[1] ?? '');
        if (payload.type !== 'access') throw new HttpError(401, 'Invalid token type.');
        const user = this.accounts.users.find((u) => u.id === payload.sub);
        if (!user) throw new HttpError(401, 'User not found.');
        ctx.user = user;
      } else if (apiKey !== undefined) {
        const a = Buffer.from(apiKey);
        const b = Buffer.from(adminKey);
        if (adminKey !== '' && a.length === b.length && timingSafeEqual(a, b)) {
          ctx.authType = 'admin_api_key';
        } else {
          ctx.authType = 'api_key';
          ctx.user = this.accounts.userForKey(apiKey);
        }
      } else {
        throw new HttpError(401, MSG_AUTH_REQUIRED, { 'www-authenticate': 'Bearer' });
      }
    }
    if (guard === 'user' && ctx.user === null) {
      ctx.user = this.accounts.users[0] ?? null;
      if (ctx.user === null) throw new HttpError(401, 'Authentication required.');
    }
    if (guard === 'admin' && ctx.user !== null && ctx.user.role !== 'admin') throw new HttpError(403, 'Admin role required.');
  }

  // --- request handling ---

  /** Answers one request; `authType` is how it authenticated (for Mem0's request log). */
  handle(req: RecordedRequest, requestId: string): { reply: Reply; authType: AuthType } {
    let path = req.path;
    try { path = decodeURIComponent(req.path); } catch { /* keep it raw */ }
    const seg = path.split('/').slice(1);
    const candidates = this.routes.map((r) => ({ r, params: matchPath(r.path, seg) })).filter((x) => x.params !== null);
    if (candidates.length === 0) return { reply: new Reply(404, { detail: 'Not Found' }), authType: 'none' };
    const hit = candidates.find((x) => x.r.method === req.method);
    if (!hit) {
      const allow = [...new Set(candidates.map((x) => x.r.method))].join(', ');
      return { reply: new Reply(405, { detail: 'Method Not Allowed' }, { allow }), authType: 'none' };
    }
    const ctx: Ctx = { req, params: hit.params ?? {}, body: undefined, hasBody: false, user: null, authType: 'none' };
    const answer = (reply: Reply): { reply: Reply; authType: AuthType } => ({ reply, authType: ctx.authType });
    try {
      if (hit.r.body) this.parseBody(ctx);
      this.authenticate(ctx, hit.r.guard);
      const out = hit.r.handle(ctx);
      return answer(out instanceof Reply ? out : new Reply(200, out));
    } catch (err) {
      if (err instanceof HttpError) return answer(new Reply(err.status, { detail: err.detail }, err.headers));
      if (err instanceof UpstreamError) return answer(new Reply(502, { detail: 'Upstream provider error.', code: 'unknown', request_id: requestId }));
      throw err;
    }
  }

  /** FastAPI reads a JSON body (any json content type, or none) before it runs dependencies. */
  private parseBody(ctx: Ctx): void {
    const raw = ctx.req.rawBody;
    if (raw === '') return;
    ctx.hasBody = true;
    const ct = String(ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const isJson = ct === '' || /^application\/(.+\+)?json$/.test(ct);
    if (!isJson) {
      ctx.body = raw;
      return;
    }
    try {
      ctx.body = JSON.parse(raw);
    } catch (e) {
      const message = String((e as Error).message);
      const pos = /position (\d+)/.exec(message);
      const at = pos ? Number(pos[1]) : /end of JSON/.test(message) ? raw.length : 0;
      throw unprocessable([{ type: 'json_invalid', loc: ['body', at], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } }]);
    }
  }

  // --- routes ---

  private buildRoutes(): Route[] {
    const s = this.store;
    const a = this.accounts;
    const now = this.now;
    const route = (method: string, path: string, summary: string, guard: Guard, handle: Route['handle'], extra: Partial<Route> = {}): Route =>
      ({ method, path, summary, guard, handle, ...extra });
    const model = (ctx: Ctx, fields: FieldSpec[], issues: ValidationIssue[] = []): { values: Json; set: Set<string> } => {
      const res = validateModel(ctx.body, ctx.hasBody, fields, issues);
      if (issues.length > 0) throw unprocessable(issues);
      return res;
    };
    const findRow = (id: string | undefined): Row | undefined => (id === undefined ? undefined : s.rows.get(id));
    const html = (title: string): Reply => new Reply(200, null, {}, `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><div id="app">${title}</div></body></html>\n`);

    return [
      // FastAPI's own routes.
      route('GET', '/openapi.json', 'OpenAPI document', 'public', () => this.openapi(), { docs: true }),
      route('GET', '/docs', 'Swagger UI', 'public', () => html('Mem0 REST APIs - Swagger UI'), { docs: true }),
      route('GET', '/docs/oauth2-redirect', 'Swagger UI OAuth2 redirect', 'public', () => html('Swagger UI: OAuth2 Redirect'), { docs: true }),
      route('GET', '/redoc', 'ReDoc', 'public', () => html('Mem0 REST APIs - ReDoc'), { docs: true }),

      // Dashboard accounts.
      route('GET', '/auth/setup-status', 'Setup status', 'public', () => ({ needsSetup: a.users.length === 0 })),
      route('POST', '/auth/register', 'Register the first admin', 'public', (ctx) => {
        const { values } = model(ctx, [{ name: 'name', type: 'str', required: true }, { name: 'email', type: 'email', required: true }, { name: 'password', type: 'str', required: true }]);
        requirePasswordLength(values.password as string);
        if (a.users.length > 0) throw new HttpError(403, 'Registration is closed. An admin account already exists.');
        return a.tokens(a.createUser(values.name as string, values.email as string, values.password as string));
      }, { body: true }),
      route('POST', '/auth/login', 'Log in', 'public', (ctx) => {
        const { values } = model(ctx, [{ name: 'email', type: 'email', required: true }, { name: 'password', type: 'str', required: true }]);
        const user = a.users.find((u) => u.email === values.email);
        if (!user || !a.checkPassword(user, values.password as string)) throw new HttpError(401, 'Invalid email or password.');
        user.last_login_at = pyIsoformat(now());
        return a.tokens(user);
      }, { body: true }),
      route('POST', '/auth/refresh', 'Refresh tokens', 'public', (ctx) => {
        const { values } = model(ctx, [{ name: 'refresh_token', type: 'str', required: true }]);
        const payload = a.decode(values.refresh_token as string);
        if (payload.type !== 'refresh') throw new HttpError(401, 'Invalid token type.');
        if (!payload.jti) throw new HttpError(401, 'Refresh token is no longer valid.');
        const user = a.users.find((u) => u.id === payload.sub);
        if (!user) throw new HttpError(401, 'User not found.');
        a.consumeRefresh(payload.jti);
        return a.tokens(user);
      }, { body: true }),
      route('GET', '/auth/me', 'Current user', 'user', (ctx) => userResponse(ctx.user as User)),
      route('PATCH', '/auth/me', 'Update current user', 'user', (ctx) => {
        const { values } = model(ctx, [{ name: 'name', type: 'str' }, { name: 'email', type: 'email' }]);
        const user = ctx.user as User;
        if (typeof values.name === 'string' && values.name.trim() !== '') user.name = values.name.trim();
        if (typeof values.email === 'string' && values.email !== user.email) {
          if (a.users.some((u) => u.email === values.email && u.id !== user.id)) throw new HttpError(409, 'Email is already in use.');
          user.email = values.email;
        }
        return userResponse(user);
      }, { body: true }),
      route('POST', '/auth/change-password', 'Change password', 'user', (ctx) => {
        const { values } = model(ctx, [{ name: 'current_password', type: 'str', required: true }, { name: 'new_password', type: 'str', required: true }]);
        const user = ctx.user as User;
        if (!a.checkPassword(user, values.current_password as string)) throw new HttpError(401, 'Current password is incorrect.');
        requirePasswordLength(values.new_password as string);
        user.salt = randomBytes(16);
        user.passwordHash = hashPassword(values.new_password as string, user.salt);
        return { message: 'Password updated.' };
      }, { body: true }),
      route('POST', '/auth/onboarding-complete', 'Onboarding complete', 'user', (ctx) => {
        model(ctx, [{ name: 'use_case', type: 'str', required: true }]);
        return { message: 'Onboarding completed.' };
      }, { body: true }),

      // Per-user API keys.
      route('GET', '/api-keys', 'List API keys', 'user', (ctx) => a.apiKeys
        .filter((k) => k.created_by === (ctx.user as User).id && k.revoked_at === null)
        .reverse()
        .map((k) => ({ id: k.id, label: k.label, key_prefix: k.key_prefix, created_at: pydanticDatetime(k.created_at), last_used_at: pydanticDatetime(k.last_used_at) }))),
      route('POST', '/api-keys', 'Create an API key', 'user', (ctx) => {
        const { values } = model(ctx, [{ name: 'label', type: 'str', required: true }]);
        const { key, rec } = a.createKey(ctx.user as User, values.label as string);
        return new Reply(201, { id: rec.id, key, label: rec.label, key_prefix: rec.key_prefix, created_at: pydanticDatetime(rec.created_at) });
      }, { body: true }),
      route('DELETE', '/api-keys/{key_id}', 'Revoke an API key', 'user', (ctx) => {
        const rec = a.apiKeys.find((k) => k.id === (ctx.params.key_id ?? '').toLowerCase());
        if (!rec || rec.created_by !== (ctx.user as User).id) throw new HttpError(404, 'API key not found.');
        if (rec.revoked_at !== null) throw new HttpError(400, 'API key is already revoked.');
        rec.revoked_at = pyIsoformat(now());
        return { message: 'API key revoked.' };
      }),

      // Entities.
      route('GET', '/entities', 'List entities', 'auth', () => this.listEntities()),
      route('DELETE', '/entities/{entity_type}/{entity_id}', 'Delete an entity', 'admin', (ctx) => {
        const type = ctx.params.entity_type ?? '';
        const field = ({ user: 'user_id', agent: 'agent_id', run: 'run_id' } as Record<string, EntityKey>)[type];
        if (field === undefined) {
          throw unprocessable([{ type: 'literal_error', loc: ['path', 'entity_type'], msg: "Input should be 'user', 'agent' or 'run'", input: type, ctx: { expected: "'user', 'agent' or 'run'" } }]);
        }
        const id = trimEntityIdOrUpstream(ctx.params.entity_id, field) ?? '';
        s.deleteAll({ [field]: id });
        return { message: 'Entity deleted' };
      }),

      // Mem0's own request log.
      route('GET', '/requests', 'List requests', 'admin', (ctx) => {
        const issues: ValidationIssue[] = [];
        const limit = queryInt(ctx.req.query, 'limit', issues, { ge: 1, le: 200 }) ?? 50;
        if (issues.length > 0) throw unprocessable(issues);
        return this.requestLog.filter((r) => r.auth_type === 'api_key' || r.auth_type === 'admin_api_key')
          .slice().reverse().slice(0, limit)
          .map((r) => ({ ...r, created_at: pydanticDatetime(r.created_at) }));
      }),

      // Configuration.
      route('GET', '/configure', 'Get current Mem0 configuration', 'auth', () => redactConfig(this.config)),
      route('GET', '/configure/providers', 'List bundled LLM and embedder providers', 'auth', () => ({ llm: [...LLM_PROVIDERS], embedder: [...EMBEDDER_PROVIDERS] })),
      route('POST', '/configure', 'Configure Mem0', 'admin', (ctx) => {
        if (!ctx.hasBody) throw unprocessable([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
        if (!isObject(ctx.body)) throw unprocessable([{ type: 'dict_type', loc: ['body'], msg: 'Input should be a valid dictionary', input: ctx.body }]);
        const llm = ctx.body.llm;
        if (isObject(llm) && typeof llm.provider === 'string' && llm.provider !== '' && !LLM_PROVIDERS.includes(llm.provider)) {
          throw new HttpError(400, `LLM provider '${llm.provider}' is not bundled in this image. Bundled providers: ${LLM_PROVIDERS.join(', ')}. `
            + 'To use another provider, install its Python package, rebuild the container, and extend BUNDLED_LLM_PROVIDERS in server/main.py.');
        }
        const emb = ctx.body.embedder;
        if (isObject(emb) && typeof emb.provider === 'string' && emb.provider !== '' && !EMBEDDER_PROVIDERS.includes(emb.provider)) {
          throw new HttpError(400, `Embedder provider '${emb.provider}' is not bundled in this image. Bundled providers: ${EMBEDDER_PROVIDERS.join(', ')}. `
            + 'To use another provider, install its Python package, rebuild the container, and extend BUNDLED_EMBEDDER_PROVIDERS in server/main.py.');
        }
        this.config = mergeConfig(this.config, ctx.body);
        return { message: 'Configuration set successfully' };
      }, { body: true }),
      route('POST', '/generate-instructions', 'Generate custom instructions from a use case', 'auth', (ctx) => {
        const { values } = model(ctx, [{ name: 'use_case', type: 'str', required: true }]);
        return {
          custom_instructions: `Focus on facts, preferences and context that matter for this use case: ${String(values.use_case).trim()}`,
          test_message: 'I usually go running before work.',
        };
      }, { body: true }),

      // Memories.
      route('POST', '/memories', 'Create memories', 'auth', (ctx) => this.addMemories(ctx, model(ctx, [
        { name: 'messages', type: 'messages', required: true }, { name: 'user_id', type: 'str' }, { name: 'agent_id', type: 'str' },
        { name: 'run_id', type: 'str' }, { name: 'metadata', type: 'dict' }, { name: 'expiration_date', type: 'str' },
        { name: 'infer', type: 'bool' }, { name: 'memory_type', type: 'str' }, { name: 'prompt', type: 'str' },
      ]).values), { body: true }),
      route('GET', '/memories', 'Get memories', 'auth', (ctx) => this.listMemories(ctx)),
      route('DELETE', '/memories', 'Delete all memories', 'admin', (ctx) => {
        const q = ctx.req.query;
        const given = ENTITY_KEYS.filter((k) => (q[k] ?? '') !== '');
        if (given.length === 0) throw new HttpError(400, 'At least one identifier is required.');
        const filters: Partial<Record<EntityKey, string>> = {};
        for (const k of given) filters[k] = trimEntityIdOrUpstream(q[k], k) ?? '';
        s.deleteAll(filters);
        return { message: 'All relevant memories deleted' };
      }),
      route('GET', '/memories/{memory_id}', 'Get a memory', 'auth', (ctx) => {
        const row = findRow(ctx.params.memory_id);
        return row ? memoryItem(row, 'get') : null;
      }),
      route('PUT', '/memories/{memory_id}', 'Update a memory', 'auth', (ctx) => {
        const { values, set } = model(ctx, [{ name: 'text', type: 'str' }, { name: 'metadata', type: 'dict' }, { name: 'expiration_date', type: 'str' }]);
        const text = set.has('text') ? (values.text as string | null) : null;
        const metadata = set.has('metadata') ? (values.metadata as Json | null) : null;
        if (text === null && metadata === null && !set.has('expiration_date')) {
          throw new HttpError(400, 'At least one of text, metadata, or expiration_date must be provided.');
        }
        let updates: Json | null = metadata ? { ...metadata } : null;
        if (set.has('expiration_date')) updates = { ...(updates ?? {}), expiration_date: normalizeExpirationDate(values.expiration_date) };
        const id = ctx.params.memory_id ?? '';
        const row = findRow(id);
        if (!row) throw new HttpError(404, `Memory with id ${id} not found. Please provide a valid 'memory_id'`);
        const newText = text ?? row.payload.data;
        if (typeof newText !== 'string') throw new HttpError(400, `Memory with id ${id} does not have text content to update`);
        s.update(row, newText, updates);
        return { message: 'Memory updated successfully!' };
      }, { body: true }),
      route('DELETE', '/memories/{memory_id}', 'Delete a memory', 'auth', (ctx) => {
        const id = ctx.params.memory_id ?? '';
        const row = findRow(id);
        if (!row) throw new HttpError(404, `Memory with id ${id} not found`);
        s.remove(row);
        return { message: 'Memory deleted successfully' };
      }),
      route('GET', '/memories/{memory_id}/history', 'Get memory history', 'auth', (ctx) =>
        s.history.filter((h) => h.memory_id === ctx.params.memory_id).map((h) => ({ ...h }))),
      route('POST', '/search', 'Search memories', 'auth', (ctx) => this.search(model(ctx, [
        { name: 'query', type: 'str', required: true }, { name: 'user_id', type: 'str' }, { name: 'run_id', type: 'str' },
        { name: 'agent_id', type: 'str' }, { name: 'filters', type: 'dict' }, { name: 'top_k', type: 'int' },
        { name: 'threshold', type: 'float' }, { name: 'explain', type: 'bool' }, { name: 'show_expired', type: 'bool' },
      ]).values), { body: true }),
      route('POST', '/reset', 'Reset all memories', 'admin', () => {
        s.clear();
        return { message: 'All memories reset' };
      }),
      route('GET', '/', 'Redirect to the OpenAPI documentation', 'public', () => new Reply(307, null, { location: '/docs' }), { docs: true }),
    ];
  }

  private addMemories(ctx: Ctx, v: Json): Json {
    if (!ENTITY_KEYS.some((k) => typeof v[k] === 'string' && v[k] !== '')) {
      throw new HttpError(400, 'At least one identifier (user_id, agent_id, run_id) is required.');
    }
    const expiration = normalizeExpirationDate(v.expiration_date);
    const base: Json = isObject(v.metadata) ? dropIdentityKeys(v.metadata) : {};
    const scope: Partial<Record<EntityKey, string>> = {};
    for (const k of ENTITY_KEYS) {
      const id = trimEntityId(v[k], k);
      if (id !== null) { base[k] = id; scope[k] = id; }
    }
    if (expiration !== null) base.expiration_date = expiration;
    if (v.memory_type !== null && v.memory_type !== 'procedural_memory') {
      throw new HttpError(400, "Invalid 'memory_type'. Please pass procedural_memory to create procedural memories.");
    }
    const messages = (v.messages as Array<{ role: string; content: string }>);
    if (v.agent_id !== null && v.memory_type === 'procedural_memory') {
      // One summary memory of the whole conversation (Mem0 asks its LLM for it).
      const text = messages.map((m) => `${m.role}: ${m.content}`).join('\n') || 'empty procedure';
      const row = this.store.create(text, { ...base, memory_type: 'procedural_memory' });
      return { results: [{ id: row.id, memory: text, event: 'ADD' }] };
    }
    if (v.infer === false) {
      const results = messages.filter((m) => m.role !== 'system').map((m) => {
        const row = this.store.create(m.content, { ...base, role: m.role });
        return { id: row.id, memory: m.content, event: 'ADD', actor_id: null, role: m.role };
      });
      return { results };
    }
    // infer: one "fact" per user message; a fact the entity already holds is not stored again.
    const seen = new Set(this.store.scoped(scope).map((r) => r.payload.hash));
    const results: Json[] = [];
    for (const m of messages) {
      if (m.role !== 'user' || m.content === '' || seen.has(md5(m.content))) continue;
      seen.add(md5(m.content));
      const row = this.store.create(m.content, { ...base }, { batch: true });
      results.push({ id: row.id, memory: m.content, event: 'ADD' });
    }
    return { results };
  }

  private listMemories(ctx: Ctx): Json {
    const q = ctx.req.query;
    const issues: ValidationIssue[] = [];
    const topK = queryInt(q, 'top_k', issues, { ge: 0, le: ALL_MEMORIES_LIMIT });
    const showExpired = queryBool(q, 'show_expired', issues) ?? false;
    if (issues.length > 0) throw unprocessable(issues);
    const given = ENTITY_KEYS.filter((k) => (q[k] ?? '') !== '');
    if (given.length === 0) {
      if (ctx.user !== null && ctx.user.role !== 'admin' && ctx.authType !== 'admin_api_key' && ctx.authType !== 'disabled') {
        throw new HttpError(403, 'Admin role required to list all memories.');
      }
      return { results: [...this.store.rows.values()].slice(0, topK ?? ALL_MEMORIES_LIMIT).map(flatItem) };
    }
    const filters: Partial<Record<EntityKey, string>> = {};
    for (const k of given) filters[k] = trimEntityIdOrUpstream(q[k], k) ?? '';
    const limit = topK ?? 20;
    // Mem0 reads max(4 × top_k, 60) rows (top_k when showing expired ones), drops expired
    // ones, and stops once it has top_k (checked after adding, so top_k=0 still yields one).
    const fetched = this.store.scoped(filters).slice(0, showExpired ? limit : Math.max(limit * 4, 60));
    const now = this.now();
    const results: Json[] = [];
    for (const row of fetched) {
      if (!showExpired && isExpired(row.payload, now)) continue;
      results.push(memoryItem(row, 'list'));
      if (results.length >= limit) break;
    }
    return { results };
  }

  private search(v: Json): Json {
    const filters: Json = isObject(v.filters) ? { ...v.filters } : {};
    for (const k of ENTITY_KEYS) if (typeof v[k] === 'string' && v[k] !== '') filters[k] = v[k];
    const threshold = v.threshold === null ? 0.1 : (v.threshold as number);
    const topK = v.top_k === null ? 20 : (v.top_k as number);
    const explain = v.explain === true;
    const showExpired = v.show_expired === true;
    if (threshold < 0 || threshold > 1) throw new HttpError(400, `Invalid threshold: ${pyFloat(threshold)}. Must be between 0 and 1 (inclusive).`);
    if (topK < 0) throw new HttpError(400, `Invalid top_k: ${topK}. Must be a non-negative integer.`);
    const query = String(v.query).trim();
    if (query === '') throw new HttpError(400, 'Invalid query: cannot be empty or whitespace-only.');
    for (const k of ENTITY_KEYS) if (k in filters) filters[k] = trimEntityId(filters[k], k);
    if (!ENTITY_KEYS.some((k) => k in filters)) throw new HttpError(400, MSG_SEARCH_NEEDS_ENTITY);
    const now = this.now();
    const scored = [...this.store.rows.values()]
      .filter((row) => filterMatches(filters, row.payload) && (showExpired || !isExpired(row.payload, now)) && row.payload.data)
      .map((row) => ({ row, score: overlapScore(query, String(row.payload.data)) }))
      .filter((x) => x.score >= threshold)
      .sort((x, y) => y.score - x.score)
      .slice(0, topK);
    return {
      results: scored.map(({ row, score }) => {
        const item = memoryItem(row, 'search', score);
        if (explain) {
          item.score_details = { semantic_score: score, bm25_score: 0, entity_boost: 0, raw_score: score, max_possible_score: 1, final_score: score, threshold };
        }
        return item;
      }),
    };
  }

  private listEntities(): Json[] {
    const buckets = new Map<string, { id: string; type: string; total: number; created: string | null; createdMs: number; updated: string | null; updatedMs: number }>();
    for (const row of [...this.store.rows.values()].slice(0, ENTITY_SCAN_LIMIT)) {
      const p = row.payload;
      const created = typeof p.created_at === 'string' && !Number.isNaN(Date.parse(p.created_at)) ? p.created_at : null;
      const updated = typeof p.updated_at === 'string' && !Number.isNaN(Date.parse(p.updated_at)) ? p.updated_at : created;
      for (const [type, field] of [['user', 'user_id'], ['agent', 'agent_id'], ['run', 'run_id']] as const) {
        const value = p[field];
        if (value === undefined || value === null || value === '') continue;
        const key = `${type}\u0000${String(value)}`;
        const b = buckets.get(key) ?? { id: String(value), type, total: 0, created: null, createdMs: Infinity, updated: null, updatedMs: -Infinity };
        b.total += 1;
        if (created !== null && Date.parse(created) < b.createdMs) { b.created = created; b.createdMs = Date.parse(created); }
        if (updated !== null && Date.parse(updated) > b.updatedMs) { b.updated = updated; b.updatedMs = Date.parse(updated); }
        buckets.set(key, b);
      }
    }
    const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
    return [...buckets.values()]
      .sort((x, y) => cmp(x.type, y.type) || cmp(x.id, y.id))
      .map((b) => ({ id: b.id, type: b.type, total_memories: b.total, created_at: pydanticDatetime(b.created), updated_at: pydanticDatetime(b.updated) }));
  }

  private openapi(): Json {
    const paths: Record<string, Record<string, Json>> = {};
    for (const r of this.routes) {
      if (r.docs) continue;
      const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      (paths[r.path] ??= {})[r.method.toLowerCase()] = {
        summary: r.summary,
        ...(params.length > 0 ? { parameters: params } : {}),
        ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } } } : {}),
        responses: { 200: { description: 'Successful Response' }, ...(r.body || params.length > 0 ? { 422: { description: 'Validation Error' } } : {}) },
        ...(r.guard === 'public' ? {} : { security: [{ HTTPBearer: [] }, { APIKeyHeader: [] }] }),
      };
    }
    return {
      openapi: '3.1.0',
      info: { title: 'Mem0 REST APIs', description: 'A REST API for managing and searching memories for your AI Agents and Apps.', version: '1.0.0' },
      paths,
      components: { securitySchemes: { HTTPBearer: { type: 'http', scheme: 'bearer' }, APIKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } },
    };
  }
}

function matchPath(pattern: string, seg: string[]): Record<string, string> | null {
  const pat = pattern.split('/').slice(1);
  if (pattern === '/') return seg.length === 1 && seg[0] === '' ? {} : null;
  if (pat.length !== seg.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pat.length; i++) {
    const p = pat[i] ?? '';
    const s = seg[i] ?? '';
    const m = /^\{(\w+)\}$/.exec(p);
    if (m) {
      if (s === '') return null;
      params[m[1] ?? ''] = s;
    } else if (p !== s) {
      return null;
    }
  }
  return params;
}

function requirePasswordLength(password: string): void {
  if (password.length < 8) throw new HttpError(400, 'Password must be at least 8 characters.');
}

function pyFloat(n: number): string {
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

function redactConfig(v: unknown, key?: string): unknown {
  if (Array.isArray(v)) return v.map((x) => redactConfig(x, key));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactConfig(x, k)]));
  if (key !== undefined && SENSITIVE_CONFIG_KEYS.has(key.toLowerCase())) return v ? '[redacted]' : v;
  return v;
}

function mergeConfig(base: Json, updates: Json): Json {
  const out: Json = structuredClone(base);
  for (const [k, v] of Object.entries(updates)) {
    const cur = out[k];
    out[k] = isObject(v) && isObject(cur) ? mergeConfig(cur, v) : structuredClone(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/** Paths Mem0 keeps out of its request log. */
function logged(method: string, path: string): boolean {
  return method !== 'OPTIONS' && !['/api/health', '/docs', '/redoc', '/openapi.json'].includes(path) && !path.startsWith('/requests');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: Reply, requestId: string): void {
  const headers: Record<string, string | number> = { ...reply.headers, 'x-request-id': requestId };
  let text = '';
  if (reply.html !== undefined) {
    text = reply.html;
    headers['content-type'] = 'text/html; charset=utf-8';
  } else if (reply.status !== 307) {
    text = JSON.stringify(reply.body === undefined ? null : reply.body);
    headers['content-type'] = 'application/json';
  }
  headers['content-length'] = Buffer.byteLength(text);
  res.writeHead(reply.status, headers);
  res.end(text);
}

export async function startMem0Standin(opts: Mem0StandinOptions = {}): Promise<Mem0Standin> {
  const now = opts.now ?? (() => new Date());
  const mem0 = new Mem0Server(opts, now);
  const requests: RecordedRequest[] = [];

  const server = createServer((req, res) => {
    void (async () => {
      const started = process.hrtime.bigint();
      const rawBody = await readBody(req);
      const u = new URL(req.url ?? '/', 'http://mem0.local');
      let body: unknown;
      if (rawBody !== '') {
        try { body = JSON.parse(rawBody); } catch { /* recorded raw only */ }
      }
      const rec: RecordedRequest = {
        method: req.method ?? 'GET', path: u.pathname, url: req.url ?? '/',
        query: Object.fromEntries(u.searchParams), headers: req.headers, body, rawBody,
      };
      requests.push(rec);
      const forced = handle.intercept?.(rec);
      if (forced !== undefined) {
        if (forced.delayMs) await new Promise((r) => setTimeout(r, forced.delayMs));
        if (!res.destroyed) {
          res.writeHead(forced.status, { 'content-type': forced.contentType ?? 'application/json', 'content-length': Buffer.byteLength(forced.body) });
          res.end(forced.body);
        }
        return;
      }
      const requestId = randomBytes(4).toString('hex');
      let reply: Reply;
      let authType: AuthType = 'none';
      try {
        ({ reply, authType } = mem0.handle(rec, requestId));
      } catch {
        reply = new Reply(500, { detail: 'Internal Server Error' });
      }
      send(res, reply, requestId);
      if (logged(rec.method, u.pathname)) {
        mem0.requestLog.push({
          id: randomUUID(), method: rec.method, path: u.pathname, status_code: reply.status,
          latency_ms: Math.round(Number(process.hrtime.bigint() - started) / 10_000) / 100, auth_type: authType, created_at: pyIsoformat(now()),
        });
      }
    })().catch(() => { if (!res.headersSent) send(res, new Reply(500, { detail: 'Internal Server Error' }), '-'); });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const handle: Mem0Standin = {
    intercept: undefined,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    memories: () => [...mem0.store.rows.values()].map(view),
    seed: (m) => {
      const meta: Json = isObject(m.metadata) ? dropIdentityKeys(m.metadata) : {};
      for (const k of ENTITY_KEYS) if (typeof m[k] === 'string') meta[k] = m[k];
      if (typeof m.role === 'string') meta.role = m.role;
      if (m.expiration_date !== undefined) meta.expiration_date = m.expiration_date;
      const row = mem0.store.create(m.memory ?? 'seeded memory', meta, {
        ...(m.id !== undefined ? { id: m.id } : {}),
        ...(m.created_at !== undefined ? { createdAt: m.created_at } : {}),
        ...(m.updated_at !== undefined ? { updatedAt: m.updated_at } : {}),
      });
      return view(row);
    },
    reset: () => { mem0.reset(); requests.length = 0; handle.intercept = undefined; },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return handle;
}

// In-memory stand-in for the Mem0 OSS REST server (mem0ai/mem0 server/main.py): same routes,
// request bodies and response shapes, no LLM (each message becomes one memory). It records every
// request that reached it so tests can prove what Envoy let through and with which headers.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StoredMemory {
  id: string;
  memory: string;
  hash: string;
  user_id?: string;
  agent_id?: string;
  run_id?: string;
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
  created_at: string;
  updated_at: string | null;
  is_deleted: boolean;
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
  /** Forgets memories, history and recorded requests. */
  reset(): void;
  stop(): Promise<void>;
}

export interface Mem0StandinOptions {
  port?: number;
  /** When set, requests without this X-API-Key get 401 (recent Mem0 servers enforce auth). */
  requireApiKey?: string;
  /** Clock, for deterministic timestamps in tests. */
  now?: () => Date;
}

const ENTITY_KEYS = ['user_id', 'agent_id', 'run_id'] as const;
type EntityKey = (typeof ENTITY_KEYS)[number];
type Json = Record<string, unknown>;

class HttpError extends Error {
  constructor(readonly status: number, readonly detail: string) { super(detail); }
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function md5ish(text: string): string {
  // Mem0 stores an md5 of the text; any stable digest serves the stand-in.
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(31, h) + text.charCodeAt(i)) | 0;
  return (h >>> 0).toString(16).padStart(8, '0');
}

function entityFilter(src: Json | Record<string, string>): Partial<Record<EntityKey, string>> {
  const out: Partial<Record<EntityKey, string>> = {};
  for (const k of ENTITY_KEYS) {
    const v = src[k];
    if (typeof v === 'string' && v !== '') out[k] = v;
  }
  return out;
}

function matches(m: StoredMemory, f: Partial<Record<EntityKey, string>>): boolean {
  return ENTITY_KEYS.every((k) => f[k] === undefined || m[k] === f[k]);
}

function requireBody(body: unknown): Json {
  if (!isObject(body)) throw new HttpError(422, 'request body must be a JSON object');
  return body;
}

/** The routes of Mem0's REST server, over an in-memory store. */
class Store {
  readonly byId = new Map<string, StoredMemory>();
  readonly history = new Map<string, HistoryEntry[]>();
  constructor(private readonly now: () => Date) {}

  private stamp(): string { return this.now().toISOString(); }

  private log(memoryId: string, event: HistoryEntry['event'], oldMemory: string | null, newMemory: string | null): void {
    const list = this.history.get(memoryId) ?? [];
    list.push({ id: randomUUID(), memory_id: memoryId, old_memory: oldMemory, new_memory: newMemory, event,
      created_at: this.stamp(), updated_at: null, is_deleted: event === 'DELETE' });
    this.history.set(memoryId, list);
  }

  add(fields: Partial<StoredMemory>): StoredMemory {
    const text = fields.memory ?? 'seeded memory';
    const m: StoredMemory = {
      id: fields.id ?? randomUUID(), memory: text, hash: md5ish(text), metadata: fields.metadata ?? null,
      created_at: fields.created_at ?? this.stamp(), updated_at: fields.updated_at ?? null,
      ...entityFilter(fields as Json),
    };
    this.byId.set(m.id, m);
    this.log(m.id, 'ADD', null, text);
    return m;
  }

  remove(id: string): void {
    const m = this.byId.get(id);
    if (!m) return;
    this.byId.delete(id);
    this.log(id, 'DELETE', m.memory, null);
  }

  get(id: string): StoredMemory {
    const m = this.byId.get(id);
    if (!m) throw new HttpError(404, 'Memory not found');
    return m;
  }

  createMemories(body: Json): Json {
    const ids = entityFilter(body);
    if (Object.keys(ids).length === 0) throw new HttpError(400, 'At least one identifier (user_id, agent_id, run_id) is required.');
    const messages = body.messages;
    if (!Array.isArray(messages) || !messages.every((x) => isObject(x) && typeof x.role === 'string' && typeof x.content === 'string')) {
      throw new HttpError(422, 'messages must be a list of {role, content}');
    }
    const typed = messages as Array<{ role: string; content: string }>;
    const user = typed.filter((x) => x.role === 'user');
    const results = (user.length > 0 ? user : typed).map((x) => {
      const m = this.add({ memory: x.content, ...ids, metadata: isObject(body.metadata) ? body.metadata : null });
      return { id: m.id, memory: m.memory, event: 'ADD' };
    });
    return { results };
  }

  list(query: Record<string, string>): Json {
    // Mem0's server answers 400 without an id; the stand-in lists everything so an admin-only
    // "list all" (DESIGN route table) can be exercised end to end.
    const f = entityFilter(query);
    return { results: [...this.byId.values()].filter((m) => matches(m, f)) };
  }

  search(body: Json): Json {
    if (typeof body.query !== 'string') throw new HttpError(422, 'query is required');
    const f = { ...entityFilter(isObject(body.filters) ? body.filters : {}), ...entityFilter(body) };
    const words = body.query.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
    const results = [...this.byId.values()].filter((m) => matches(m, f)).map((m) => {
      const text = m.memory.toLowerCase();
      const hits = words.filter((w) => text.includes(w)).length;
      return { ...m, score: words.length === 0 ? 0 : hits / words.length };
    }).filter((r) => r.score > 0).sort((a, b) => b.score - a.score);
    return { results };
  }

  update(id: string, body: Json): Json {
    const m = this.get(id);
    const text = [body.text, body.memory, body.data].find((v): v is string => typeof v === 'string');
    if (text === undefined) throw new HttpError(422, 'text is required');
    this.log(id, 'UPDATE', m.memory, text);
    m.memory = text;
    m.hash = md5ish(text);
    m.updated_at = this.stamp();
    return { message: 'Memory updated successfully!' };
  }

  deleteMany(query: Record<string, string>, body: unknown): Json {
    const named = [query.memory_ids, query.ids].filter((v): v is string => v !== undefined)
      .flatMap((v) => v.split(',')).concat(isObject(body) && Array.isArray(body.memory_ids) ? body.memory_ids.filter((x): x is string => typeof x === 'string') : []);
    const f = entityFilter(query);
    if (named.length === 0 && Object.keys(f).length === 0) throw new HttpError(400, 'At least one identifier is required.');
    const doomed = named.length > 0 ? named : [...this.byId.values()].filter((m) => matches(m, f)).map((m) => m.id);
    for (const id of doomed) this.remove(id);
    return { message: 'All relevant memories deleted' };
  }

  deleteEntity(type: string, id: string): Json {
    const key = (type.endsWith('_id') ? type : `${type}_id`) as EntityKey;
    if (!ENTITY_KEYS.includes(key)) throw new HttpError(400, `unknown entity type ${type}`);
    for (const m of [...this.byId.values()]) if (m[key] === id) this.remove(m.id);
    return { message: 'Entity deleted successfully.' };
  }

  clear(): void {
    this.byId.clear();
    this.history.clear();
  }
}

function route(store: Store, req: RecordedRequest): { status: number; body: unknown } {
  const { method, path, query, body } = req;
  const seg = path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  const ok = (b: unknown): { status: number; body: unknown } => ({ status: 200, body: b });
  if (seg[0] === 'memories') {
    if (seg.length === 1) {
      if (method === 'POST') return ok(store.createMemories(requireBody(body)));
      if (method === 'GET') return ok(store.list(query));
      if (method === 'DELETE') return ok(store.deleteMany(query, body));
    }
    const id = seg[1];
    if (seg.length === 2 && id !== undefined) {
      if (method === 'GET') return ok(store.get(id));
      if (method === 'PUT') return ok(store.update(id, requireBody(body)));
      if (method === 'DELETE') { store.get(id); store.remove(id); return ok({ message: 'Memory deleted successfully' }); }
    }
    if (seg.length === 3 && id !== undefined && seg[2] === 'history' && method === 'GET') return ok(store.history.get(id) ?? []);
  }
  if (seg.length === 1 && method === 'POST') {
    if (seg[0] === 'search') return ok(store.search(requireBody(body)));
    if (seg[0] === 'reset') { store.clear(); return ok({ message: 'All memories reset' }); }
    if (seg[0] === 'configure') { requireBody(body); return ok({ message: 'Configuration set successfully' }); }
  }
  if (seg[0] === 'entities' && seg.length === 3 && method === 'DELETE') return ok(store.deleteEntity(seg[1] ?? '', seg[2] ?? ''));
  throw new HttpError(404, 'Not Found');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startMem0Standin(opts: Mem0StandinOptions = {}): Promise<Mem0Standin> {
  const store = new Store(opts.now ?? (() => new Date()));
  const requests: RecordedRequest[] = [];

  const server = createServer((req, res) => {
    void (async () => {
      const rawBody = await readBody(req);
      const u = new URL(req.url ?? '/', 'http://mem0.local');
      let body: unknown;
      let badJson = false;
      if (rawBody !== '') {
        try { body = JSON.parse(rawBody); } catch { badJson = true; }
      }
      const rec: RecordedRequest = {
        method: req.method ?? 'GET', path: u.pathname, url: req.url ?? '/',
        query: Object.fromEntries(u.searchParams), headers: req.headers, body, rawBody,
      };
      requests.push(rec);
      if (opts.requireApiKey !== undefined && req.headers['x-api-key'] !== opts.requireApiKey) {
        return send(res, 401, { detail: 'Invalid or missing API key' });
      }
      if (badJson) return send(res, 422, { detail: 'JSON decode error' });
      try {
        const out = route(store, rec);
        send(res, out.status, out.body);
      } catch (err) {
        if (err instanceof HttpError) return send(res, err.status, { detail: err.detail });
        send(res, 500, { detail: 'internal error' });
      }
    })().catch(() => { if (!res.headersSent) send(res, 500, { detail: 'internal error' }); });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    memories: () => [...store.byId.values()],
    seed: (m) => store.add(m),
    reset: () => { store.clear(); requests.length = 0; },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

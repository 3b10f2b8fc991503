// The Mem0 stand-in speaks the current Mem0 OSS REST API (testing/mem0-contract/) and records
// what reached it. contract-replay.test.ts replays the recorded exchanges; this file covers the
// behaviour around them.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMem0Standin, type Mem0Standin } from '../../../../testing/mem0-standin.js';

let mem0: Mem0Standin;
let locked: Mem0Standin;
const fixed = new Date('2026-01-02T03:04:05.000Z');
const STAMP = '2026-01-02T03:04:05+00:00'; // Python's isoformat() of that instant
const KEY = 'k-123';
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

beforeAll(async () => {
  mem0 = await startMem0Standin({ now: () => fixed });
  locked = await startMem0Standin({ requireApiKey: KEY });
});
afterAll(async () => {
  await mem0?.stop();
  await locked?.stop();
});
beforeEach(() => {
  mem0.reset();
  locked.reset();
});

interface Res { status: number; json: any; text: string; headers: Headers }

async function req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, base = mem0.url): Promise<Res> {
  const res = await fetch(base + path, {
    method, redirect: 'manual',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}
const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> =>
  req(method, path, body, { 'x-api-key': KEY, ...headers }, locked.url);

describe('memories', () => {
  it('infer=false stores every non-system message; infer stores one memory per new user message', async () => {
    const raw = await req('POST', '/memories', {
      messages: [{ role: 'system', content: 'be nice' }, { role: 'user', content: 'I like tea' }, { role: 'assistant', content: 'Noted: tea' }],
      user_id: ' acme:alice ', agent_id: 'acme:bot', infer: false, metadata: { phi: false, user_id: 'globex:evil' },
    });
    expect(raw.status).toBe(200);
    expect(raw.json.results).toEqual([
      { id: expect.stringMatching(/^[0-9a-f-]{36}$/), memory: 'I like tea', event: 'ADD', actor_id: null, role: 'user' },
      { id: expect.stringMatching(/^[0-9a-f-]{36}$/), memory: 'Noted: tea', event: 'ADD', actor_id: null, role: 'assistant' },
    ]);
    const inferred = await req('POST', '/memories', { messages: [{ role: 'user', content: 'I live in Paris' }, { role: 'assistant', content: 'ok' }], user_id: 'acme:alice' });
    expect(inferred.json.results).toEqual([{ id: expect.any(String), memory: 'I live in Paris', event: 'ADD' }]);
    // Mem0 does not store a fact the entity already holds.
    expect((await req('POST', '/memories', { messages: [{ role: 'user', content: 'I live in Paris' }], user_id: 'acme:alice' })).json).toEqual({ results: [] });

    const id = raw.json.results[0].id;
    const one = await req('GET', `/memories/${id}`);
    // Ids trimmed and promoted to the top level; identity keys dropped from metadata; md5 hash.
    expect(one.json).toEqual({
      id, memory: 'I like tea', hash: md5('I like tea'), metadata: { phi: false }, score: null,
      created_at: STAMP, updated_at: STAMP, user_id: 'acme:alice', agent_id: 'acme:bot', role: 'user',
    });
    expect(Object.keys(one.json)).toEqual(['id', 'memory', 'hash', 'metadata', 'score', 'created_at', 'updated_at', 'user_id', 'agent_id', 'role']);
    const unknown = await req('GET', '/memories/00000000-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.text]).toEqual([200, 'null']);

    const listed = (await req('GET', '/memories?user_id=acme:alice')).json.results;
    expect(listed.map((m: { memory: string }) => m.memory)).toEqual(['I like tea', 'Noted: tea', 'I live in Paris']);
    expect(Object.keys(listed[0])).toEqual(['id', 'memory', 'hash', 'metadata', 'created_at', 'updated_at', 'user_id', 'agent_id', 'role']);
    expect(listed[2]).toEqual({ id: inferred.json.results[0].id, memory: 'I live in Paris', hash: md5('I live in Paris'), metadata: null, created_at: STAMP, updated_at: STAMP, user_id: 'acme:alice' });
    expect((await req('GET', '/memories?user_id=acme:alice&top_k=2')).json.results).toHaveLength(2);
    expect((await req('GET', '/memories?agent_id=acme:bot')).json.results).toHaveLength(2);
  });

  it('lists every memory of every user without an entity id, in the flat shape', async () => {
    const a = mem0.seed({ memory: 'Alice likes tea', user_id: 'acme:alice', metadata: { classification: 'phi' } });
    mem0.seed({ memory: 'Bob likes coffee', user_id: 'globex:bob', run_id: 'r-1' });
    const all = (await req('GET', '/memories')).json.results;
    expect(all).toHaveLength(2);
    expect(all[0]).toEqual({
      id: a.id, memory: 'Alice likes tea', user_id: 'acme:alice', agent_id: null, run_id: null, hash: md5('Alice likes tea'),
      expiration_date: null, metadata: { classification: 'phi', text_lemmatized: 'Alice likes tea' }, created_at: STAMP, updated_at: STAMP,
    });
    expect(Object.keys(all[0])).toEqual(['id', 'memory', 'user_id', 'agent_id', 'run_id', 'hash', 'expiration_date', 'metadata', 'created_at', 'updated_at']);
    expect(all[1]).toMatchObject({ user_id: 'globex:bob', run_id: 'r-1' });
    expect((await req('GET', '/memories?top_k=1')).json.results).toHaveLength(1);
    expect((await req('GET', '/memories?user_id=')).json.results).toHaveLength(2); // an empty id is no id
  });

  it('searches with an entity id at the top level of filters, or the deprecated top-level ids', async () => {
    const tea = mem0.seed({ memory: 'Alice likes green tea', user_id: 'acme:alice', role: 'user' });
    const noted = mem0.seed({ memory: 'Noted: tea', user_id: 'acme:alice', role: 'assistant' });
    mem0.seed({ memory: 'Bob likes green tea', user_id: 'globex:bob' });

    const hit = await req('POST', '/search', { query: 'green tea', filters: { user_id: 'acme:alice' } });
    expect(hit.status).toBe(200);
    expect(hit.json.results.map((m: { id: string }) => m.id)).toEqual([tea.id, noted.id]);
    expect(hit.json.results.map((m: { score: number }) => m.score)).toEqual([1, 0.5]);
    expect(Object.keys(hit.json.results[0])).toEqual(['id', 'memory', 'hash', 'metadata', 'score', 'created_at', 'updated_at', 'user_id', 'role']);
    expect((await req('POST', '/search', { query: 'green tea', user_id: 'acme:alice' })).json.results).toHaveLength(2);
    expect((await req('POST', '/search', { query: 'coffee', user_id: 'acme:alice' })).json.results).toEqual([]);
    expect((await req('POST', '/search', { query: 'tea', filters: { user_id: 'acme:alice', role: 'assistant' } })).json.results.map((m: { id: string }) => m.id)).toEqual([noted.id]);
    expect((await req('POST', '/search', { query: 'tea', filters: { user_id: 'acme:alice', OR: [{ role: 'user' }, { role: { eq: 'nobody' } }] } })).json.results.map((m: { id: string }) => m.id)).toEqual([tea.id]);
    expect((await req('POST', '/search', { query: 'green tea', user_id: 'acme:alice', top_k: 1 })).json.results).toHaveLength(1);
    expect((await req('POST', '/search', { query: 'green', user_id: 'acme:alice', threshold: 0 })).json.results).toHaveLength(2);
    const explained = await req('POST', '/search', { query: 'tea', user_id: 'acme:alice', explain: true });
    expect(explained.json.results[0].score_details).toMatchObject({ final_score: 1, threshold: 0.1 });
  });

  it('updates text or metadata, keeps history after deletion, deletes one, by entity (no per-id bulk delete), resets', async () => {
    const a = mem0.seed({ memory: 'one', user_id: 'acme:a' });
    mem0.seed({ memory: 'two', user_id: 'acme:a' });
    const c = mem0.seed({ memory: 'three', user_id: 'acme:b' });
    mem0.seed({ memory: 'four', agent_id: 'acme:bot' });

    expect((await req('PUT', `/memories/${a.id}`, { text: 'uno' })).json).toEqual({ message: 'Memory updated successfully!' });
    expect((await req('PUT', `/memories/${a.id}`, { metadata: { tag: 'x', user_id: 'globex:x' } })).status).toBe(200);
    expect((await req('GET', `/memories/${a.id}`)).json).toMatchObject({ memory: 'uno', hash: md5('uno'), metadata: { tag: 'x' }, user_id: 'acme:a' });
    expect((await req('PUT', `/memories/${a.id}`, { expiration_date: '2030-01-31' })).status).toBe(200);
    expect((await req('GET', `/memories/${a.id}`)).json.expiration_date).toBe('2030-01-31');
    const data = await req('PUT', `/memories/${a.id}`, { data: 'x' });
    expect(data).toMatchObject({ status: 400, json: { detail: 'At least one of text, metadata, or expiration_date must be provided.' } });
    const missing = await req('PUT', '/memories/00000000-0000-0000-0000-000000000000', { text: 'x' });
    expect(missing).toMatchObject({ status: 404, json: { detail: "Memory with id 00000000-0000-0000-0000-000000000000 not found. Please provide a valid 'memory_id'" } });

    expect((await req('DELETE', `/memories/${a.id}`)).json).toEqual({ message: 'Memory deleted successfully' });
    expect((await req('GET', `/memories/${a.id}`)).json).toBeNull();
    expect(await req('DELETE', `/memories/${a.id}`)).toMatchObject({ status: 404, json: { detail: `Memory with id ${a.id} not found` } });
    const history = (await req('GET', `/memories/${a.id}/history`)).json;
    expect(history.map((h: { event: string; is_deleted: boolean }) => [h.event, h.is_deleted])).toEqual([['ADD', false], ['UPDATE', false], ['UPDATE', false], ['UPDATE', false], ['DELETE', true]]);
    expect(history[1]).toMatchObject({ memory_id: a.id, old_memory: 'one', new_memory: 'uno' });
    expect(Object.keys(history[0])).toEqual(['id', 'memory_id', 'old_memory', 'new_memory', 'event', 'created_at', 'updated_at', 'is_deleted', 'actor_id', 'role']);

    // There is no per-id bulk delete: memory_ids alone is no identifier, and next to an entity
    // id it is ignored (every memory of that entity goes).
    expect(await req('DELETE', `/memories?memory_ids=${c.id}`)).toMatchObject({ status: 400, json: { detail: 'At least one identifier is required.' } });
    expect((await req('DELETE', `/memories?user_id=acme:a&memory_ids=${c.id}`)).json).toEqual({ message: 'All relevant memories deleted' });
    expect(mem0.memories().map((m) => m.memory).sort()).toEqual(['four', 'three']);

    expect((await req('GET', '/entities')).json).toEqual([
      { id: 'acme:bot', type: 'agent', total_memories: 1, created_at: '2026-01-02T03:04:05Z', updated_at: '2026-01-02T03:04:05Z' },
      { id: 'acme:b', type: 'user', total_memories: 1, created_at: '2026-01-02T03:04:05Z', updated_at: '2026-01-02T03:04:05Z' },
    ]);
    expect((await req('DELETE', '/entities/users/acme:b')).status).toBe(422);
    expect((await req('DELETE', '/entities/agent/acme:bot')).json).toEqual({ message: 'Entity deleted' });
    expect(mem0.memories().map((m) => m.id)).toEqual([c.id]);
    expect((await req('POST', '/reset')).json).toEqual({ message: 'All memories reset' });
    expect(mem0.memories()).toEqual([]);
    expect((await req('GET', '/entities')).json).toEqual([]);
  });

  it('hides expired memories from scoped lists and search unless show_expired', async () => {
    const old = mem0.seed({ memory: 'old tea', user_id: 'acme:a', expiration_date: '2026-01-01' });
    mem0.seed({ memory: 'new tea', user_id: 'acme:a', expiration_date: '2026-01-02' });
    expect((await req('GET', '/memories?user_id=acme:a')).json.results.map((m: { memory: string }) => m.memory)).toEqual(['new tea']);
    expect((await req('GET', '/memories?user_id=acme:a&show_expired=true')).json.results).toHaveLength(2);
    expect((await req('POST', '/search', { query: 'tea', user_id: 'acme:a' })).json.results).toHaveLength(1);
    expect((await req('POST', '/search', { query: 'tea', user_id: 'acme:a', show_expired: true })).json.results).toHaveLength(2);
    expect((await req('GET', `/memories/${old.id}`)).json).toMatchObject({ expiration_date: '2026-01-01' });
    const add = await req('POST', '/memories', { messages: [{ role: 'user', content: 'x' }], user_id: 'acme:a', expiration_date: '2027-02-03', infer: false });
    expect((await req('GET', `/memories/${add.json.results[0].id}`)).json.expiration_date).toBe('2027-02-03');
  });

  it('seed() keeps working for callers: id, entity ids, metadata', async () => {
    const m = mem0.seed({ id: 'm-1', memory: 'x', user_id: 'acme:alice', agent_id: 'acme:bot', run_id: 'r-1', metadata: { classification: 'phi', agent_id: 'forged' } });
    expect(m).toMatchObject({ id: 'm-1', memory: 'x', hash: md5('x'), user_id: 'acme:alice', agent_id: 'acme:bot', run_id: 'r-1', metadata: { classification: 'phi' } });
    expect((await req('GET', '/memories/m-1')).json).toMatchObject({ id: 'm-1', user_id: 'acme:alice', agent_id: 'acme:bot', run_id: 'r-1', metadata: { classification: 'phi' } });
    expect(mem0.memories()).toEqual([m]);
  });
});

describe('errors', () => {
  it('answers bad requests like Mem0: {"detail": "..."} or FastAPI\'s 422 list', async () => {
    const x = [{ role: 'user', content: 'x' }];
    expect(await req('POST', '/memories', { messages: x })).toMatchObject({ status: 400, json: { detail: 'At least one identifier (user_id, agent_id, run_id) is required.' } });
    expect(await req('POST', '/memories', { messages: x, user_id: 'acme alice' })).toMatchObject({ status: 400, json: { detail: 'Invalid user_id: cannot contain whitespace. Provide a valid identifier without spaces.' } });
    expect(await req('POST', '/memories', { messages: x, user_id: 'a', memory_type: 'bogus' })).toMatchObject({ status: 400, json: { detail: "Invalid 'memory_type'. Please pass procedural_memory to create procedural memories." } });
    expect(await req('POST', '/memories', { messages: x, user_id: 'a', expiration_date: '2026-13-01' })).toMatchObject({ status: 400, json: { detail: 'expiration_date must be a valid date in YYYY-MM-DD format.' } });
    expect(await req('POST', '/memories', { user_id: 'a' })).toMatchObject({ status: 422, json: { detail: [{ type: 'missing', loc: ['body', 'messages'], msg: 'Field required' }] } });
    expect(await req('POST', '/memories', { messages: x, user_id: 7 })).toMatchObject({ status: 422, json: { detail: [{ type: 'string_type', loc: ['body', 'user_id'] }] } });
    expect(await req('DELETE', '/memories')).toMatchObject({ status: 400, json: { detail: 'At least one identifier is required.' } });
    expect(await req('POST', '/search', '{not json')).toMatchObject({ status: 422, json: { detail: [{ type: 'json_invalid', msg: 'JSON decode error' }] } });
    const needsEntity = { status: 400, json: { detail: "filters must contain at least one of: user_id, agent_id, run_id. Example: filters={'user_id': 'u1'}" } };
    expect(await req('POST', '/search', { query: 'q' })).toMatchObject(needsEntity);
    expect(await req('POST', '/search', { query: 'q', filters: { AND: [{ user_id: 'a' }] } })).toMatchObject(needsEntity);
    expect(await req('POST', '/search', { user_id: 'a' })).toMatchObject({ status: 422, json: { detail: [{ type: 'missing', loc: ['body', 'query'], input: { user_id: 'a' } }] } });
    expect(await req('GET', '/memories?user_id=a&top_k=1001')).toMatchObject({ status: 422, json: { detail: [{ type: 'less_than_equal', loc: ['query', 'top_k'], input: '1001', ctx: { le: 1000 } }] } });
    expect(await req('GET', '/memories?user_id=a&top_k=abc')).toMatchObject({ status: 422, json: { detail: [{ type: 'int_parsing' }] } });
    expect(await req('DELETE', '/entities/users/a')).toMatchObject({ status: 422, json: { detail: [{ type: 'literal_error', loc: ['path', 'entity_type'], input: 'users' }] } });
    expect(await req('GET', '/nope')).toMatchObject({ status: 404, json: { detail: 'Not Found' } });
    expect(await req('GET', '/memories/?user_id=a')).toMatchObject({ status: 404, json: { detail: 'Not Found' } }); // no slash redirects
    expect(await req('PATCH', '/memories')).toMatchObject({ status: 405, json: { detail: 'Method Not Allowed' } });
  });

  it('wraps core errors on list and bulk delete into Mem0\'s 502 upstream error (as the real server does)', async () => {
    const r = await req('GET', '/memories?user_id=a%20b');
    expect(r).toMatchObject({ status: 502, json: { detail: 'Upstream provider error.', code: 'unknown' } });
    expect(r.json.request_id).toBe(r.headers.get('x-request-id'));
    expect((await req('DELETE', '/memories?user_id=a%20b')).status).toBe(502);
  });
});

describe('recording and auth', () => {
  it('records every request with method, path, query, headers and body', async () => {
    await req('POST', '/search', { query: 'q', user_id: 'acme:a' }, { 'x-mem0-gov-tenant': 'acme' });
    await req('GET', '/memories?user_id=acme:a');
    await req('POST', '/search', '{not json');
    expect(mem0.requests).toHaveLength(3);
    expect(mem0.requests[0]).toMatchObject({ method: 'POST', path: '/search', body: { query: 'q', user_id: 'acme:a' } });
    expect(mem0.requests[0]!.headers['x-mem0-gov-tenant']).toBe('acme');
    expect(mem0.requests[1]).toMatchObject({ method: 'GET', path: '/memories', url: '/memories?user_id=acme:a', query: { user_id: 'acme:a' } });
    expect(mem0.requests[2]).toMatchObject({ rawBody: '{not json', body: undefined });
  });

  it('with requireApiKey refuses requests without the right X-API-Key (and still records them)', async () => {
    const none = await req('GET', '/memories?user_id=a', undefined, {}, locked.url);
    expect(none).toMatchObject({ status: 401, json: { detail: 'Authentication required. Provide a Bearer token or X-API-Key header.' } });
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await req('GET', '/memories?user_id=a', undefined, { 'x-api-key': 'wrong' }, locked.url)).toMatchObject({ status: 401, json: { detail: 'Invalid API key.' } });
    expect((await req('GET', '/memories?user_id=a', undefined, { 'x-api-key': KEY }, locked.url)).status).toBe(200);
    // Mem0 checks a Bearer token before the API key: a caller's token must not reach it.
    expect(await admin('GET', '/memories?user_id=a', undefined, { authorization: 'Bearer caller-token' })).toMatchObject({ status: 401, json: { detail: 'Invalid or expired token.' } });
    expect(locked.requests).toHaveLength(4);
    // Mem0's admin-only routes accept the admin key.
    expect((await admin('DELETE', '/memories?user_id=a')).status).toBe(200);
    expect((await admin('POST', '/configure', {})).status).toBe(200);
    expect((await admin('DELETE', '/entities/user/a')).status).toBe(200);
    expect((await admin('POST', '/reset')).status).toBe(200);
    const log = (await admin('GET', '/requests')).json;
    expect(log[0]).toMatchObject({ method: 'POST', path: '/reset', status_code: 200, auth_type: 'admin_api_key' });
    expect(log.map((r: { path: string }) => r.path)).not.toContain('/requests');
    expect(log).toHaveLength(6); // key-authenticated requests only
  });

  it('serves the public routes (docs, setup status) without a key', async () => {
    const home = await req('GET', '/', undefined, {}, locked.url);
    expect([home.status, home.headers.get('location')]).toEqual([307, '/docs']);
    for (const p of ['/docs', '/redoc']) {
      const r = await req('GET', p, undefined, {}, locked.url);
      expect([r.status, r.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    }
    const doc = (await req('GET', '/openapi.json', undefined, {}, locked.url)).json;
    expect(doc.info.title).toBe('Mem0 REST APIs');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/memories', '/memories/{memory_id}', '/search', '/entities/{entity_type}/{entity_id}', '/api-keys/{key_id}', '/auth/me']));
    expect(Object.keys(doc.paths['/memories'])).toEqual(['post', 'get', 'delete']);
    expect((await req('GET', '/auth/setup-status', undefined, {}, locked.url)).json).toEqual({ needsSetup: true });
    expect((await req('GET', '/nope', undefined, {}, locked.url)).status).toBe(404);
  });

  it('has Mem0\'s dashboard accounts and per-user m0sk_ API keys', async () => {
    const reg = { name: 'Ada', email: 'ada@example.com', password: 'correct horse' };
    expect(await req('POST', '/auth/register', { ...reg, password: 'short' }, {}, locked.url)).toMatchObject({ status: 400, json: { detail: 'Password must be at least 8 characters.' } });
    const first = await req('POST', '/auth/register', reg, {}, locked.url);
    expect(first.json).toEqual({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: 'bearer' });
    expect((await req('POST', '/auth/register', reg, {}, locked.url)).status).toBe(403);
    expect((await req('GET', '/auth/setup-status', undefined, {}, locked.url)).json).toEqual({ needsSetup: false });
    expect((await req('POST', '/auth/login', { email: reg.email, password: 'wrong password' }, {}, locked.url)).status).toBe(401);
    const login = (await req('POST', '/auth/login', { email: reg.email, password: reg.password }, {}, locked.url)).json;
    const bearer = { authorization: `Bearer ${login.access_token}` };
    expect((await req('GET', '/auth/me', undefined, bearer, locked.url)).json).toMatchObject({ name: 'Ada', email: 'ada@example.com', role: 'admin' });
    expect((await req('PATCH', '/auth/me', { name: 'Ada L' }, bearer, locked.url)).json).toMatchObject({ name: 'Ada L' });
    expect((await req('POST', '/auth/onboarding-complete', { use_case: 'support' }, bearer, locked.url)).json).toEqual({ message: 'Onboarding completed.' });
    expect((await req('GET', '/memories?user_id=a', undefined, bearer, locked.url)).status).toBe(200);

    const created = await req('POST', '/api-keys', { label: 'ci' }, bearer, locked.url);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ label: 'ci', key: expect.stringMatching(/^m0sk_/) });
    expect(created.json.key_prefix).toBe(created.json.key.slice(0, 12));
    const userKey = { 'x-api-key': created.json.key as string };
    expect((await req('GET', '/memories?user_id=a', undefined, userKey, locked.url)).status).toBe(200);
    expect((await req('GET', '/api-keys', undefined, userKey, locked.url)).json).toEqual([expect.objectContaining({ id: created.json.id, label: 'ci', last_used_at: expect.any(String) })]);
    expect((await req('DELETE', `/api-keys/${created.json.id}`, undefined, bearer, locked.url)).json).toEqual({ message: 'API key revoked.' });
    expect((await req('GET', '/memories?user_id=a', undefined, userKey, locked.url)).status).toBe(401);

    const refreshed = await req('POST', '/auth/refresh', { refresh_token: login.refresh_token }, {}, locked.url);
    expect(refreshed.json.token_type).toBe('bearer');
    expect(await req('POST', '/auth/refresh', { refresh_token: login.refresh_token }, {}, locked.url)).toMatchObject({ status: 401, json: { detail: 'Refresh token is no longer valid.' } });
    expect((await req('POST', '/auth/change-password', { current_password: reg.password, new_password: 'another secret' }, bearer, locked.url)).json).toEqual({ message: 'Password updated.' });
    expect((await req('POST', '/auth/login', { email: reg.email, password: 'another secret' }, {}, locked.url)).status).toBe(200);
  });

  it('has the configuration routes, with secrets redacted', async () => {
    const cfg = (await admin('GET', '/configure')).json;
    expect(cfg).toMatchObject({ version: 'v1.1', vector_store: { provider: 'pgvector', config: { password: '[redacted]' } }, llm: { config: { api_key: '[redacted]' } } });
    expect((await admin('GET', '/configure/providers')).json).toEqual({ llm: ['openai', 'anthropic', 'gemini'], embedder: ['openai', 'gemini'] });
    expect((await admin('POST', '/configure', { llm: { provider: 'bogus' } })).status).toBe(400);
    expect((await admin('POST', '/configure', { custom_instructions: 'Only food.', llm: { config: { api_key: 'sk-new', model: 'm2' } } })).json).toEqual({ message: 'Configuration set successfully' });
    expect((await admin('GET', '/configure')).json).toMatchObject({ custom_instructions: 'Only food.', llm: { provider: 'openai', config: { api_key: '[redacted]', model: 'm2' } } });
    const gen = await admin('POST', '/generate-instructions', { use_case: 'customer support' });
    expect(Object.keys(gen.json)).toEqual(['custom_instructions', 'test_message']);
    expect((await admin('POST', '/generate-instructions', {})).status).toBe(422);
  });
});

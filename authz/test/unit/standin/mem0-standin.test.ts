// The Mem0 stand-in speaks the Mem0 OSS REST API shapes and records what reached it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMem0Standin, type Mem0Standin } from '../../../../testing/mem0-standin.js';

let mem0: Mem0Standin;
let locked: Mem0Standin;
const fixed = new Date('2026-01-02T03:04:05.000Z');

beforeAll(async () => {
  mem0 = await startMem0Standin({ now: () => fixed });
  locked = await startMem0Standin({ requireApiKey: 'k-123' });
});
afterAll(async () => {
  await mem0?.stop();
  await locked?.stop();
});
beforeEach(() => mem0.reset());

async function req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, base = mem0.url): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, {
    method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe('Mem0 stand-in', () => {
  it('adds one memory per user message and lists, gets, searches them by entity', async () => {
    const add = await req('POST', '/memories', {
      messages: [{ role: 'user', content: 'Alice likes green tea' }, { role: 'assistant', content: 'noted' }],
      user_id: 'acme:alice', agent_id: 'acme:bot', metadata: { phi: false },
    });
    expect(add.status).toBe(200);
    expect(add.json.results).toHaveLength(1);
    const { id, memory, event } = add.json.results[0];
    expect({ memory, event }).toEqual({ memory: 'Alice likes green tea', event: 'ADD' });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    mem0.seed({ memory: 'Bob likes coffee', user_id: 'globex:bob' });

    const one = await req('GET', `/memories/${id}`);
    expect(one.json).toMatchObject({ id, memory, user_id: 'acme:alice', agent_id: 'acme:bot', metadata: { phi: false }, created_at: fixed.toISOString() });
    expect((await req('GET', '/memories?user_id=acme:alice')).json.results.map((m: { id: string }) => m.id)).toEqual([id]);
    expect((await req('GET', '/memories')).json.results).toHaveLength(2);

    const hit = await req('POST', '/search', { query: 'green tea', filters: { user_id: 'acme:alice' } });
    expect(hit.json.results.map((m: { id: string }) => m.id)).toEqual([id]);
    expect((await req('POST', '/search', { query: 'coffee', user_id: 'acme:alice' })).json.results).toEqual([]);
  });

  it('updates, keeps history, deletes one, many and by entity, resets', async () => {
    const a = mem0.seed({ memory: 'one', user_id: 'acme:a' });
    mem0.seed({ memory: 'two', user_id: 'acme:a' });
    mem0.seed({ memory: 'three', user_id: 'acme:b' });
    const c = mem0.seed({ memory: 'four', agent_id: 'acme:bot' });
    expect((await req('PUT', `/memories/${a.id}`, { text: 'uno' })).json).toEqual({ message: 'Memory updated successfully!' });
    expect((await req('GET', `/memories/${a.id}/history`)).json.map((h: { event: string }) => h.event)).toEqual(['ADD', 'UPDATE']);
    expect((await req('DELETE', `/memories/${a.id}`)).status).toBe(200);
    expect((await req('GET', `/memories/${a.id}`)).status).toBe(404);
    expect((await req('DELETE', '/memories?user_id=acme:a')).status).toBe(200);
    expect(mem0.memories().map((m) => m.memory).sort()).toEqual(['four', 'three']);
    expect((await req('DELETE', '/entities/agent/acme:bot')).status).toBe(200);
    expect(mem0.memories().map((m) => m.id)).not.toContain(c.id);
    expect((await req('POST', '/reset')).json).toEqual({ message: 'All memories reset' });
    expect(mem0.memories()).toEqual([]);
  });

  it('answers like Mem0 to bad requests', async () => {
    expect((await req('POST', '/memories', { messages: [{ role: 'user', content: 'x' }] })).status).toBe(400);
    expect((await req('DELETE', '/memories')).status).toBe(400);
    expect((await req('POST', '/search', '{not json')).status).toBe(422);
    expect((await req('GET', '/nope')).status).toBe(404);
  });

  it('records every request with method, path, query, headers and body', async () => {
    await req('POST', '/search', { query: 'q', user_id: 'acme:a' }, { 'x-mem0-gov-tenant': 'acme' });
    await req('GET', '/memories?user_id=acme:a');
    expect(mem0.requests).toHaveLength(2);
    expect(mem0.requests[0]).toMatchObject({ method: 'POST', path: '/search', body: { query: 'q', user_id: 'acme:a' } });
    expect(mem0.requests[0]!.headers['x-mem0-gov-tenant']).toBe('acme');
    expect(mem0.requests[1]).toMatchObject({ method: 'GET', path: '/memories', url: '/memories?user_id=acme:a', query: { user_id: 'acme:a' } });
  });

  it('with requireApiKey refuses requests without the right X-API-Key (and still records them)', async () => {
    expect((await req('GET', '/memories?user_id=a', undefined, {}, locked.url)).status).toBe(401);
    expect((await req('GET', '/memories?user_id=a', undefined, { 'x-api-key': 'wrong' }, locked.url)).status).toBe(401);
    expect((await req('GET', '/memories?user_id=a', undefined, { 'x-api-key': 'k-123' }, locked.url)).status).toBe(200);
    expect(locked.requests).toHaveLength(3);
  });
});

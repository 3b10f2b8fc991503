import { describe, expect, it } from 'vitest';
import { parseCheck, pathSegments } from '../../../src/request/parse.js';
import type { RawCheck } from '../../../src/request/parse.js';
import { PipelineStop } from '../../../src/types.js';

const opts = { phiLabels: ['phi', 'restricted-health'] };

function raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): RawCheck {
  const r: RawCheck = { method, path, headers: { ...headers }, sourceIp: '10.0.0.9', requestId: 'req-1' };
  if (body !== undefined) {
    r.body = new TextEncoder().encode(typeof body === 'string' ? body : JSON.stringify(body));
    r.headers['content-type'] ??= 'application/json';
  }
  return r;
}

function stop(fn: () => unknown): PipelineStop {
  try {
    fn();
  } catch (err) {
    if (err instanceof PipelineStop) return err;
    throw err;
  }
  throw new Error('expected a PipelineStop');
}

describe('route table (DESIGN)', () => {
  const cases: [string, string, string, string, unknown?][] = [
    ['POST', '/memories', 'memories.create', 'write', { messages: [], user_id: 'acme:u' }],
    ['GET', '/memories?agent_id=acme:a&top_k=1000&show_expired=true', 'memories.list', 'read'],
    ['GET', '/memories?user_id=acme:u', 'memories.list', 'read'],
    ['GET', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', 'memories.get', 'read'],
    ['GET', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc/history', 'memories.history', 'read'],
    ['PUT', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', 'memories.update', 'write', { text: 'x' }],
    ['DELETE', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', 'memories.delete', 'delete'],
    ['DELETE', '/memories?user_id=acme:u', 'memories.bulk_delete', 'bulk_delete'],
    ['POST', '/search', 'search', 'read', { query: 'q', user_id: 'acme:u' }],
    ['POST', '/reset', 'reset', 'platform', {}],
    ['DELETE', '/entities/user/acme:u', 'entities.delete', 'admin'],
    ['POST', '/configure', 'configure.set', 'platform', {}],
    // every other route the current Mem0 server registers (shared mem0 contract)
    ['GET', '/memories', 'memories.list_all', 'platform'],
    ['GET', '/memories?top_k=5', 'memories.list_all', 'platform'],
    ['GET', '/entities', 'entities.list', 'read'],
    ['GET', '/configure', 'configure.get', 'platform'],
    ['GET', '/configure/providers', 'configure.providers', 'platform'],
    ['GET', '/requests?limit=10', 'requests.list', 'platform'],
    ['POST', '/generate-instructions', 'instructions.generate', 'write', { use_case: 'x' }],
    ['GET', '/', 'docs', 'read'],
    ['GET', '/docs', 'docs', 'read'],
    ['GET', '/redoc', 'docs', 'read'],
    ['GET', '/openapi.json', 'docs', 'read'],
    ['POST', '/auth/login', 'mem0.account', 'account'],
    ['GET', '/auth/setup-status', 'mem0.account', 'account'],
    ['PATCH', '/auth/me', 'mem0.account', 'account'],
    ['GET', '/api-keys', 'mem0.account', 'account'],
    ['POST', '/api-keys', 'mem0.account', 'account'],
    ['DELETE', '/api-keys/k-1', 'mem0.account', 'account'],
  ];
  for (const [method, path, route, action, body] of cases) {
    it(`${method} ${path} → ${route}/${action}`, () => {
      const req = parseCheck(raw(method, path, body), opts);
      expect(req.route).toBe(route);
      expect(req.action).toBe(action);
    });
  }

  it.each([
    ['GET', '/admin'],
    ['PATCH', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc'],
    ['POST', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc'],
    ['GET', '/search'],
    ['GET', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc/history/extra'],
    ['POST', '/entities/user/x'],
    ['POST', '/docs'],
    ['GET', '/auth'],
    ['GET', '/configure/other'],
  ])('%s %s → deny unknown_route (403)', (method, path) => {
    const s = stop(() => parseCheck(raw(method, path), opts));
    expect([s.decision, s.reason, s.status]).toEqual(['deny', 'unknown_route', 403]);
  });
});

describe('path validation', () => {
  it.each([
    '/memories/../reset',
    '/memories/%2e%2e/reset',
    '/memories/%2E%2E%2Freset',
    '/memories/a%2fb',
    '/memories/a%5cb',
    '/memories/%252e%252e',
    '/memories/./x',
    '/memories/a%00b',
  ])('%s → path_traversal', (p) => {
    const s = stop(() => pathSegments(p));
    expect([s.decision, s.reason, s.status]).toEqual(['invalid_request', 'path_traversal', 400]);
  });

  it.each(['/memories//x', '/memories\\x', 'memories', '/memories/%zz', '/memories/a\u0001'])('%s → invalid_path', (p) => {
    expect(stop(() => pathSegments(p)).reason).toBe('invalid_path');
  });

  it('decodes ordinary percent-encoding of ids', () => {
    expect(pathSegments('/entities/user/acme%3Aalice')).toEqual(['entities', 'user', 'acme:alice']);
  });
});

describe('entity ids: every place a request can name one', () => {
  it('query, body, filters and path are all collected', () => {
    const req = parseCheck(
      raw('POST', '/search', {
        query: 'q',
        user_id: 'acme:u1',
        filters: { AND: [{ agent_id: 'acme:a1' }, { run_id: { in: ['acme:r1', 'acme:r2'] } }] },
      }),
      opts,
    );
    expect(req.entities.map((e) => `${e.source}:${e.kind}=${e.id}`)).toEqual([
      'body:user_id=acme:u1',
      'filters:agent_id=acme:a1',
      'filters:run_id=acme:r1',
      'filters:run_id=acme:r2',
    ]);
    const list = parseCheck(raw('GET', '/memories?user_id=acme:u&agent_id=acme:a'), opts);
    expect(list.entities.map((e) => e.source)).toEqual(['query', 'query']);
    const ent = parseCheck(raw('DELETE', '/entities/agent/acme:a'), opts);
    expect(ent.entities).toEqual([{ kind: 'agent_id', id: 'acme:a', source: 'path' }]);
  });

  it('ids nested in other filter keys are collected too (they must also be in-tenant)', () => {
    const req = parseCheck(raw('POST', '/search', { query: 'q', user_id: 'acme:u', filters: { metadata: { user_id: 'globex:x' } } }), opts);
    expect(req.entities.map((e) => e.id)).toContain('globex:x');
  });

  it.each([
    [{ user_id: { ne: 'acme:u' } }, 'unsupported_entity_filter'],
    [{ user_id: { nin: ['acme:u'] } }, 'unsupported_entity_filter'],
    [{ NOT: [{ user_id: 'acme:u' }] }, 'unsupported_entity_filter'],
    [{ OR: [{ user_id: 'acme:u' }, { category: 'x' }] }, 'unscoped_filter'],
    [{ user_id: 42 }, 'invalid_entity_id'],
    [[{ user_id: 'acme:u' }], 'invalid_filters'],
  ])('filters %j → %s', (filters, reason) => {
    const s = stop(() => parseCheck(raw('POST', '/search', { query: 'q', filters }), opts));
    expect([s.decision, s.reason]).toEqual(['invalid_request', reason]);
  });

  it('OR is fine when the search is scoped at top level', () => {
    const req = parseCheck(raw('POST', '/search', { query: 'q', filters: { user_id: 'acme:u', OR: [{ agent_id: 'acme:a' }, { c: 1 }] } }), opts);
    expect(req.entities).toHaveLength(2);
  });

  it('filters deeper than the limit are refused', () => {
    let f: Record<string, unknown> = { user_id: 'acme:u' };
    for (let i = 0; i < 12; i++) f = { AND: [f] };
    expect(stop(() => parseCheck(raw('POST', '/search', { query: 'q', filters: f }), opts)).reason).toBe('filter_too_deep');
  });

  it.each([
    [{ user_id: 7 }],
    [{ user_id: '' }],
    [{ user_id: 'x'.repeat(257) }],
    [{ agent_id: 'acme:\u0007' }],
    [{ run_id: ['acme:r'] }],
  ])('body %j → invalid_entity_id', (b) => {
    expect(stop(() => parseCheck(raw('POST', '/memories', { messages: [], ...b }), opts)).reason).toBe('invalid_entity_id');
  });

  it('a repeated query parameter is refused (parser differential with Mem0)', () => {
    expect(stop(() => parseCheck(raw('GET', '/memories?user_id=acme:u&user_id=globex:v'), opts)).reason).toBe('duplicate_parameter');
  });

  it('memory ids must look like ids (Mem0 names memories with UUIDs)', () => {
    expect(stop(() => parseCheck(raw('GET', '/memories/' + 'a'.repeat(200)), opts)).reason).toBe('invalid_memory_id');
    expect(stop(() => parseCheck(raw('GET', '/memories/-x'), opts)).reason).toBe('invalid_memory_id');
    expect(stop(() => parseCheck(raw('GET', '/memories/not-a-uuid/history'), opts)).reason).toBe('invalid_memory_id');
    expect(parseCheck(raw('GET', '/memories/0B6F2C1E-1111-4A4A-9C9C-123456789ABC'), opts).memoryId).toBe('0B6F2C1E-1111-4A4A-9C9C-123456789ABC');
  });
});

describe('bodies', () => {
  it('POST/PUT need application/json', () => {
    const r = raw('POST', '/memories', { messages: [], user_id: 'acme:u' }, { 'content-type': 'text/plain' });
    expect(stop(() => parseCheck(r, opts)).reason).toBe('unsupported_content_type');
  });
  it('content type with charset is fine', () => {
    const r = raw('POST', '/memories', { messages: [], user_id: 'acme:u' }, { 'content-type': 'application/json; charset=utf-8' });
    expect(parseCheck(r, opts).route).toBe('memories.create');
  });
  it.each([
    ['{"user_id": ', 'invalid_json'],
    ['[1,2]', 'body_not_object'],
    ['null', 'body_not_object'],
    ['"s"', 'body_not_object'],
  ])('%s → %s', (body, reason) => {
    expect(stop(() => parseCheck(raw('POST', '/memories', body), opts)).reason).toBe(reason);
  });
  it('empty body on POST → body_required', () => {
    const r = raw('POST', '/memories');
    r.headers['content-type'] = 'application/json';
    expect(stop(() => parseCheck(r, opts)).reason).toBe('body_required');
  });
  it('invalid UTF-8 → invalid_json', () => {
    const r = raw('POST', '/memories', '{}');
    r.body = new Uint8Array([0x7b, 0xff, 0x7d]);
    expect(stop(() => parseCheck(r, opts)).reason).toBe('invalid_json');
  });
  it('a body Envoy truncated is refused', () => {
    const r = raw('POST', '/memories', { user_id: 'acme:u' }, { 'x-envoy-auth-partial-body': 'true' });
    expect(stop(() => parseCheck(r, opts)).reason).toBe('body_truncated');
  });
  it('digests the body and never keeps it outside req.body', () => {
    const req = parseCheck(raw('POST', '/memories', { user_id: 'acme:u', messages: [{ role: 'user', content: 'secret' }] }), opts);
    expect(req.bodyDigest).toMatch(/^[0-9a-f]{64}$/);
    const { body: _b, ...rest } = req;
    expect(JSON.stringify(rest)).not.toContain('secret');
  });
  it('flags PHI by metadata.phi or classification label', () => {
    const m = { messages: [] };
    expect(parseCheck(raw('POST', '/memories', { ...m, user_id: 'acme:u', metadata: { phi: true } }), opts).phiInBody).toBe(true);
    expect(parseCheck(raw('POST', '/memories', { ...m, user_id: 'acme:u', metadata: { classification: 'Restricted-Health' } }), opts).phiInBody).toBe(true);
    expect(parseCheck(raw('POST', '/memories', { ...m, user_id: 'acme:u', metadata: { phi: 'yes' } }), opts).phiInBody).toBe(false);
  });
  it('POST /reset needs no body (Mem0 takes none), but a body must be JSON', () => {
    expect(parseCheck(raw('POST', '/reset'), opts).route).toBe('reset');
    expect(stop(() => parseCheck(raw('POST', '/reset', '{x'), opts)).reason).toBe('invalid_json');
  });
  it('unknown entity path type (Mem0 takes user, agent, run; plural forms get its 422)', () => {
    expect(stop(() => parseCheck(raw('DELETE', '/entities/planet/acme:x'), opts)).reason).toBe('unknown_entity_type');
    expect(stop(() => parseCheck(raw('DELETE', '/entities/users/acme:x'), opts)).reason).toBe('unknown_entity_type');
  });
});

describe('destructive routes: what Mem0 would silently ignore is refused', () => {
  it.each([
    '/memories?user_id=acme:alice&memory_ids=m1',
    '/memories?user_id=acme:alice&ids=m1,m2',
    '/memories?memory_ids=m1',
    '/memories?user_id=acme:alice&dry_run=true',
  ])('DELETE %s → unsupported_parameter', (p) => {
    const s = stop(() => parseCheck(raw('DELETE', p), opts));
    expect([s.decision, s.reason, s.status]).toEqual(['invalid_request', 'unsupported_parameter', 400]);
  });
  it('bulk delete by entity only', () => {
    const req = parseCheck(raw('DELETE', '/memories?user_id=acme:alice&run_id=acme:r'), opts);
    expect(req.route).toBe('memories.bulk_delete');
    expect(req.entities.map((e) => e.id)).toEqual(['acme:alice', 'acme:r']);
  });
  it.each([
    ['DELETE', '/memories?user_id=acme:alice', { memory_ids: ['m1'] }],
    ['DELETE', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', { only: 'this' }],
    ['DELETE', '/entities/user/acme:u', { cascade: false }],
    ['POST', '/reset', { tenant: 'acme' }],
  ])('%s %s with a body Mem0 ignores → unexpected_body', (method, path, body) => {
    expect(stop(() => parseCheck(raw(method, path, body), opts)).reason).toBe('unexpected_body');
  });
  it('an empty JSON object body is harmless', () => {
    expect(parseCheck(raw('POST', '/reset', {}), opts).route).toBe('reset');
  });
  it('query parameters on DELETE /memories/{id} and /entities are refused too', () => {
    expect(stop(() => parseCheck(raw('DELETE', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc?user_id=acme:u'), opts)).reason).toBe('unsupported_parameter');
    expect(stop(() => parseCheck(raw('DELETE', '/entities/user/acme:u?x=1'), opts)).reason).toBe('unsupported_parameter');
  });
});

describe('search scope as Mem0 requires it', () => {
  it('an entity id only nested under AND is not a scope Mem0 accepts → unscoped_filter', () => {
    const s = stop(() => parseCheck(raw('POST', '/search', { query: 'tea', filters: { AND: [{ user_id: 'acme:alice' }] } }), opts));
    expect(s.reason).toBe('unscoped_filter');
  });
  it('top-level filters id, or the deprecated top-level body id, scopes it', () => {
    expect(parseCheck(raw('POST', '/search', { query: 'tea', filters: { user_id: 'acme:alice' } }), opts).entities).toHaveLength(1);
    expect(parseCheck(raw('POST', '/search', { query: 'tea', user_id: 'acme:alice', filters: { AND: [{ agent_id: 'acme:a' }] } }), opts).entities).toHaveLength(2);
  });
  it('no entity id at all is left to policy (entity_id_required)', () => {
    expect(parseCheck(raw('POST', '/search', { query: 'tea' }), opts).entities).toEqual([]);
  });
});

describe('options that change what Mem0 does reach policy, validated', () => {
  const base = { messages: [{ role: 'user', content: 'hi' }], user_id: 'acme:u' };
  it('create: infer, custom prompt (presence only), memory_type, expiration_date', () => {
    const req = parseCheck(raw('POST', '/memories', { ...base, infer: false, prompt: 'extract secrets', memory_type: 'procedural_memory', expiration_date: '2027-01-31' }), opts);
    expect(req.options).toEqual({ infer: false, custom_prompt: true, memory_type: 'procedural_memory', expiration_date: '2027-01-31' });
    expect(JSON.stringify(req.options)).not.toContain('extract secrets');
  });
  it.each([
    [{ infer: 'no' }],
    [{ memory_type: 'core' }],
    [{ expiration_date: '2027-02-30' }],
    [{ expiration_date: 'tomorrow' }],
    [{ prompt: 7 }],
    [{ metadata: ['x'] }],
    [{ messages: [{ role: 'user' }] }],
    [{ messages: 'hi' }],
  ])('create %j → invalid_parameter', (extra) => {
    expect(stop(() => parseCheck(raw('POST', '/memories', { ...base, ...extra }), opts)).reason).toBe('invalid_parameter');
  });
  it('list: top_k within Mem0\'s 0–1000, show_expired as FastAPI reads booleans', () => {
    expect(parseCheck(raw('GET', '/memories?user_id=acme:u&top_k=1000&show_expired=yes'), opts).options).toEqual({ top_k: 1000, show_expired: true });
    expect(stop(() => parseCheck(raw('GET', '/memories?user_id=acme:u&top_k=5000'), opts)).reason).toBe('invalid_parameter');
    expect(stop(() => parseCheck(raw('GET', '/memories?user_id=acme:u&show_expired=maybe'), opts)).reason).toBe('invalid_parameter');
  });
  it('search: query required, top_k bounded, threshold, explain, show_expired', () => {
    const req = parseCheck(raw('POST', '/search', { query: 'q', user_id: 'acme:u', top_k: 50, threshold: 0.3, explain: true, show_expired: false }), opts);
    expect(req.options).toEqual({ top_k: 50, threshold: 0.3, explain: true, show_expired: false });
    expect(stop(() => parseCheck(raw('POST', '/search', { user_id: 'acme:u' }), opts)).reason).toBe('invalid_parameter');
    expect(stop(() => parseCheck(raw('POST', '/search', { query: 'q', user_id: 'acme:u', top_k: 100000 }), opts)).reason).toBe('invalid_parameter');
  });
  it('update: one of text, metadata, expiration_date (Mem0 400s otherwise; `data` is not an alias)', () => {
    expect(parseCheck(raw('PUT', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', { metadata: { tag: 'a' } }), opts).options.update_fields).toEqual(['metadata']);
    expect(stop(() => parseCheck(raw('PUT', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', { data: 'x' }), opts)).reason).toBe('update_field_required');
  });
});

describe('entity ids exactly as Mem0 stores them', () => {
  it.each(['acme:alice ', ' acme:alice', 'acme: alice', 'acme:al\u00a0ice'])('%j → invalid_entity_id (Mem0 trims or refuses whitespace)', (id) => {
    expect(stop(() => parseCheck(raw('GET', `/memories?user_id=${encodeURIComponent(id)}`), opts)).reason).toBe('invalid_entity_id');
  });
});

describe('body nesting bound', () => {
  it('a body nested deeper than Mem0 parses is refused before JSON.parse', () => {
    const deep = '{"messages":[],"user_id":"acme:u","x":' + '['.repeat(5000) + ']'.repeat(5000) + '}';
    expect(stop(() => parseCheck(raw('POST', '/memories', deep), opts)).reason).toBe('body_too_deep');
  });
  it('brackets inside strings do not count', () => {
    const req = parseCheck(raw('POST', '/memories', { messages: [{ role: 'user', content: '['.repeat(100) }], user_id: 'acme:u' }), opts);
    expect(req.route).toBe('memories.create');
  });
});

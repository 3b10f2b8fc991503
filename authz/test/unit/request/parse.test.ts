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
    ['GET', '/memories?user_id=acme:u', 'memories.list', 'read'],
    ['GET', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', 'memories.get', 'read'],
    ['GET', '/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc/history', 'memories.history', 'read'],
    ['PUT', '/memories/m1', 'memories.update', 'write', { text: 'x' }],
    ['DELETE', '/memories/m1', 'memories.delete', 'delete'],
    ['DELETE', '/memories?user_id=acme:u', 'memories.bulk_delete', 'bulk_delete'],
    ['POST', '/search', 'search', 'read', { query: 'q', user_id: 'acme:u' }],
    ['POST', '/reset', 'reset', 'admin', {}],
    ['DELETE', '/entities/user/acme:u', 'entities.delete', 'admin'],
    ['POST', '/configure', 'configure', 'admin', {}],
  ];
  for (const [method, path, route, action, body] of cases) {
    it(`${method} ${path} → ${route}/${action}`, () => {
      const req = parseCheck(raw(method, path, body), opts);
      expect(req.route).toBe(route);
      expect(req.action).toBe(action);
    });
  }

  it.each([
    ['GET', '/'],
    ['GET', '/admin'],
    ['PATCH', '/memories/m1'],
    ['POST', '/memories/m1'],
    ['GET', '/search'],
    ['GET', '/memories/m1/history/extra'],
    ['POST', '/entities/user/x'],
    ['GET', '/docs'],
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

  it('memory ids must look like ids', () => {
    expect(stop(() => parseCheck(raw('GET', '/memories/' + 'a'.repeat(200)), opts)).reason).toBe('invalid_memory_id');
    expect(stop(() => parseCheck(raw('GET', '/memories/-x'), opts)).reason).toBe('invalid_memory_id');
  });
});

describe('bodies', () => {
  it('POST/PUT need application/json', () => {
    const r = raw('POST', '/memories', { user_id: 'acme:u' }, { 'content-type': 'text/plain' });
    expect(stop(() => parseCheck(r, opts)).reason).toBe('unsupported_content_type');
  });
  it('content type with charset is fine', () => {
    const r = raw('POST', '/memories', { user_id: 'acme:u' }, { 'content-type': 'application/json; charset=utf-8' });
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
    expect(parseCheck(raw('POST', '/memories', { user_id: 'acme:u', metadata: { phi: true } }), opts).phiInBody).toBe(true);
    expect(parseCheck(raw('POST', '/memories', { user_id: 'acme:u', metadata: { classification: 'Restricted-Health' } }), opts).phiInBody).toBe(true);
    expect(parseCheck(raw('POST', '/memories', { user_id: 'acme:u', metadata: { phi: 'yes' } }), opts).phiInBody).toBe(false);
  });
  it('bulk delete collects memory ids and validates them', () => {
    const req = parseCheck(raw('DELETE', '/memories?memory_ids=m1,m2'), opts);
    expect(req.memoryIds).toEqual(['m1', 'm2']);
    expect(stop(() => parseCheck(raw('DELETE', '/memories?memory_ids=m1,../x'), opts)).reason).toBe('invalid_memory_id');
  });
  it('POST /reset needs no body (Mem0 takes none), but a body must be JSON', () => {
    expect(parseCheck(raw('POST', '/reset'), opts).route).toBe('reset');
    expect(stop(() => parseCheck(raw('POST', '/reset', '{x'), opts)).reason).toBe('invalid_json');
  });
  it('unknown entity path type', () => {
    expect(stop(() => parseCheck(raw('DELETE', '/entities/planet/acme:x'), opts)).reason).toBe('unknown_entity_type');
  });
});

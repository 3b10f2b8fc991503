import { describe, expect, it } from 'vitest';
import { allowVerdict, denyVerdict } from '../../../src/respond/verdict.js';
import { checkResponse, rawCheckFromGrpc } from '../../../src/grpc/server.js';

const identity = { subject: 'alice', issuer: 'https://i', tenant: 'acme', roles: ['agent-reader', 'agent-writer'], agent: 'bot' };

describe('allow verdict', () => {
  const v = allowVerdict({
    identity,
    decisionId: 'd-1',
    requestId: 'r-1',
    clientHeaders: { 'ratelimit-limit': '10' },
    incomingHeaders: ['authorization', 'x-mem0-gov-tenant', 'x-mem0-gov-break-glass', 'x-mem0-gov-anything', 'content-type'],
    mem0ApiKey: 'k',
    breakGlass: false, context: '{}',
  });
  it('sets identity headers upstream and removes authorization', () => {
    if (!v.allowed) throw new Error('expected allow');
    expect(v.upstreamHeaders).toMatchObject({
      'x-mem0-gov-subject': 'alice', 'x-mem0-gov-tenant': 'acme', 'x-mem0-gov-roles': 'agent-reader,agent-writer',
      'x-mem0-gov-decision-id': 'd-1', 'x-mem0-gov-agent': 'bot', 'x-api-key': 'k',
    });
    expect(v.removeHeaders).toContain('authorization');
  });
  it('strips client-sent x-mem0-gov-* headers it does not overwrite (no spoofing)', () => {
    if (!v.allowed) throw new Error('expected allow');
    expect(v.removeHeaders).toEqual(expect.arrayContaining(['x-mem0-gov-break-glass', 'x-mem0-gov-anything']));
    expect(v.removeHeaders).not.toContain('content-type');
  });
  it('maps to an OkHttpResponse that overwrites', () => {
    const r = checkResponse(v) as { status: { code: number }; ok_response: { headers: { header: { key: string }; append_action: string }[]; headers_to_remove: string[]; response_headers_to_add: unknown[] } };
    expect(r.status.code).toBe(0);
    expect(r.ok_response.headers.every((h) => h.append_action === 'OVERWRITE_IF_EXISTS_OR_ADD')).toBe(true);
    expect(r.ok_response.headers_to_remove).toContain('authorization');
    expect(r.ok_response.response_headers_to_add).toHaveLength(2);
  });
});

describe('deny verdict', () => {
  it('carries the JSON body of DESIGN and the status', () => {
    const v = denyVerdict({ decision: 'unauthenticated', reason: 'expired', status: 401, headers: { 'www-authenticate': 'Bearer' }, requestId: 'r', decisionId: 'd' });
    const r = checkResponse(v) as { status: { code: number }; denied_response: { status: { code: number }; body: string; headers: { header: { key: string; value: string } }[] } };
    expect(r.status.code).toBe(16);
    expect(r.denied_response.status.code).toBe(401);
    expect(JSON.parse(r.denied_response.body)).toEqual({ error: 'unauthenticated', reason: 'expired', request_id: 'r', decision_id: 'd' });
    expect(r.denied_response.headers.map((h) => h.header.key)).toEqual(expect.arrayContaining(['www-authenticate', 'content-type', 'x-request-id']));
  });
});

describe('CheckRequest → RawCheck', () => {
  it('reads headers, header_map raw values, raw_body and source address', () => {
    const raw = rawCheckFromGrpc({
      attributes: {
        source: { address: { socket_address: { address: '192.0.2.7' } } },
        request: { http: { method: 'POST', path: '/memories?x=1', headers: { 'X-Request-Id': 'rid', 'content-type': 'application/json' }, raw_body: Buffer.from('{"a":1}') } },
      },
    });
    expect(raw).toMatchObject({ method: 'POST', path: '/memories?x=1', sourceIp: '192.0.2.7', requestId: 'rid' });
    expect(Buffer.from(raw.body!).toString()).toBe('{"a":1}');
    const viaMap = rawCheckFromGrpc({ attributes: { request: { http: { method: 'GET', path: '/', header_map: { headers: [{ key: 'Authorization', raw_value: Buffer.from('Bearer x') }] }, body: 'hi' } } } });
    expect(viaMap.headers.authorization).toBe('Bearer x');
    expect(Buffer.from(viaMap.body!).toString()).toBe('hi');
    expect(viaMap.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

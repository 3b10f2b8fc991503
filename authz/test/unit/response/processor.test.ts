// The response stage's stream handling, message by message (no Envoy): fail-closed paths,
// local replies, outcome rows before release, content rewrite, answer limits.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createStreamProcessor, MAX_ANSWER_BYTES, type ProcessingRequest } from '../../../src/response/processor.js';
import { encodeContext, METADATA_NAMESPACE, type ResponseContext } from '../../../src/response/context.js';
import type { AuditEvent } from '../../../src/types.js';

function ctx(over: Partial<ResponseContext> = {}): ResponseContext {
  return {
    v: 1, decisionId: 'd-1', requestId: 'r-1', route: 'memories.list', action: 'read', method: 'GET', path: '/memories',
    identity: { subject: 'alice', roles: ['agent-reader'], tenant: 'acme' }, entityIds: ['user_id=acme:a'], sourceIp: '10.0.0.1',
    policyRevision: 'rev', breakGlass: false, answer: { tenant_prefixes: ['acme:'], phi_allowed: false }, content: null,
    decidedAtMs: 1_000, phi: false, ...over,
  };
}

function deps(fail = false) {
  const rows: AuditEvent[] = [];
  const evicted: string[] = [];
  return {
    rows, evicted,
    deps: {
      audit: { append: async (e: AuditEvent) => { if (fail) throw new Error('pg down'); rows.push(e); }, close: async () => undefined },
      owners: { evict: async (id: string) => { evicted.push(id); } },
      phiLabels: ['phi'], logger: pino({ level: 'silent' }), clock: () => 1_250,
    },
  };
}

const headersMsg = (c: ResponseContext | undefined, eos = true): ProcessingRequest => ({
  request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/memories') }, { key: 'x-request-id', raw_value: Buffer.from('rid-9') }] }, end_of_stream: eos },
  ...(c ? { metadata_context: { filter_metadata: { [METADATA_NAMESPACE]: { fields: { ctx: { stringValue: encodeContext(c) } } } } } } : {}),
});
const respHeaders = (status: number, eos = false): ProcessingRequest => ({ response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from(String(status)) }] }, end_of_stream: eos } });
const respBody = (body: string | Buffer): ProcessingRequest => ({ response_body: { body: Buffer.isBuffer(body) ? body : Buffer.from(body), end_of_stream: true } });

describe('response stage stream', () => {
  it('no decision context on the request path: refused (fail closed), never continued', async () => {
    const d = deps();
    const p = createStreamProcessor(d.deps);
    const r = await p.onMessage(headersMsg(undefined));
    expect(r.immediate_response).toBeDefined();
    expect(JSON.parse(String((r.immediate_response as { body: Buffer }).body))).toMatchObject({ reason: 'decision_context_missing', request_id: 'rid-9' });
  });

  it('a local reply (ext_authz denial) passes through untouched and records nothing', async () => {
    const d = deps();
    const p = createStreamProcessor(d.deps);
    expect(await p.onMessage(respHeaders(403))).toEqual({ response_headers: { response: { status: 'CONTINUE' } } });
    expect(await p.onMessage(respBody('{"error":"deny"}'))).toEqual({ response_body: { response: { status: 'CONTINUE' } } });
    await p.onEnd();
    expect(d.rows).toEqual([]);
  });

  it('filters a list answer, writes the outcome row first, then releases the new body', async () => {
    const d = deps();
    const p = createStreamProcessor(d.deps);
    await p.onMessage(headersMsg(ctx()));
    await p.onMessage(respHeaders(200));
    const body = JSON.stringify({ results: [{ id: 'm1', user_id: 'acme:a', memory: 'ok' }, { id: 'm2', user_id: 'acme:a', memory: 'x', metadata: { phi: true } }] });
    const r = await p.onMessage(respBody(body)) as { response_body: { response: { body_mutation: { body: Buffer } } } };
    const out = JSON.parse(String(r.response_body.response.body_mutation.body));
    expect(out.results.map((m: { id: string }) => m.id)).toEqual(['m1']);
    expect(d.rows).toHaveLength(1);
    expect(d.rows[0]).toMatchObject({ kind: 'outcome', ref_event_id: 'd-1', status: 200, phi: false, latency_ms: 250 });
    expect(JSON.parse(d.rows[0]!.detail!)).toMatchObject({ upstream_status: 200, returned: 1, withheld_phi: ['m2'] });
    await p.onEnd();
    expect(d.rows).toHaveLength(1); // exactly one outcome per request
  });

  it('an outcome that cannot be made durable is not released: 503 audit_unavailable', async () => {
    const d = deps(true);
    const p = createStreamProcessor(d.deps);
    await p.onMessage(headersMsg(ctx({ route: 'memories.delete', memoryId: 'm1' })));
    const r = await p.onMessage(respHeaders(200, true));
    expect(JSON.parse(String((r.immediate_response as { body: Buffer }).body))).toMatchObject({ reason: 'audit_unavailable', decision_id: 'd-1' });
    expect((r.immediate_response as { status: { code: number } }).status.code).toBe(503);
  });

  it('a delete Mem0 carried out evicts the owner and records affected = 1; a bulk delete records affected unknown', async () => {
    const d = deps();
    const p = createStreamProcessor(d.deps);
    await p.onMessage(headersMsg(ctx({ route: 'memories.delete', memoryId: 'm9' })));
    await p.onMessage(respHeaders(200, true));
    expect(d.evicted).toEqual(['m9']);
    expect(JSON.parse(d.rows[0]!.detail!)).toMatchObject({ affected: 1 });
    const q = createStreamProcessor(d.deps);
    await q.onMessage(headersMsg(ctx({ route: 'memories.bulk_delete' })));
    await q.onMessage(respHeaders(200, true));
    expect(JSON.parse(d.rows[1]!.detail!)).toMatchObject({ affected: null, upstream_status: 200 });
  });

  it('too large or non-JSON 2xx answers become 502 with a reason, audited', async () => {
    for (const [bytes, reason] of [[Buffer.alloc(MAX_ANSWER_BYTES + 1, 32), 'upstream_body_too_large'], [Buffer.from('<html>'), 'upstream_invalid_json']] as const) {
      const d = deps();
      const p = createStreamProcessor(d.deps);
      await p.onMessage(headersMsg(ctx()));
      await p.onMessage(respHeaders(200));
      const r = await p.onMessage(respBody(bytes));
      expect(JSON.parse(String((r.immediate_response as { body: Buffer }).body)).reason).toBe(reason);
      expect(d.rows[0]).toMatchObject({ status: 502 });
      expect(d.rows[0]!.reasons).toContain(reason);
    }
  });

  it('Mem0 errors pass through and are recorded with Mem0\'s status', async () => {
    const d = deps();
    const p = createStreamProcessor(d.deps);
    await p.onMessage(headersMsg(ctx({ route: 'search' })));
    await p.onMessage(respHeaders(400));
    const r = await p.onMessage(respBody('{"detail":"filters must contain at least one of: user_id"}'));
    expect(r).toEqual({ response_body: { response: { status: 'CONTINUE' } } });
    expect(d.rows[0]).toMatchObject({ status: 400 });
  });

  it('a stream that ends before Mem0 answered still gets its outcome row', async () => {
    const d = deps();
    const p = createStreamProcessor(d.deps);
    await p.onMessage(headersMsg(ctx()));
    await p.onEnd();
    expect(d.rows[0]!.reasons).toEqual(['outcome', 'upstream_no_answer']);
  });

  it('writes: no content rule → the buffered request body is switched off; mask rewrites it', async () => {
    const d = deps();
    const p = createStreamProcessor(d.deps);
    const r = await p.onMessage(headersMsg(ctx({ route: 'memories.create', action: 'write' }), false));
    expect(r.mode_override).toMatchObject({ request_body_mode: 'NONE', response_body_mode: 'BUFFERED' });
    const q = createStreamProcessor(d.deps);
    const rules = { mode: 'mask', detectors: ['email'], custom: [] };
    const r2 = await q.onMessage(headersMsg(ctx({ route: 'memories.create', action: 'write', content: rules }), false));
    expect(r2.mode_override).toBeUndefined();
    const body = await q.onMessage({ request_body: { body: Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'mail a@b.io' }], user_id: 'acme:a' })), end_of_stream: true } });
    const sent = JSON.parse(String((body as { request_body: { response: { body_mutation: { body: Buffer } } } }).request_body.response.body_mutation.body));
    expect(sent.messages[0].content).toBe('mail [EMAIL]');
  });
});

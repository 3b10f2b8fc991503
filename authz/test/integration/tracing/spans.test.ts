// The SDK side (tracing/sdk.ts) with the pipeline and the response stage, exporting for real
// over OTLP/HTTP to the test receiver (testing/otlp-receiver.ts) in this process: the spans, their
// parents, their attributes, and the trace id in the audit rows and the log lines — with tracing
// on, and (trace id only) with tracing off.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, type PipelineDeps } from '../../../src/pipeline.js';
import { createStreamProcessor, type ProcessingRequest } from '../../../src/response/processor.js';
import { encodeContext, METADATA_NAMESPACE, type ResponseContext } from '../../../src/response/context.js';
import { loadOtelConfig, type OtelOn } from '../../../src/config/otel.js';
import { startSdkTracing } from '../../../src/tracing/sdk.js';
import type { Tracing } from '../../../src/tracing/index.js';
import type { RawCheck } from '../../../src/request/parse.js';
import type { AuditEvent, GateResult, Identity } from '../../../src/types.js';
import { PipelineStop } from '../../../src/errors.js';
import { startOtlpReceiver, SPAN_KIND, type OtlpReceiver, type ReceivedSpan } from '../../../../testing/otlp-receiver.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const ENVOY_SPAN = '00f067aa0ba902b7';
const TP = `00-${T}-${ENVOY_SPAN}-01`;
const alice: Identity = { subject: 'alice', issuer: 'i', tenant: 'acme', roles: ['agent-reader'] };
const PASS: GateResult = { ok: true, clientHeaders: {}, notes: [] };

let receiver: OtlpReceiver;
beforeAll(async () => { receiver = await startOtlpReceiver(); });
afterAll(async () => { await receiver.close(); });

function otel(env: Record<string, string> = {}): OtelOn {
  const c = loadOtelConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: 'unit', OTEL_BSP_SCHEDULE_DELAY: '50', ...env });
  if (!c.enabled) throw new Error('on');
  return c;
}

/** A logger whose lines the test reads. */
function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({ write(chunk, _e, cb) { out.push(String(chunk)); cb(); } });
  return { logger: pino({ level: 'info' }, stream), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function deps(logger: pino.Logger, tracing: Tracing | undefined, over: Partial<PipelineDeps> = {}): PipelineDeps & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    parse: { phiLabels: ['phi'] },
    logger,
    authenticator: { authenticate: async () => alice },
    gate: { check: async () => PASS, close: async () => undefined },
    owners: { lookup: async () => ({ exists: true, user_id: 'acme:alice', phi: false }), evict: async () => undefined, tombstone: async () => undefined },
    policy: { evaluate: () => ({ allow: true, reasons: [], answer: { tenant_prefixes: ['acme:'], phi_allowed: false } }), revision: () => 'rev-1' },
    audit: { append: async (e) => { events.push(e); }, close: async () => undefined },
    ...(tracing !== undefined ? { tracing } : {}),
    ...over,
    events,
  };
}

const check = (path: string, headers: Record<string, string> = {}, requestId = `rid-${Math.random()}`): RawCheck =>
  ({ method: 'GET', path, headers: { authorization: 'Bearer secret-token', ...headers }, sourceIp: '192.0.2.1', requestId });

const detail = (e: AuditEvent | undefined): Record<string, unknown> => (e?.detail ? JSON.parse(e.detail) : {});
/** The check span of this request and its children (several tests share one trace id). */
const of = (spans: ReceivedSpan[], requestId: string): ReceivedSpan[] => {
  const root = spans.find((s) => s.attributes['mem0_gov.request_id'] === requestId);
  return root === undefined ? [] : spans.filter((s) => s === root || s.parentSpanId === root.spanId);
};

describe('tracing on: the pipeline', () => {
  it('a check span under the caller\'s traceparent, a child span per stage, the trace id in the row and the log line', async () => {
    const tracing = startSdkTracing(otel(), pino({ level: 'silent' }));
    const log = capture();
    const d = deps(log.logger, tracing);
    const rid = 'rid-owner-route';
    const out = await createPipeline(d)(check('/memories/6f1c5b1e-9a0b-4a8e-8c6e-1b2c3d4e5f60', { traceparent: TP }, rid));
    expect(out.decision).toBe('allow');
    await tracing.shutdown();
    const spans = of(receiver.spans(), rid);
    const checkSpan = spans.find((s) => s.name === 'mem0-gov check')!;
    expect(checkSpan).toMatchObject({ traceId: T, parentSpanId: ENVOY_SPAN, kind: SPAN_KIND.SERVER, service: 'unit' });
    expect(checkSpan.attributes).toMatchObject({
      'mem0_gov.decision': 'allow', 'mem0_gov.reason': 'allowed', 'mem0_gov.status': 200, 'mem0_gov.route': 'memories.get',
      'mem0_gov.tenant': 'acme', 'mem0_gov.decision_id': out.decisionId, 'mem0_gov.request_id': rid,
    });
    const stages = spans.filter((s) => s.parentSpanId === checkSpan.spanId).map((s) => s.name).sort();
    expect(stages).toEqual(['audit', 'authenticate', 'gate', 'owner', 'parse', 'policy']);
    expect(JSON.stringify(spans)).not.toContain('secret-token');
    expect(detail(d.events[0]).trace_id).toBe(T);
    expect(log.lines().find((l) => l.msg === 'decision')).toMatchObject({ traceId: T, decisionId: out.decisionId });
  });

  it('the call\'s own traceparent (Envoy\'s ext_authz span, from gRPC metadata) is the parent before the request header', async () => {
    const tracing = startSdkTracing(otel(), pino({ level: 'silent' }));
    const d = deps(pino({ level: 'silent' }), tracing);
    const other = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const rid = 'rid-call-parent';
    await createPipeline(d)(check('/memories?user_id=acme:a', { traceparent: other }, rid), { traceparent: TP });
    await tracing.shutdown();
    expect(of(receiver.spans(), rid).find((s) => s.name === 'mem0-gov check')).toMatchObject({ traceId: T, parentSpanId: ENVOY_SPAN });
    expect(detail(d.events[0]).trace_id).toBe(T);
  });

  it('no traceparent: a new trace, and the row names it', async () => {
    const tracing = startSdkTracing(otel(), pino({ level: 'silent' }));
    const d = deps(pino({ level: 'silent' }), tracing);
    const rid = 'rid-root';
    await createPipeline(d)(check('/memories?user_id=acme:a', {}, rid));
    await tracing.shutdown();
    const root = of(receiver.spans(), rid).find((s) => s.name === 'mem0-gov check')!;
    expect(root.parentSpanId).toBe('');
    expect(detail(d.events[0]).trace_id).toBe(root.traceId);
  });

  it('a stage that stops the check is marked failed with its reason', async () => {
    const tracing = startSdkTracing(otel(), pino({ level: 'silent' }));
    const d = deps(pino({ level: 'silent' }), tracing, { authenticator: { authenticate: async () => { throw new PipelineStop('unauthenticated', 'token_expired', 401); } } });
    const rid = 'rid-denied';
    const out = await createPipeline(d)(check('/memories?user_id=acme:a', { traceparent: TP }, rid));
    expect(out.reason).toBe('token_expired');
    await tracing.shutdown();
    const spans = of(receiver.spans(), rid);
    expect(spans.find((s) => s.name === 'authenticate')).toMatchObject({ statusCode: 2, attributes: { 'mem0_gov.reason': 'token_expired' } });
    expect(spans.map((s) => s.name)).not.toContain('gate');
    expect(spans.find((s) => s.name === 'mem0-gov check')!.attributes).toMatchObject({ 'mem0_gov.decision': 'unauthenticated', 'mem0_gov.reason': 'token_expired' });
  });

  it('sampled out (always_off): nothing exported, the row still names the caller\'s trace', async () => {
    const tracing = startSdkTracing(otel({ OTEL_TRACES_SAMPLER: 'always_off' }), pino({ level: 'silent' }));
    const d = deps(pino({ level: 'silent' }), tracing);
    const rid = 'rid-sampled-out';
    await createPipeline(d)(check('/memories?user_id=acme:a', { traceparent: TP }, rid));
    await tracing.shutdown();
    expect(of(receiver.spans(), rid)).toEqual([]);
    expect(detail(d.events[0]).trace_id).toBe(T);
  });

  it('warm-up checks (quiet) are not traced', async () => {
    const tracing = startSdkTracing(otel(), pino({ level: 'silent' }));
    const rid = 'rid-quiet';
    await createPipeline(deps(pino({ level: 'silent' }), tracing, { quiet: true }))(check('/memories?user_id=acme:a', { traceparent: TP }, rid));
    await tracing.shutdown();
    expect(of(receiver.spans(), rid)).toEqual([]);
  });
});

describe('tracing off: the trace id still reaches the row and the log line', () => {
  it('with a traceparent: detail.trace_id and traceId; without one: neither', async () => {
    const log = capture();
    const d = deps(log.logger, undefined);
    await createPipeline(d)(check('/memories?user_id=acme:a', { traceparent: TP }));
    await createPipeline(d)(check('/memories?user_id=acme:a', { traceparent: 'not-a-traceparent' }));
    expect(detail(d.events[0]).trace_id).toBe(T);
    expect(detail(d.events[1]).trace_id).toBeUndefined();
    const lines = log.lines().filter((l) => l.msg === 'decision');
    expect(lines[0]!.traceId).toBe(T);
    expect(lines[1]).not.toHaveProperty('traceId');
  });
});

describe('the response stage', () => {
  const ctx: ResponseContext = {
    v: 1, decisionId: 'd-trace', requestId: 'r-trace', route: 'memories.list', action: 'read', method: 'GET', path: '/memories',
    identity: { subject: 'alice', roles: ['agent-reader'], tenant: 'acme' }, entityIds: ['user_id=acme:a'], sourceIp: '10.0.0.1',
    policyRevision: 'rev', breakGlass: false, answer: { tenant_prefixes: ['acme:'], phi_allowed: false }, content: null, decidedAtMs: 1_000, phi: false,
  };
  const headers = (tp?: string): ProcessingRequest => ({
    request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/memories') }, ...(tp ? [{ key: 'traceparent', raw_value: Buffer.from(tp) }] : [])] }, end_of_stream: true },
    metadata_context: { filter_metadata: { [METADATA_NAMESPACE]: { fields: { ctx: { stringValue: encodeContext(ctx) } } } } },
  });
  const EXT_PROC_SPAN = '1111111111111111';
  const run = async (tracing: Tracing | undefined, stream: { traceparent?: string }, tp?: string) => {
    const rows: AuditEvent[] = [];
    const log = capture();
    const p = createStreamProcessor({
      audit: { append: async (e) => { rows.push(e); }, close: async () => undefined }, owners: { evict: async () => undefined },
      phiLabels: ['phi'], logger: log.logger, clock: () => 1_250, ...(tracing ? { tracing } : {}),
    }, stream);
    await p.onMessage(headers(tp));
    await p.onMessage({ response_headers: { headers: { headers: [{ key: ':status', raw_value: Buffer.from('200') }] }, end_of_stream: false } });
    await p.onMessage({ response_body: { body: Buffer.from(JSON.stringify({ results: [{ id: 'm1', user_id: 'acme:a', memory: 'private words' }] })), end_of_stream: true } });
    await p.onEnd();
    return rows;
  };

  it('on: a span under Envoy\'s ext_proc span (the stream metadata), the outcome row names the trace', async () => {
    const tracing = startSdkTracing(otel(), pino({ level: 'silent' }));
    const rows = await run(tracing, { traceparent: `00-${T}-${EXT_PROC_SPAN}-01` }, TP);
    await tracing.shutdown();
    const span = receiver.spans().find((s) => s.name === 'mem0-gov response' && s.attributes['mem0_gov.decision_id'] === 'd-trace')!;
    expect(span).toMatchObject({ traceId: T, parentSpanId: EXT_PROC_SPAN, kind: SPAN_KIND.SERVER });
    expect(span.attributes).toMatchObject({ 'mem0_gov.route': 'memories.list', 'mem0_gov.tenant': 'acme', 'mem0_gov.upstream_status': 200, 'mem0_gov.returned': 1, 'mem0_gov.request_id': 'r-trace' });
    expect(JSON.stringify(span)).not.toContain('private words');
    expect(detail(rows[0]).trace_id).toBe(T);
  });

  it('off: the outcome row names the request header\'s trace; without any, no trace_id', async () => {
    expect(detail((await run(undefined, {}, TP))[0]).trace_id).toBe(T);
    expect(detail((await run(undefined, {}))[0]).trace_id).toBeUndefined();
  });
});

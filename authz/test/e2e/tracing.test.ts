// OpenTelemetry end to end (docs/tracing.md): the real Envoy with its OpenTelemetry tracer and
// mem0-gov (OTEL_TRACES_EXPORTER=otlp) both export OTLP/HTTP to a receiver this test runs; a
// request through Envoy gives one trace holding Envoy's spans, mem0-gov's check span as a child
// of Envoy's ext_authz call, a span per pipeline stage under it, the response stage's span under
// Envoy's ext_proc call; the audit rows and the decision log line carry the trace id.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../testing/stack.js';
import { call } from '../../../testing/https.js';
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../../testing/otlp-receiver.js';
import type { StoredMemory } from '../../../testing/mem0-standin.js';

let stack: Stack;
let receiver: OtlpReceiver;
let db: pg.Client;
let memory: StoredMemory;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stack = await startStack({
    envoyTracing: { otlpPort: receiver.port },
    env: {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_SERVICE_NAME: 'mem0-gov-e2e',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
  db = new pg.Client(stack.pgOwnerUrl);
  await db.connect();
  memory = stack.mem0!.seed({ memory: 'Alice likes green tea', user_id: 'acme:alice' });
}, 120_000);
afterAll(async () => {
  await db?.end();
  await stack?.stop();
  await receiver?.close();
});

const req = (o: Parameters<typeof call>[2]) => call(stack.envoy.baseUrl, stack.envoy.caFile, o);

async function rowsOf(decisionId: string): Promise<{ kind: string; detail: Record<string, unknown> }[]> {
  const r = await db.query('SELECT kind, detail FROM audit.events WHERE event_id = $1 OR ref_event_id = $1 ORDER BY kind', [decisionId]);
  return (r.rows as { kind: string; detail: string | null }[]).map((x) => ({ kind: x.kind, detail: x.detail === null ? {} : JSON.parse(x.detail) }));
}

/** The spans of the trace whose mem0-gov check span carries this decision id, once all have come. */
async function traceOf(decisionId: string, expected: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  const inTrace = (all: ReceivedSpan[]): ReceivedSpan[] => {
    const check = all.find((s) => s.name === 'mem0-gov check' && s.attributes['mem0_gov.decision_id'] === decisionId);
    return check === undefined ? [] : all.filter((s) => s.traceId === check.traceId);
  };
  const all = await receiver.waitFor(`the trace of decision ${decisionId}`, (spans) => expected(inTrace(spans)));
  return inTrace(all);
}

const STAGES = ['parse', 'authenticate', 'gate', 'policy', 'audit'];

describe('one trace: Envoy and every mem0-gov stage', () => {
  it('GET /memories/{id}: Envoy spans, the check span under the ext_authz call, every stage (owner too), the response stage under the ext_proc call; trace id in both rows', async () => {
    const token = await stack.token({ tenant: 'acme', sub: 'u-trace', roles: ['agent-reader'] });
    const r = await req({ path: `/memories/${memory.id}`, token });
    expect(r.status).toBe(200);
    const decisionId = r.headers['x-mem0-gov-decision-id']!;
    expect(decisionId).toBeTruthy();

    const byName = (spans: ReceivedSpan[], name: string): ReceivedSpan[] => spans.filter((s) => s.name === name);
    const complete = (spans: ReceivedSpan[]): boolean =>
      ['mem0-gov check', 'mem0-gov response', 'owner', ...STAGES].every((n) => byName(spans, n).length > 0)
      && spans.some((s) => s.service === 'mem0-gov-envoy' && s.parentSpanId === '');
    const spans = await traceOf(decisionId, complete);

    // One trace, started by Envoy: its root span is the ingress span of the request.
    const traceId = spans[0]!.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    const envoySpans = spans.filter((s) => s.service === 'mem0-gov-envoy');
    const root = envoySpans.find((s) => s.parentSpanId === '')!;
    expect(root.kind).toBe(SPAN_KIND.SERVER);

    // mem0-gov's check span is a child of one of Envoy's spans (the ext_authz gRPC call's), which
    // is itself under Envoy's request span; the response stage's likewise (the ext_proc call's).
    const spanById = new Map(spans.map((s) => [s.spanId, s]));
    const check = byName(spans, 'mem0-gov check')[0]!;
    const response = byName(spans, 'mem0-gov response')[0]!;
    for (const s of [check, response]) {
      expect(s.service).toBe('mem0-gov-e2e');
      expect(s.kind).toBe(SPAN_KIND.SERVER);
      const parent = spanById.get(s.parentSpanId);
      expect(parent?.service).toBe('mem0-gov-envoy');
      expect(parent?.parentSpanId).toBe(root.spanId);
    }
    expect(spanById.get(check.parentSpanId)!.name).toMatch(/Authorization\.Check/);
    expect(spanById.get(response.parentSpanId)!.name).toMatch(/ExternalProcessor\.Process/);
    expect(check.parentSpanId).not.toBe(response.parentSpanId);

    // Every stage is a child of the check span, named for the stage.
    for (const stage of [...STAGES, 'owner']) {
      const s = byName(spans, stage);
      expect(s, stage).toHaveLength(1);
      expect(s[0]!.parentSpanId, stage).toBe(check.spanId);
      expect(s[0]!.service).toBe('mem0-gov-e2e');
    }
    // What was decided, for whom; never the token.
    expect(check.attributes).toMatchObject({
      'mem0_gov.decision': 'allow', 'mem0_gov.reason': 'allowed', 'mem0_gov.status': 200,
      'mem0_gov.route': 'memories.get', 'mem0_gov.tenant': 'acme', 'mem0_gov.decision_id': decisionId,
      'mem0_gov.request_id': r.headers['x-request-id'],
    });
    expect(response.attributes).toMatchObject({ 'mem0_gov.decision_id': decisionId, 'mem0_gov.route': 'memories.get', 'mem0_gov.upstream_status': 200 });
    expect(JSON.stringify(spans)).not.toContain(token);
    expect(JSON.stringify(spans)).not.toContain('green tea');

    // The decision row and the outcome row name the trace.
    const rows = await rowsOf(decisionId);
    expect(rows.map((x) => x.kind)).toEqual(['decision', 'outcome']);
    for (const row of rows) expect(row.detail.trace_id).toBe(traceId);
    expect(receiver.rejected()).toBe(0);
  });

  it('POST /search (a read whose answer is filtered): the response stage span and every stage but owner, in the same trace as Envoy', async () => {
    const token = await stack.token({ tenant: 'acme', sub: 'u-trace', roles: ['agent-reader'] });
    const r = await req({ method: 'POST', path: '/search', token, body: { query: 'tea', filters: { user_id: 'acme:alice' }, threshold: 0 } });
    expect(r.status).toBe(200);
    const decisionId = r.headers['x-mem0-gov-decision-id']!;
    const spans = await traceOf(decisionId, (s) =>
      ['mem0-gov response', ...STAGES].every((n) => s.some((x) => x.name === n)) && s.some((x) => x.service === 'mem0-gov-envoy'));
    const check = spans.find((s) => s.name === 'mem0-gov check')!;
    for (const stage of STAGES) expect(spans.find((s) => s.name === stage)?.parentSpanId, stage).toBe(check.spanId);
    expect(spans.some((s) => s.name === 'owner')).toBe(false); // no memory id on this route
    expect(spans.find((s) => s.name === 'mem0-gov response')!.attributes['mem0_gov.returned']).toBe(1);
    const rows = await rowsOf(decisionId);
    for (const row of rows) expect(row.detail.trace_id).toBe(check.traceId);
  });

  it("a caller's traceparent is continued: Envoy's root span is its child, mem0-gov's spans and the rows carry the caller's trace id", async () => {
    const callerTrace = '0af7651916cd43dd8448eb211c80319c';
    const callerSpan = 'b7ad6b7169203331';
    const token = await stack.token({ tenant: 'acme', sub: 'u-trace', roles: ['agent-reader'] });
    const r = await req({ path: '/memories?user_id=acme:alice', token, headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` } });
    expect(r.status).toBe(200);
    const decisionId = r.headers['x-mem0-gov-decision-id']!;
    const spans = await traceOf(decisionId, (s) => s.some((x) => x.name === 'mem0-gov response') && s.some((x) => x.name === 'audit') && s.some((x) => x.name === 'ingress'));
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([callerTrace]));
    expect(spans.find((s) => s.service === 'mem0-gov-envoy' && s.kind === SPAN_KIND.SERVER)!.parentSpanId).toBe(callerSpan);
    for (const row of await rowsOf(decisionId)) expect(row.detail.trace_id).toBe(callerTrace);
  });

  it('a denied request: the failing stage is marked with its reason, and the denial row names the trace', async () => {
    const r = await req({ path: '/memories?user_id=acme:alice', token: 'not-a-jwt' });
    expect(r.status).toBe(401);
    const decisionId = r.headers['x-mem0-gov-decision-id']!;
    const spans = await traceOf(decisionId, (s) => s.some((x) => x.name === 'authenticate') && s.some((x) => x.name === 'audit'));
    const auth = spans.find((s) => s.name === 'authenticate')!;
    expect(auth.statusCode).toBe(2); // ERROR
    expect(auth.attributes['mem0_gov.reason']).toBeTruthy();
    expect(spans.some((s) => s.name === 'gate')).toBe(false);
    const check = spans.find((s) => s.name === 'mem0-gov check')!;
    expect(check.attributes['mem0_gov.decision']).toBe('unauthenticated');
    const rows = await rowsOf(decisionId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.detail.trace_id).toBe(check.traceId);
  });
});

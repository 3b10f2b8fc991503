// The response stage: envoy.service.ext_proc.v3.ExternalProcessor/Process. Envoy opens one
// stream per request that ext_authz allowed and sends, per route (envoy/envoy.yaml), the request
// headers, the write body when content rules apply, the response headers and the buffered
// answer of read routes. Each stream:
//   request headers  → read the decision's context from dynamic metadata (else fail closed);
//   request body     → apply the tenant's content rules (flag/mask rewrite the body);
//   response headers → Mem0's status; routes without a buffered answer finish here;
//   response body    → filter the answer (tenant, PHI), record the outcome row, release.
// Nothing is released before its outcome row is durable; a failure answers 5xx with a reason.
import type { Logger } from '../logger.js';
import type { AuditSink, OwnerLookup } from '../types.js';
import { answerKindOf } from '../request/routes.js';
import { outcomeRow, type OutcomeFacts } from '../record.js';
import { REASONS, type Reason } from '../reasons.js';
import { CONTEXT_HEADER, decodeContext, METADATA_KEY, METADATA_NAMESPACE, type ResponseContext } from './context.js';
import { filterAnswer } from './answer.js';
import { checkContent, type ContentCheck } from '../content/check.js';
import { jsonDepth, MAX_BODY_DEPTH } from '../request/parse.js';
import * as metrics from '../metrics.js';
import { PipelineStop } from '../errors.js';
import { createLogLimiter } from '../log-limit.js';
import type { TraceScope, Tracing } from '../tracing/index.js';
import { parseTraceparent, pickTraceparent } from '../tracing/traceparent.js';

/** Largest Mem0 answer the stage parses (1000 memories are well under 1 MiB). */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

// ---- the message shapes we read and write (proto-loader keepCase objects) ----
interface HeaderValue { key?: string; value?: string; raw_value?: Buffer | Uint8Array }
interface HttpHeaders { headers?: { headers?: HeaderValue[] }; end_of_stream?: boolean }
interface HttpBody { body?: Buffer | Uint8Array; end_of_stream?: boolean }
// google.protobuf.Value as protobufjs decodes it (camelCase even under keepCase).
interface StructValue { stringValue?: string; string_value?: string }
export interface ProcessingRequest {
  request?: string;
  request_headers?: HttpHeaders;
  response_headers?: HttpHeaders;
  request_body?: HttpBody;
  response_body?: HttpBody;
  request_trailers?: unknown;
  response_trailers?: unknown;
  metadata_context?: { filter_metadata?: Record<string, { fields?: Record<string, StructValue> }> };
}
export type ProcessingResponse = Record<string, unknown>;

export interface ProcessorDeps {
  audit: AuditSink;
  owners: Pick<OwnerLookup, 'evict'>;
  phiLabels: readonly string[];
  logger: Logger;
  clock?: () => number;
  /** A span per stream (docs/tracing.md); undefined = off. */
  tracing?: Tracing;
  /** Warm-up streams (warmup.ts): no metrics. */
  quiet?: boolean;
}

function header(h: HttpHeaders | undefined, name: string): string | undefined {
  for (const x of h?.headers?.headers ?? []) {
    if (x.key?.toLowerCase() !== name) continue;
    if (x.raw_value && x.raw_value.length > 0) return Buffer.from(x.raw_value).toString('utf8');
    return x.value ?? '';
  }
  return undefined;
}

function setHeaders(h: Record<string, string>): { set_headers: unknown[] } {
  return {
    set_headers: Object.entries(h).map(([key, value]) => ({
      header: { key, raw_value: Buffer.from(value) },
      append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
    })),
  };
}

function continueWith(phase: 'request_headers' | 'response_headers' | 'request_body' | 'response_body', common: Record<string, unknown> = {}): ProcessingResponse {
  return { [phase]: { response: { status: 'CONTINUE', ...common } } };
}

/** The denial shape every mem0-gov refusal has, from the response stage. */
function immediate(reason: Reason, ctx: ResponseContext | undefined, requestId = ''): ProcessingResponse {
  const status = REASONS[reason].status;
  const decision = REASONS[reason].decision;
  const body = JSON.stringify({ error: decision, reason, request_id: ctx?.requestId ?? requestId, decision_id: ctx?.decisionId ?? '' });
  return {
    immediate_response: {
      status: { code: status },
      headers: setHeaders({ 'content-type': 'application/json', 'cache-control': 'no-store', ...(ctx ? { 'x-mem0-gov-decision-id': ctx.decisionId } : {}) }),
      body: Buffer.from(body),
      details: `mem0-gov_${reason}`,
    },
  };
}

function bodyBytes(b: HttpBody | undefined): Buffer {
  return b?.body ? Buffer.from(b.body) : Buffer.alloc(0);
}

/** Parses a JSON body with the request stage's bounds; undefined when it is not JSON. */
function parseJson(bytes: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (jsonDepth(text) > MAX_BODY_DEPTH * 4) return { ok: false };
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

export interface StreamProcessor {
  /** The answer to each message, in order. */
  onMessage(msg: ProcessingRequest): Promise<ProcessingResponse>;
  /** The stream ended: an allowed request whose answer never came still gets its outcome row. */
  onEnd(): Promise<void>;
}

// One line per kind per window across all streams: during an audit outage every stream fails.
const limited = createLogLimiter();

/** One stream = one HTTP request. */
export function createStreamProcessor(deps: ProcessorDeps, stream: { traceparent?: string } = {}): StreamProcessor {
  const clock = deps.clock ?? Date.now;
  // Warm-up's streams count nowhere and log nothing: the same code, metrics and the shared log
  // windows left alone.
  const counters = deps.quiet === true ? undefined : metrics;
  const logLimited: typeof limited = deps.quiet === true ? () => undefined : limited;
  let ctx: ResponseContext | undefined;
  // The stream's span (child of Envoy's ext_proc span) and trace id, for the row and the logs.
  let trace: TraceScope | undefined;
  let traceId: string | undefined;
  let sawRequest = false;
  let upstreamStatus = 0;
  let content: ContentCheck | undefined;
  let finished = false;


  /** Writes the outcome row; resolves false when it cannot be made durable. */
  async function record(facts: Omit<OutcomeFacts, 'latencyMs' | 'upstreamStatus'>): Promise<boolean> {
    if (!ctx || finished) return true;
    finished = true;
    const now = clock();
    const full: OutcomeFacts = { ...facts, upstreamStatus, latencyMs: Math.max(0, now - ctx.decidedAtMs) };
    if (content) full.content = { mode: content.mode, action: content.action, findings: content.findings };
    if (traceId !== undefined) full.traceId = traceId;
    trace?.set({ 'mem0_gov.status': facts.status, 'mem0_gov.upstream_status': upstreamStatus, 'mem0_gov.returned': facts.returned, 'mem0_gov.withheld': (facts.withheldPhi?.length ?? 0) + (facts.withheldCrossTenant?.length ?? 0) });
    try {
      await deps.audit.append(outcomeRow(ctx, full, now));
      counters?.outcomes.inc({ route: ctx.route, status_class: `${Math.floor(upstreamStatus / 100)}xx` });
      trace?.end();
      return true;
    } catch (err) {
      logLimited('error', deps.logger, 'outcome_not_durable', { err: { message: (err as Error).message }, decisionId: ctx.decisionId, traceId }, 'outcome not durable: answer withheld');
      trace?.end(true);
      return false;
    }
  }

  async function afterWrite(): Promise<void> {
    // A delete or update that Mem0 carried out changes the owner: forget the cached one.
    if (!ctx?.memoryId || upstreamStatus < 200 || upstreamStatus >= 300) return;
    if (ctx.route !== 'memories.delete' && ctx.route !== 'memories.update') return;
    await deps.owners.evict(ctx.memoryId).catch((err: unknown) => {
      deps.logger.warn({ err: { message: (err as Error).message }, decisionId: ctx?.decisionId, traceId }, 'owner cache eviction failed');
    });
  }

  function affectedWithoutBody(route: string): number | null | undefined {
    if (upstreamStatus < 200 || upstreamStatus >= 300) return 0;
    if (route === 'memories.delete' || route === 'memories.update') return 1;
    // Mem0 does not say how many memories a bulk delete, entity delete or reset removed.
    if (route === 'memories.bulk_delete' || route === 'entities.delete' || route === 'reset') return null;
    return undefined;
  }

  async function onEnd(): Promise<void> {
    if (ctx && !finished) await record({ status: upstreamStatus, reasons: ['upstream_no_answer'], phiReleased: false });
    trace?.end();
  }

  return { onMessage, onEnd };

  async function onMessage(msg: ProcessingRequest): Promise<ProcessingResponse> {
    if (msg.request_headers) {
      sawRequest = true;
      const fields = msg.metadata_context?.filter_metadata?.[METADATA_NAMESPACE]?.fields;
      // gRPC ext_authz sets `ctx`; the HTTP variant's header becomes metadata under its name.
      const value = fields?.[METADATA_KEY] ?? fields?.[CONTEXT_HEADER];
      ctx = decodeContext(value?.stringValue ?? value?.string_value);
      // Envoy's ext_proc span (the stream's metadata), else the request's own traceparent.
      const traceparent = pickTraceparent(stream.traceparent, header(msg.request_headers, 'traceparent'));
      trace = deps.tracing?.start('mem0-gov response', traceparent, {
        'mem0_gov.decision_id': ctx?.decisionId, 'mem0_gov.request_id': ctx?.requestId, 'mem0_gov.route': ctx?.route, 'mem0_gov.tenant': ctx?.identity.tenant,
      });
      traceId = trace?.traceId ?? parseTraceparent(traceparent)?.traceId;
      // Reached Mem0's side of the chain without an ext_authz decision: never release.
      if (!ctx) {
        counters?.responseStageFailures.inc({ reason: 'decision_context_missing' });
        const requestId = header(msg.request_headers, 'x-request-id') ?? '';
        logLimited('error', deps.logger, 'decision_context_missing', { requestId, traceId }, 'response stage: no decision context');
        trace?.set({ 'mem0_gov.reason': 'decision_context_missing' });
        trace?.end(true);
        return immediate('decision_context_missing', undefined, requestId);
      }
      const res = continueWith('request_headers');
      // The route config buffers write bodies; skip that round trip when no content rule
      // applies. mode_override replaces the whole mode, so it restates the route's.
      const kind = answerKindOf(ctx.route);
      if ((kind === 'created' || ctx.route === 'memories.update') && (ctx.content === null || ctx.content === undefined)) {
        res.mode_override = {
          request_header_mode: 'SEND', response_header_mode: 'SEND', request_trailer_mode: 'SKIP', response_trailer_mode: 'SKIP',
          request_body_mode: 'NONE', response_body_mode: kind === 'none' ? 'NONE' : 'BUFFERED',
        };
      }
      return res;
    }
    if (msg.request_body) {
      if (!ctx || ctx.content === null || ctx.content === undefined) return continueWith('request_body');
      const parsed = parseJson(bodyBytes(msg.request_body));
      // ext_authz parsed this very body; anything else is not ours to judge here.
      if (!parsed.ok || parsed.value === null || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) return continueWith('request_body');
      try {
        content = checkContent(ctx.content, parsed.value as Record<string, unknown>);
      } catch (err) {
        // ext_authz ran the same rules on the same body first; this only happens if the policy
        // changed in between. Never forward unchecked text.
        return immediate(err instanceof PipelineStop && err.reason === 'content_too_large' ? 'content_too_large' : 'content_rules_invalid', ctx);
      }
      if (content.action === 'blocked') return immediate('internal_error', ctx); // ext_authz refuses these first
      if (content.body === undefined) return continueWith('request_body');
      const out = Buffer.from(JSON.stringify(content.body));
      counters?.contentActions.inc({ tenant: ctx.identity.tenant, action: content.action });
      return continueWith('request_body', {
        header_mutation: setHeaders({ 'content-length': String(out.length) }),
        body_mutation: { body: out },
      });
    }
    if (msg.response_headers) {
      // A local reply (an ext_authz denial, Envoy's own 413/503) never saw our request phase.
      if (!sawRequest) return continueWith('response_headers');
      upstreamStatus = Number(header(msg.response_headers, ':status') ?? '0');
      if (!ctx) return immediate('decision_context_missing', undefined);
      const kind = answerKindOf(ctx.route);
      const bodyComing = kind !== 'none' && !msg.response_headers.end_of_stream;
      if (bodyComing) return continueWith('response_headers');
      await afterWrite();
      const affected = affectedWithoutBody(ctx.route);
      const ok = await record({ status: upstreamStatus, reasons: [], phiReleased: false, ...(affected !== undefined ? { affected } : {}) });
      return ok ? continueWith('response_headers') : immediate('audit_unavailable', ctx);
    }
    if (msg.response_body) {
      if (!sawRequest) return continueWith('response_body'); // a local reply, as above
      if (!ctx) return immediate('decision_context_missing', undefined);
      const kind = answerKindOf(ctx.route);
      const bytes = bodyBytes(msg.response_body);
      if (bytes.length > MAX_ANSWER_BYTES) {
        counters?.responseStageFailures.inc({ reason: 'upstream_body_too_large' });
        const ok = await record({ status: 502, reasons: ['upstream_body_too_large'], phiReleased: false, error: `answer of ${bytes.length} bytes` });
        return immediate(ok ? 'upstream_body_too_large' : 'audit_unavailable', ctx);
      }
      const parsed = parseJson(bytes);
      if (!parsed.ok) {
        // Mem0's errors may be plain text (a 500 from its server): nothing to filter in them.
        if (upstreamStatus >= 400) {
          const ok = await record({ status: upstreamStatus, reasons: [], phiReleased: false });
          return ok ? continueWith('response_body') : immediate('audit_unavailable', ctx);
        }
        counters?.responseStageFailures.inc({ reason: 'upstream_invalid_json' });
        const ok = await record({ status: 502, reasons: ['upstream_invalid_json'], phiReleased: false, error: 'answer is not JSON' });
        return immediate(ok ? 'upstream_invalid_json' : 'audit_unavailable', ctx);
      }
      const f = filterAnswer({
        kind: upstreamStatus >= 200 && upstreamStatus < 300 ? kind : 'none',
        body: parsed.value,
        rules: ctx.answer,
        phiLabels: deps.phiLabels,
        ...(ctx.memoryId !== undefined ? { memoryId: ctx.memoryId } : {}),
        ...(ctx.owner !== undefined ? { owner: ctx.owner } : {}),
        writePhi: ctx.phi === true || content?.action === 'flagged',
      });
      const reasons: string[] = [];
      if (f.withheldPhi.length > 0) {
        reasons.push('phi_withheld');
        counters?.responseWithheld.inc({ tenant: ctx.identity.tenant, why: 'phi' }, f.withheldPhi.length);
      }
      // GET /entities lists every tenant's entities by design; elsewhere a foreign memory in a
      // per-tenant answer means Mem0 or policy misbehaved: an event worth an alert.
      if (f.withheldCrossTenant.length > 0) {
        if (kind === 'entities') counters?.responseWithheld.inc({ tenant: ctx.identity.tenant, why: 'other_tenant_entity' }, f.withheldCrossTenant.length);
        else {
          reasons.push('response_cross_tenant');
          counters?.responseCrossTenant.inc({ tenant: ctx.identity.tenant, route: ctx.route }, f.withheldCrossTenant.length);
        }
      }
      await afterWrite();
      const facts: Omit<OutcomeFacts, 'latencyMs' | 'upstreamStatus'> = {
        status: upstreamStatus,
        reasons,
        phiReleased: f.phiReleased,
        withheldPhi: f.withheldPhi,
        withheldCrossTenant: f.withheldCrossTenant,
      };
      if (kind === 'created') {
        facts.affected = f.affected ?? 0;
        facts.returnedIds = f.returnedIds;
      } else if (kind !== 'none') {
        facts.returned = f.returned;
        if (kind !== 'entities') facts.returnedIds = f.returnedIds;
      }
      const ok = await record(facts);
      if (!ok) return immediate('audit_unavailable', ctx);
      if (!f.changed) return continueWith('response_body');
      const out = Buffer.from(JSON.stringify(f.body));
      return continueWith('response_body', {
        header_mutation: setHeaders({ 'content-length': String(out.length) }),
        body_mutation: { body: out },
      });
    }
    // Trailers are not requested by the shipped config; answer whatever phase it was.
    if (msg.request_trailers) return { request_trailers: {} };
    if (msg.response_trailers) return { response_trailers: {} };
    return continueWith('response_headers');
  }
}

// An OTLP/HTTP trace receiver for tests (docs/tracing.md): `POST /v1/traces` with a protobuf
// ExportTraceServiceRequest — what Envoy's OpenTelemetry tracer (http_service) and mem0-gov's
// exporter both send. It keeps every span it was sent, flattened, so a test can check that they
// form one trace.
//
// No .proto file is copied into the repository (protos/README.md) and no npm package ships the
// OTLP ones, so the receiver declares the subset it reads, with the field numbers of
// opentelemetry-proto (opentelemetry/proto/{collector/trace,trace,resource,common}/v1/*.proto);
// protobufjs skips every field not declared here.
import { createServer, type Server } from 'node:http';
import protobuf from 'protobufjs';
import { waitFor } from './tools.js';

const OTLP_SUBSET = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { repeated Span spans = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
}
`;

const Request = protobuf.parse(OTLP_SUBSET, { keepCase: true }).root.lookupType('otlp.ExportTraceServiceRequest');

/** OTLP span kinds (Span.SpanKind). */
export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  /** The resource's service.name. */
  service: string;
  attributes: Record<string, string | number | boolean>;
  /** Status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

interface KV { key?: string; value?: { string_value?: string; bool_value?: boolean; int_value?: number | protobuf.Long; double_value?: number } }
interface DecodedSpan {
  trace_id?: Uint8Array; span_id?: Uint8Array; parent_span_id?: Uint8Array; name?: string; kind?: number;
  attributes?: KV[]; status?: { code?: number };
}
interface Decoded { resource_spans?: { resource?: { attributes?: KV[] }; scope_spans?: { spans?: DecodedSpan[] }[] }[] }

function attrs(list: KV[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list ?? []) {
    const v = kv.value;
    if (kv.key === undefined || v === undefined) continue;
    if (v.string_value !== undefined) out[kv.key] = v.string_value;
    else if (v.bool_value !== undefined) out[kv.key] = v.bool_value;
    else if (v.int_value !== undefined) out[kv.key] = Number(v.int_value);
    else if (v.double_value !== undefined) out[kv.key] = v.double_value;
  }
  return out;
}

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('hex');

/** The spans of one OTLP/HTTP protobuf export request body. */
export function decodeTraces(body: Uint8Array): ReceivedSpan[] {
  const req = Request.toObject(Request.decode(body), { defaults: false }) as Decoded;
  const out: ReceivedSpan[] = [];
  for (const rs of req.resource_spans ?? []) {
    const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scope_spans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.trace_id), spanId: hex(s.span_id), parentSpanId: hex(s.parent_span_id),
          name: s.name ?? '', kind: s.kind ?? 0, service, attributes: attrs(s.attributes), statusCode: s.status?.code ?? 0,
        });
      }
    }
  }
  return out;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:<port> (OTEL_EXPORTER_OTLP_ENDPOINT). */
  endpoint: string;
  port: number;
  /** Every span received so far. */
  spans(): ReceivedSpan[];
  /** Export requests that could not be decoded (should stay 0). */
  rejected(): number;
  /** Resolves with the spans once `done(spans)` holds (polling), or throws after `timeoutMs`. */
  waitFor(what: string, done: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(port = 0): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  let rejected = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
      if (req.method !== 'POST' || req.url !== '/v1/traces' || type !== 'application/x-protobuf') {
        rejected++;
        res.writeHead(req.url === '/v1/traces' ? 415 : 404).end();
        return;
      }
      try {
        received.push(...decodeTraces(Buffer.concat(chunks)));
      } catch {
        rejected++;
        res.writeHead(400).end();
        return;
      }
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    port: bound,
    spans: () => [...received],
    rejected: () => rejected,
    async waitFor(what, done, timeoutMs = 30_000) {
      await waitFor(what, async () => done([...received]), timeoutMs, 100);
      return [...received];
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

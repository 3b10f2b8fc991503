// Envoy-facing gRPC: envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health.
// Health starts NOT_SERVING: the service turns it SERVING once warm (service.ts), and back to
// NOT_SERVING when it drains, so Envoy's health checks move traffic before and after.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { RawCheck } from '../request/parse.js';
import type { CheckCall } from '../pipeline.js';
import { queuedFor, recentLag } from '../loop-lag.js';
import type { Verdict } from '../types.js';
import { authorizationService, externalProcessorService } from './protos.js';
import { createStreamProcessor, type ProcessingRequest, type ProcessingResponse, type ProcessorDeps } from '../response/processor.js';
import type { Logger } from '../logger.js';

export const AUTHZ_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';
export const EXT_PROC_SERVICE_NAME = 'envoy.service.ext_proc.v3.ExternalProcessor';

/** The CheckRequest fields we read (proto-loader keepCase objects). */
interface CheckRequestMsg {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string } } };
    request?: {
      /** When Envoy received the request (google.protobuf.Timestamp). */
      time?: { seconds?: number | string; nanos?: number } | null;
      http?: {
        method?: string;
        path?: string;
        headers?: Record<string, string>;
        header_map?: { headers?: { key?: string; value?: string; raw_value?: Buffer }[] };
        body?: string;
        raw_body?: Buffer;
      };
    };
  };
}

export function rawCheckFromGrpc(msg: CheckRequestMsg): RawCheck {
  const http = msg.attributes?.request?.http ?? {};
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(http.headers ?? {})) headers[k.toLowerCase()] = v;
  // With encode_raw_headers Envoy fills header_map instead of headers.
  for (const h of http.header_map?.headers ?? []) {
    if (!h.key) continue;
    const value = h.raw_value && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('utf8') : (h.value ?? '');
    const k = h.key.toLowerCase();
    headers[k] = headers[k] === undefined ? value : `${headers[k]},${value}`;
  }
  const body =
    http.raw_body && http.raw_body.length > 0
      ? new Uint8Array(http.raw_body)
      : http.body
        ? new TextEncoder().encode(http.body)
        : undefined;
  const raw: RawCheck = {
    method: http.method ?? '',
    path: http.path ?? '',
    headers,
    sourceIp: msg.attributes?.source?.address?.socket_address?.address ?? '',
    requestId: headers['x-request-id'] || randomUUID(),
  };
  if (body) raw.body = body;
  return raw;
}

function headerList(h: Record<string, string>): { header: { key: string; value: string }; append_action: string }[] {
  return Object.entries(h).map(([key, value]) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }));
}

/** google.rpc.Code for the CheckResponse status. */
function rpcCode(status: number): number {
  if (status === 401) return grpc.status.UNAUTHENTICATED;
  if (status === 429) return grpc.status.RESOURCE_EXHAUSTED;
  if (status === 503) return grpc.status.UNAVAILABLE;
  if (status === 400) return grpc.status.INVALID_ARGUMENT;
  return grpc.status.PERMISSION_DENIED;
}

export function checkResponse(v: Verdict): Record<string, unknown> {
  if (v.allowed) {
    return {
      status: { code: grpc.status.OK },
      ok_response: {
        headers: headerList(v.upstreamHeaders),
        headers_to_remove: v.removeHeaders,
        response_headers_to_add: headerList(v.clientHeaders),
      },
      // google.protobuf.Struct: protobufjs's well-known-type wrapper uses camelCase field names
      // even under keepCase.
      dynamic_metadata: {
        fields: Object.fromEntries(Object.entries(v.dynamicMetadata).map(([k, s]) => [k, { stringValue: s }])),
      },
    };
  }
  return {
    status: { code: rpcCode(v.status) },
    denied_response: {
      status: { code: v.status },
      headers: headerList(v.headers),
      body: JSON.stringify(v.body),
    },
  };
}

/**
 * The call's deadline (grpc-timeout, i.e. Envoy's ext_authz timeout) on performance.now()'s clock.
 * grpc-js counts it from when it read the headers, but they may have waited before that: as long
 * as the event loop has lately been late (loop-lag.ts), or — for a check without a body, whose
 * ext_authz call starts when Envoy has the request — as long as its age on arrival says
 * (`requestTimeMs`: CheckRequest attributes.request.time). The larger is taken off: an answer that
 * may be too late is treated as too late.
 */
export function deadlineOf(d: grpc.Deadline, requestTimeMs?: number): number {
  const at = d instanceof Date ? d.getTime() : d;
  if (!Number.isFinite(at)) return Infinity;
  const now = Date.now();
  const queued = Math.max(recentLag(), requestTimeMs !== undefined ? queuedFor(now - requestTimeMs) : 0);
  return performance.now() + (at - now) - queued;
}

/** attributes.request.time in ms since the epoch, for a check without a body (else undefined). */
function requestTimeOf(msg: CheckRequestMsg): number | undefined {
  const r = msg.attributes?.request;
  const http = r?.http;
  if ((http?.raw_body?.length ?? 0) > 0 || (http?.body?.length ?? 0) > 0) return undefined;
  const t = r?.time;
  if (t === undefined || t === null) return undefined;
  const ms = Number(t.seconds ?? 0) * 1000 + Number(t.nanos ?? 0) / 1e6;
  return ms > 0 ? ms : undefined;
}

/** The call's W3C traceparent: Envoy, when it traces, puts the span of its gRPC call to us there. */
function traceparentOf(md: grpc.Metadata): { traceparent?: string } {
  const v = md.get('traceparent')[0];
  return typeof v === 'string' ? { traceparent: v } : {};
}

export interface GrpcServerHandle {
  server: grpc.Server;
  port: number;
  health: HealthImplementation;
  /** SERVING (warm) or NOT_SERVING (warming, draining), for every service name. */
  setServing(on: boolean): void;
  /** Marks NOT_SERVING, then waits for in-flight calls (bounded) and stops. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startGrpcServer(opts: {
  host: string;
  port: number;
  decide: (raw: RawCheck, call?: CheckCall) => Promise<{ verdict: Verdict; delivered?: boolean }>;
  /** The response stage (ext_proc) on the same port. */
  processor: ProcessorDeps;
  logger: Logger;
}): Promise<GrpcServerHandle> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  const health = new HealthImplementation({ '': 'NOT_SERVING', [AUTHZ_SERVICE_NAME]: 'NOT_SERVING', [EXT_PROC_SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  server.addService(authorizationService().service, {
    Check(call: grpc.ServerUnaryCall<CheckRequestMsg, unknown>, callback: grpc.sendUnaryData<unknown>) {
      let raw: RawCheck;
      try {
        raw = rawCheckFromGrpc(call.request);
      } catch (err) {
        opts.logger.error({ err: { message: (err as Error).message } }, 'unreadable CheckRequest');
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'unreadable CheckRequest' });
        return;
      }
      opts
        .decide(raw, { deadline: deadlineOf(call.getDeadline(), requestTimeOf(call.request)), cancelled: () => call.cancelled, ...traceparentOf(call.metadata) })
        // An undelivered answer (the caller gave up) is recorded as such; grpc-js drops it anyway.
        .then((o) => callback(null, checkResponse(o.verdict)))
        .catch((err: unknown) => {
          // decide() audits and never throws by design; if it does, Envoy's status_on_error (503) applies.
          opts.logger.error({ err: { message: (err as Error)?.message }, requestId: raw.requestId }, 'check failed');
          callback({ code: grpc.status.INTERNAL, details: 'check failed' });
        });
    },
  });
  server.addService(externalProcessorService().service, {
    Process(call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) {
      const stream = createStreamProcessor(opts.processor, traceparentOf(call.metadata));
      // Messages are answered strictly in order: Envoy waits for each answer anyway.
      let chain: Promise<void> = Promise.resolve();
      call.on('data', (msg: ProcessingRequest) => {
        chain = chain
          .then(() => stream.onMessage(msg))
          .then((res) => {
            if (!call.writableEnded && !call.destroyed) call.write(res);
          })
          .catch((err: unknown) => {
            opts.logger.error({ err: { message: (err as Error)?.message } }, 'response stage failed');
            // Envoy fails closed (failure_mode_allow: false) when the stream breaks.
            call.destroy(err as Error);
          });
      });
      const finish = (): void => {
        chain = chain
          .then(() => stream.onEnd())
          .catch((err: unknown) => opts.logger.error({ err: { message: (err as Error)?.message } }, 'response stage end failed'))
          .finally(() => {
            if (!call.writableEnded) call.end();
          });
      };
      call.on('end', finish);
      call.on('error', () => undefined); // cancelled by Envoy: finish() runs on 'close'
      call.on('close', () => {
        if (!call.writableEnded) finish();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  const setServing = (on: boolean): void => {
    for (const name of ['', AUTHZ_SERVICE_NAME, EXT_PROC_SERVICE_NAME]) health.setStatus(name, on ? 'SERVING' : 'NOT_SERVING');
  };
  return {
    server,
    port,
    health,
    setServing,
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        setServing(false);
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

// Envoy-facing gRPC: envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { RawCheck } from '../request/parse.js';
import type { Verdict } from '../types.js';
import { authorizationService } from './protos.js';
import type { Logger } from '../logger.js';

export const AUTHZ_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';

/** The CheckRequest fields we read (proto-loader keepCase objects). */
interface CheckRequestMsg {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string } } };
    request?: {
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

export interface GrpcServerHandle {
  server: grpc.Server;
  port: number;
  health: HealthImplementation;
  /** Marks NOT_SERVING, then waits for in-flight calls (bounded) and stops. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startGrpcServer(opts: {
  host: string;
  port: number;
  decide: (raw: RawCheck) => Promise<{ verdict: Verdict }>;
  logger: Logger;
}): Promise<GrpcServerHandle> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  const health = new HealthImplementation({ '': 'NOT_SERVING', [AUTHZ_SERVICE_NAME]: 'NOT_SERVING' });
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
        .decide(raw)
        .then((o) => callback(null, checkResponse(o.verdict)))
        .catch((err: unknown) => {
          // decide() audits and never throws by design; if it does, Envoy's status_on_error (503) applies.
          opts.logger.error({ err: { message: (err as Error)?.message }, requestId: raw.requestId }, 'check failed');
          callback({ code: grpc.status.INTERNAL, details: 'check failed' });
        });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  health.setStatus('', 'SERVING');
  health.setStatus(AUTHZ_SERVICE_NAME, 'SERVING');
  return {
    server,
    port,
    health,
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        health.setStatus('', 'NOT_SERVING');
        health.setStatus(AUTHZ_SERVICE_NAME, 'NOT_SERVING');
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

// :9192 — /healthz (process alive), /readyz (dependencies usable), /metrics (Prometheus),
// and /check/* — the HTTP-service flavour of ext_authz (envoy/envoy-http-authz.yaml):
// Envoy forwards the client's method, path (prefixed /check), headers and body; 200 means
// allow (x-mem0-gov-* headers go upstream, `x-envoy-auth-headers-to-remove` strips
// authorization), anything else is the denial Envoy sends to the client.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RawCheck } from '../request/parse.js';
import type { CheckCall } from '../pipeline.js';
import { recentLag } from '../loop-lag.js';
import type { Verdict } from '../types.js';
import { metricsText, registry } from '../metrics.js';
import { CONTEXT_HEADER, METADATA_KEY } from '../response/context.js';
import { REASONS, type Reason } from '../reasons.js';

/** A refusal of the HTTP check endpoint itself, in the deny body's shape. */
function refusal(res: ServerResponse, reason: Reason, requestId: string): void {
  const spec = REASONS[reason];
  res.writeHead(spec.status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ error: spec.decision, reason, request_id: requestId, decision_id: '' }));
}
import type { Logger } from '../logger.js';

export const CHECK_PREFIX = '/check';
const MAX_CHECK_BODY = 1024 * 1024 + 1;

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
}

export function rawCheckFromHttp(req: IncomingMessage, body: Uint8Array): RawCheck {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  const url = req.url ?? '/';
  const path = url.startsWith(CHECK_PREFIX) ? url.slice(CHECK_PREFIX.length) || '/' : url;
  // Envoy (use_remote_address: true) sets x-envoy-external-address itself, overwriting any
  // client-sent value; the last XFF hop can be Envoy's own address for loopback callers.
  const raw: RawCheck = {
    method: req.method ?? 'GET',
    path,
    headers,
    sourceIp: headers['x-envoy-external-address'] ?? req.socket.remoteAddress ?? '',
    requestId: headers['x-request-id'] || randomUUID(),
  };
  if (body.length > 0) raw.body = body;
  return raw;
}

function writeVerdict(res: ServerResponse, v: Verdict): void {
  if (v.allowed) {
    // The response stage's context becomes dynamic metadata in Envoy
    // (http_service.authorization_response.dynamic_metadata_from_headers); it is not forwarded.
    const ctx = v.dynamicMetadata[METADATA_KEY];
    res.writeHead(200, {
      ...v.upstreamHeaders,
      ...v.clientHeaders,
      'x-envoy-auth-headers-to-remove': v.removeHeaders.join(','),
      ...(ctx !== undefined ? { [CONTEXT_HEADER]: ctx } : {}),
    });
    res.end();
    return;
  }
  res.writeHead(v.status, v.headers);
  res.end(JSON.stringify(v.body));
}

/**
 * Envoy's deadline for an HTTP check: `x-envoy-expected-rq-timeout-ms` (the ext_authz timeout, set
 * by Envoy's router on the call) from when the request arrived; the caller is gone once Envoy
 * closed the request (its timeout fired).
 */
export function checkCallFromHttp(req: IncomingMessage, res: ServerResponse, arrived: number): CheckCall {
  const t = Number(req.headers['x-envoy-expected-rq-timeout-ms']);
  return {
    deadline: Number.isFinite(t) && t > 0 ? arrived + t - recentLag() : Infinity,
    cancelled: () => res.destroyed || req.socket.destroyed,
  };
}

async function readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_CHECK_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

export async function startHttpServer(opts: {
  host: string;
  port: number;
  readiness: () => Readiness;
  /** What the gRPC health service says (warm, not draining): `/serving`, for HTTP health checks. */
  serving?: () => boolean;
  decide: (raw: RawCheck, call?: CheckCall) => Promise<{ verdict: Verdict }>;
  logger: Logger;
  /** More routes (the audit API, /audit/): true when it answered the request. */
  routes?: (req: IncomingMessage, res: ServerResponse) => boolean;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (url === '/readyz') {
      const r = opts.readiness();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: r.ready ? 'ready' : 'not_ready', checks: r.checks }));
      return;
    }
    if (url === '/serving') {
      // The HTTP face of grpc.health.v1 (Envoy's HTTP health check on the /check cluster):
      // 200 once warm, 503 before and while draining. Dependencies are /readyz's business.
      const ok = opts.serving?.() ?? true;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(ok ? '{"status":"SERVING"}' : '{"status":"NOT_SERVING"}');
      return;
    }
    if (url === '/metrics') {
      metricsText() // the whole process group's when there are workers
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch(() => res.writeHead(500).end());
      return;
    }
    if (url === CHECK_PREFIX || url.startsWith(`${CHECK_PREFIX}/`) || url.startsWith(`${CHECK_PREFIX}?`)) {
      const arrived = performance.now();
      readBody(req)
        .then(async (body) => {
          if (body === undefined) {
            refusal(res, 'body_too_large', String(req.headers['x-request-id'] ?? ''));
            return;
          }
          const { verdict } = await opts.decide(rawCheckFromHttp(req, body), checkCallFromHttp(req, res, arrived));
          if (!res.destroyed) writeVerdict(res, verdict);
        })
        .catch((err: unknown) => {
          opts.logger.error({ err: { message: (err as Error)?.message } }, 'http check failed');
          if (!res.headersSent) refusal(res, 'internal_error', String(req.headers['x-request-id'] ?? ''));
        });
      return;
    }
    if (opts.routes?.(req, res) === true) return;
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { server, port, close: () => new Promise((r) => server.close(() => r())) };
}

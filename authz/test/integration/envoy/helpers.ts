// Doubles and clients for the Envoy-behaviour tests. The authz doubles here only exist to observe
// what Envoy does (body limit, fail-closed, header handling); the real authz runs in authz/test/e2e.
import * as grpc from '@grpc/grpc-js';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { authorizationService, externalProcessorService } from '../../../src/grpc/protos.js';

/** The parts of a CheckRequest these tests look at (proto-loader, keepCase). */
export interface SeenCheck {
  method: string;
  path: string;
  headers: Record<string, string>;
  rawBody: Buffer;
}

export interface AuthzDouble {
  port: number;
  checks: SeenCheck[];
  stop(): Promise<void>;
}

interface HeaderOption { header: { key: string; value: string } }
type CheckResponse =
  | { status: { code: number }; ok_response: { headers: HeaderOption[]; headers_to_remove?: string[] } }
  | { status: { code: number }; denied_response: { status: { code: number }; headers: HeaderOption[]; body: string } };

const hdr = (key: string, value: string): HeaderOption => ({ header: { key, value } });

/**
 * A gRPC Authorization double. Behaviour is picked by the request's `x-test-authz` header:
 * `deny` → 403 with a JSON body and headers, `slow` → answers after 1 s (beyond Envoy's 250 ms),
 * otherwise allow with identity headers (and it does NOT remove `authorization`, so the tests
 * see Envoy's own scrub).
 */
export async function startAuthzDouble(): Promise<AuthzDouble> {
  const checks: SeenCheck[] = [];
  const server = new grpc.Server();
  server.addService(authorizationService().service, {
    Check(call: grpc.ServerUnaryCall<unknown, CheckResponse>, cb: grpc.sendUnaryData<CheckResponse>) {
      const req = call.request as { attributes?: { request?: { http?: { method: string; path: string; headers: Record<string, string>; raw_body: Buffer } } } };
      const http = req.attributes?.request?.http;
      const seen: SeenCheck = { method: http?.method ?? '', path: http?.path ?? '', headers: http?.headers ?? {}, rawBody: http?.raw_body ?? Buffer.alloc(0) };
      checks.push(seen);
      const mode = seen.headers['x-test-authz'];
      const decisionId = `dec-${checks.length}`;
      if (mode === 'deny') {
        cb(null, {
          status: { code: 7 },
          denied_response: {
            status: { code: 403 },
            headers: [hdr('content-type', 'application/json'), hdr('x-mem0-gov-decision-id', decisionId)],
            body: JSON.stringify({ error: 'deny', reason: 'test_denied', request_id: seen.headers['x-request-id'], decision_id: decisionId }),
          },
        });
        return;
      }
      const allow = (): void => cb(null, {
        status: { code: 0 },
        ok_response: { headers: [hdr('x-mem0-gov-tenant', 'acme'), hdr('x-mem0-gov-subject', 'alice'), hdr('x-mem0-gov-decision-id', decisionId)] },
      });
      if (mode === 'slow') setTimeout(allow, 1000);
      else allow();
    },
  });
  // The response stage (ext_proc) on the same port, as the real service has it: this double
  // continues every phase unchanged, so these tests see Envoy's own behaviour.
  server.addService(externalProcessorService().service, {
    Process(call: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>) {
      call.on('data', (msg: Record<string, unknown>) => {
        const phase = (['request_headers', 'response_headers', 'request_body', 'response_body'] as const).find((k) => msg[k] !== undefined && msg[k] !== null);
        call.write(phase ? { [phase]: { response: { status: 'CONTINUE' } } } : { response_trailers: {} });
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { port, checks, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}

export interface SeenHttpCheck {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * The HTTP check endpoint double (contract in envoy/README.md): `authorization: Bearer deny` → 401 with
 * WWW-Authenticate and a JSON body; otherwise 200 with identity headers plus one header that
 * must NOT be copied upstream.
 */
export async function startHttpAuthzDouble(): Promise<{ port: number; checks: SeenHttpCheck[]; stop(): Promise<void> }> {
  const checks: SeenHttpCheck[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      checks.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      if (req.headers.authorization === 'Bearer deny') {
        const body = JSON.stringify({ error: 'unauthenticated', reason: 'expired', request_id: req.headers['x-request-id'], decision_id: 'd-1' });
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"', 'cache-control': 'no-store', 'x-internal-debug': 'secret' });
        res.end(body);
        return;
      }
      res.writeHead(200, { 'x-mem0-gov-tenant': 'acme', 'x-mem0-gov-decision-id': 'd-2', 'ratelimit-remaining': '9', 'x-not-for-upstream': 'nope' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    checks,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export interface HttpsResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTPS/1.1 request to Envoy, trusting the dev CA. `chunked` omits Content-Length. */
export function call(baseUrl: string, caFile: string, method: string, path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {}): Promise<HttpsResult> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined && !opts.chunked) headers['content-length'] = Buffer.byteLength(opts.body);
    const req = httpsRequest({
      host: u.hostname, port: u.port, method, path, headers, ca: readFileSync(caFile), servername: 'localhost', agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // Envoy may answer 413 and close before the whole body is written; the answer still arrives.
    req.on('error', reject);
    if (opts.body !== undefined) {
      if (opts.chunked) {
        const buf = Buffer.from(opts.body);
        for (let i = 0; i < buf.length; i += 64 * 1024) req.write(buf.subarray(i, i + 64 * 1024));
      } else {
        req.write(opts.body);
      }
    }
    req.end();
  });
}

/** Stops whatever started, in order (afterAll runs even when beforeAll failed halfway). */
export async function stopAll(...things: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  for (const t of things) await t?.stop();
}

/** Forgets what Mem0 and an authz double saw, between tests. */
export function clearRecords(mem0: { reset(): void }, checks: unknown[]): void {
  mem0.reset();
  checks.length = 0;
}

/** One HTTP/2 request over TLS (ALPN h2), as gRPC-era agents send them. */
export function callH2(baseUrl: string, caFile: string, method: string, path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<{ status: number; alpn: string | false; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(baseUrl, { ca: readFileSync(caFile), servername: 'localhost' });
    session.on('error', reject);
    const stream = session.request({ ':method': method, ':path': path, ...opts.headers });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => { status = Number(h[':status']); });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const alpn = session.alpnProtocol ?? false;
      session.close();
      resolve({ status, alpn, body: Buffer.concat(chunks).toString('utf8') });
    });
    // Envoy may reset the stream after answering 413; the answer is what matters.
    stream.on('error', () => undefined);
    stream.end(opts.body);
  });
}

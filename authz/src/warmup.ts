// Warm before SERVING (docs/DESIGN.md "Availability"): before the service reports SERVING, it
// runs its hot paths enough times that the first real requests after a start or a rollout see
// the latency of later ones. Nothing here reaches Mem0, writes an audit row or counts in the
// metrics:
//   - Envoy's traffic, imitated over a gRPC server of its own on a loopback port: the same
//     handlers as the service's port (grpc-js, HTTP/2, the protobuf decoders), Check requests shaped like Envoy's and, for allowed ones, ext_proc streams with
//     the decision's context and a Mem0-shaped answer; that server closes before SERVING;
//   - behind it, the real pipeline code (createPipeline, quiet) with the real policy engine, the
//     real gate (real Redis: calls for the reserved tenant `mem0gov-warmup`, whose rate-limit
//     keys expire by themselves; no session key, no grant), the real JWT verification (jose)
//     against a key pair made here for a synthetic issuer, an owner lookup stand-in (no call to
//     Mem0), and an audit sink that seals, hashes and encodes every row like the writer but
//     stores nothing; the response stage filters the answers and writes outcome rows to it;
//   - one COPY of sealed rows into audit.events on a connection of its own, rolled back (the
//     writer's COPY path, the partition routing, PostgreSQL's plan), the pg client's query path,
//     and a Redis PING.
// Warm-up failures are logged and never stop the start: a cold path is slower, not wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { Logger } from './logger.js';
import type { AuditEvent, Gate, OwnerLookup, PolicyEngine } from './types.js';
import type { JwtConfig } from './identity/config.js';
import { createAuthenticator } from './identity/jwt.js';
import { createPipeline } from './pipeline.js';
import type { RawCheck } from './request/parse.js';
import * as grpc from '@grpc/grpc-js';
import { startGrpcServer } from './grpc/server.js';
import { authorizationService, externalProcessorService } from './grpc/protos.js';
import { decodeContext, METADATA_KEY, METADATA_NAMESPACE, type ResponseContext } from './response/context.js';
import { answerKindOf, type AnswerKind } from './request/routes.js';
import { GENESIS_HASH, normalizeEvent, sealNormalized, type AuditRow } from './audit/row.js';
import { encodeCopyRows } from './audit/copy-text.js';
import { connect, copyEncodedRows } from './audit/pg.js';
import type { RedisClient } from './redis/connect.js';

/** The tenant warm-up requests claim (reserved: never a real tenant's name). */
export const WARMUP_TENANT = 'mem0gov-warmup';
const WARMUP_ISSUER = 'urn:mem0-gov:warm-up';

export interface WarmupDeps {
  jwt: JwtConfig;
  gate: Gate;
  policy: PolicyEngine;
  redis: RedisClient;
  pgUrl: string;
  chainId: string;
  phiLabels: readonly string[];
  logger: Logger;
  clock?: () => number;
}

export interface WarmupOptions {
  /** Decisions to run (spread over every request shape). */
  decisions?: number;
  /** Stop after this long whatever is left (ms). */
  maxMs?: number;
}

export interface WarmupReport {
  decisions: number;
  /** Response-stage streams run after allowed decisions. */
  streams: number;
  ms: number;
  /** Mean ms per decision over the first and the last tenth: how much colder the start was. */
  firstMs: number;
  lastMs: number;
  failed: string[];
}

/** Puts `value` at a dotted claim path (`realm_access.roles`) of `payload`. */
function setClaim(payload: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = payload;
  for (const p of parts.slice(0, -1)) {
    if (node[p] === null || typeof node[p] !== 'object') node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

/** An audit sink that does the writer's CPU work (normalize, seal, hash, encode) and stores nothing. */
function scratchSink(chainId: string): { append(ev: AuditEvent): Promise<void>; close(): Promise<void>; rows: AuditRow[] } {
  let head = { seq: 0, hash: GENESIS_HASH };
  const rows: AuditRow[] = [];
  return {
    rows,
    append(ev) {
      const row = sealNormalized(chainId, head, normalizeEvent(ev));
      head = { seq: row.seq, hash: row.hash };
      if (rows.length < 500) rows.push(row);
      encodeCopyRows([row]);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}

const owner = { exists: true, phi: false, user_id: `${WARMUP_TENANT}:u1` };
const stubOwners: OwnerLookup = {
  lookup: () => Promise.resolve({ ...owner }),
  evict: () => Promise.resolve(),
  tombstone: () => Promise.resolve(),
};

/** A CheckRequest as Envoy's ext_authz filter sends it (the fields it fills, captured from the
 * shipped config): the decoders and handlers then meet the shapes of real traffic. Without
 * `attributes.request.time`: our own clock there would teach the check deadline's estimate of
 * Envoy's clock (loop-lag.ts queuedFor) a skew of zero. */
function envoyCheckRequest(raw: RawCheck, i: number): Record<string, unknown> {
  const peer = (port: number, principal: string): Record<string, unknown> => ({
    address: { socket_address: { protocol: 'TCP', address: '127.0.0.1', port_value: port } }, principal,
  });
  const body = raw.body !== undefined ? Buffer.from(raw.body) : undefined;
  return {
    attributes: {
      source: peer(40_000 + (i % 1000), ''),
      destination: peer(8443, 'localhost'),
      request: {
        http: {
          id: String(1e15 + i),
          method: raw.method,
          path: raw.path,
          host: 'localhost:8443',
          scheme: 'https',
          protocol: i % 2 === 0 ? 'HTTP/2' : 'HTTP/1.1',
          headers: {
            ':method': raw.method, ':path': raw.path, ':authority': 'localhost:8443', ':scheme': 'https',
            'x-forwarded-for': '192.0.2.2', 'x-forwarded-proto': 'https', 'x-envoy-external-address': raw.sourceIp,
            'x-request-id': raw.requestId,
            ...(body !== undefined ? { 'content-length': String(body.length), 'x-envoy-auth-partial-body': 'false' } : {}),
            ...raw.headers,
          },
          ...(body !== undefined ? { raw_body: body, size: body.length } : {}),
        },
      },
      metadata_context: { filter_metadata: {} },
      route_metadata_context: { filter_metadata: {} },
    },
  };
}

/** The response context an allowing CheckResponse carries (as Envoy reads its dynamic metadata). */
function okContext(res: unknown): string | undefined {
  const r = res as { ok_response?: unknown; dynamic_metadata?: { fields?: Record<string, { stringValue?: string }> } } | undefined;
  return r?.ok_response ? r.dynamic_metadata?.fields?.[METADATA_KEY]?.stringValue : undefined;
}

/** A free loopback port, found without node:cluster's sharing (`exclusive`). */
async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve);
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Per call: generous, so a busy machine slows the warm-up rather than failing it. */
const CALL_DEADLINE_MS = 10_000;

function check(client: grpc.Client, msg: unknown): Promise<unknown> {
  const c = client as unknown as { Check(m: unknown, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void): void };
  return new Promise((resolve, reject) => {
    c.Check(msg, { deadline: Date.now() + CALL_DEADLINE_MS }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Mem0-shaped answers per answer kind, some PHI and some another tenant's: what the stage filters. */
function answerBodies(tenant: string): Record<AnswerKind, unknown> {
  const memory = (k: number): Record<string, unknown> => ({
    id: randomUUID(), memory: '[warm-up]', user_id: k % 7 === 0 ? 'another-tenant:u1' : `${tenant}:u${k % 3}`,
    metadata: k % 5 === 0 ? { phi: true } : { source: 'warmup' }, created_at: new Date(0).toISOString(), updated_at: null,
  });
  return {
    memories: { results: Array.from({ length: 20 }, (_, k) => memory(k)) },
    memory: memory(1),
    history: Array.from({ length: 3 }, () => ({ id: randomUUID(), memory_id: randomUUID(), old_memory: null, new_memory: '[warm-up]', event: 'ADD' })),
    entities: Array.from({ length: 5 }, (_, k) => ({ id: `${k % 2 === 0 ? tenant : 'another-tenant'}:u${k}`, type: 'user', total_memories: 3, created_at: null, updated_at: null })),
    created: { results: [{ id: randomUUID(), memory: '[warm-up]', event: 'ADD' }] },
    none: null,
  };
}

/** One ext_proc stream as Envoy runs it for an allowed request: request headers with the
 * decision's context, Mem0's response headers, then its answer when the route buffers one. */
async function responseStream(client: grpc.Client, ctxText: string, answers: Record<AnswerKind, unknown>): Promise<void> {
  const ctx: ResponseContext | undefined = decodeContext(ctxText);
  const kind = answerKindOf(ctx?.route ?? '');
  const call = (client as unknown as { Process(o: grpc.CallOptions): grpc.ClientDuplexStream<unknown, unknown> }).Process({ deadline: Date.now() + CALL_DEADLINE_MS });
  // The replies in order; the stream's error (the deadline included) rejects the wait.
  const replies = call[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  const next = async (): Promise<{ immediate_response?: unknown }> => {
    const r = await replies.next();
    if (r.done === true) throw new Error('response stage stream ended before its answer');
    return r.value as { immediate_response?: unknown };
  };
  const metadata = { filter_metadata: { [METADATA_NAMESPACE]: { fields: { [METADATA_KEY]: { stringValue: ctxText }, ext_authz_duration: { numberValue: 1 } } } } };
  const headers = (h: Record<string, string>): unknown => ({ headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) });
  const answer = answers[kind];
  const body = answer === null ? undefined : Buffer.from(JSON.stringify(answer));
  try {
    call.write({ metadata_context: metadata, request_headers: { headers: headers({ ':method': ctx?.method ?? 'GET', ':path': ctx?.path ?? '/', ':authority': 'localhost:8443', ':scheme': 'https', 'x-request-id': ctx?.requestId ?? '' }), end_of_stream: true } });
    await next();
    call.write({ metadata_context: metadata, response_headers: { headers: headers({ ':status': '200', 'content-type': 'application/json', ...(body !== undefined ? { 'content-length': String(body.length) } : {}) }), end_of_stream: body === undefined } });
    const afterHeaders = await next();
    if (body !== undefined && afterHeaders.immediate_response === undefined) {
      call.write({ metadata_context: metadata, response_body: { body, end_of_stream: true } });
      await next();
    }
    call.end();
    // The server ends its side once ours is done.
    if ((await replies.next()).done !== true) throw new Error('response stage answered more than asked');
  } finally {
    call.cancel(); // no-op once ended; frees the stream on any failure above
  }
}

export async function warmUp(deps: WarmupDeps, opts: WarmupOptions = {}): Promise<WarmupReport> {
  const started = performance.now();
  const maxMs = opts.maxMs ?? 5_000;
  const total = opts.decisions ?? 800;
  const clock = deps.clock ?? Date.now;
  const failed: string[] = [];
  const log = deps.logger.child({ component: 'warmup' });

  // Connections opened and used once.
  try {
    await Promise.race([deps.redis.ping(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 2_000))]);
  } catch (err) {
    failed.push(`redis: ${(err as Error).message}`);
  }

  // JWT verification against a key of our own, with the service's claim mapping and algorithms.
  const alg = (['ES256', 'EdDSA', 'RS256', 'PS256', 'ES384'] as const).find((a) => deps.jwt.algorithms.includes(a)) ?? 'ES256';
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `warmup-${randomUUID()}`;
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-warmup-'));
  const perDecision: number[] = [];
  let done = 0;
  let streams = 0;
  try {
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }] }));
    const authenticator = createAuthenticator({
      ...deps.jwt,
      algorithms: [...new Set([...deps.jwt.algorithms, alg])],
      maxTokenAgeSeconds: 0,
      issuers: [{ issuer: WARMUP_ISSUER, keys: { kind: 'jwks_file', path: jwksFile } }],
    }, clock);
    const audience = deps.jwt.audience[0] ?? 'mem0-gov';
    const tokens: string[] = [];
    for (let i = 0; i < 24; i++) {
      const payload: Record<string, unknown> = { typ: 'Bearer', jti: randomUUID() };
      setClaim(payload, deps.jwt.claims.tenant, WARMUP_TENANT);
      setClaim(payload, deps.jwt.claims.realmRoles, i % 3 === 0 ? ['agent-reader'] : ['agent-writer']);
      setClaim(payload, deps.jwt.claims.agent, 'warmup-agent');
      const now = Math.floor(clock() / 1000);
      tokens.push(await new SignJWT(payload).setProtectedHeader({ alg, kid }).setIssuer(WARMUP_ISSUER).setAudience(audience)
        .setSubject(`warmup-${i % 8}`).setIssuedAt(now).setExpirationTime(now + 600).sign(privateKey));
    }

    const sink = scratchSink(`warmup:${deps.chainId}`);
    const decide = createPipeline({
      parse: { phiLabels: deps.phiLabels },
      authenticator,
      gate: deps.gate,
      owners: stubOwners,
      policy: deps.policy,
      audit: sink,
      logger: log,
      clock,
      quiet: true,
    });

    const T = WARMUP_TENANT;
    const memoryId = randomUUID();
    const json = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
    const shapes: ((token: string, i: number) => RawCheck)[] = [
      (t, i) => ({ method: 'GET', path: `/memories?user_id=${T}:u${i % 5}`, headers: { authorization: `Bearer ${t}` }, sourceIp: '127.0.0.1', requestId: `warmup-${i}` }),
      (t, i) => ({ method: 'GET', path: `/memories/${memoryId}`, headers: { authorization: `Bearer ${t}` }, sourceIp: '127.0.0.1', requestId: `warmup-${i}` }),
      (t, i) => ({ method: 'GET', path: `/memories/${memoryId}/history`, headers: { authorization: `Bearer ${t}` }, sourceIp: '127.0.0.1', requestId: `warmup-${i}` }),
      (t, i) => ({
        method: 'POST', path: '/search', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, sourceIp: '127.0.0.1', requestId: `warmup-${i}`,
        body: json({ query: 'preferences', filters: { user_id: `${T}:u1` }, top_k: 10 }),
      }),
      (t, i) => ({
        method: 'POST', path: '/memories', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, sourceIp: '127.0.0.1', requestId: `warmup-${i}`,
        body: json({ messages: [{ role: 'user', content: 'I like green tea' }], user_id: `${T}:u1`, metadata: { source: 'warmup' } }),
      }),
      (t, i) => ({
        method: 'PUT', path: `/memories/${memoryId}`, headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, sourceIp: '127.0.0.1', requestId: `warmup-${i}`,
        body: json({ text: 'likes tea' }),
      }),
      (t, i) => ({ method: 'DELETE', path: `/memories/${memoryId}`, headers: { authorization: `Bearer ${t}` }, sourceIp: '127.0.0.1', requestId: `warmup-${i}` }),
      (t, i) => ({ method: 'GET', path: '/memories?user_id=another-tenant:u1', headers: { authorization: `Bearer ${t}` }, sourceIp: '127.0.0.1', requestId: `warmup-${i}` }),
      (t, i) => ({ method: 'GET', path: '/entities', headers: { authorization: `Bearer ${t}` }, sourceIp: '127.0.0.1', requestId: `warmup-${i}` }),
      (_t, i) => ({ method: 'GET', path: `/memories?user_id=${T}:u1`, headers: {}, sourceIp: '127.0.0.1', requestId: `warmup-${i}` }),
      (t, i) => ({ method: 'GET', path: '/memories/../../etc', headers: { authorization: `Bearer ${t}` }, sourceIp: '127.0.0.1', requestId: `warmup-${i}` }),
    ];

    // The Envoy-facing path itself: a gRPC server of our own, with the same handlers as the real
    // one (startGrpcServer) but this quiet pipeline and response stage, and a client that sends
    // what Envoy sends — Check requests shaped like Envoy's (peers, pseudo-headers, raw body)
    // and, for each allowed one, an ext_proc stream with the decision's context as dynamic
    // metadata. Warming only `decide` left the protobuf decoders, grpc-js, HTTP/2 and the response
    // stage to be compiled by the first real traffic.
    try {
      // On a loopback TCP port: the socket type Envoy's traffic comes over. Picked free with an
      // exclusive probe, then bound by number: in a node:cluster worker, port 0 would be one port
      // shared round-robin with the other workers' warm-ups. Local processes could reach it for
      // these seconds: it trusts only the warm-up's own key, and writes and sends nothing.
      const loop = await startGrpcServer({
        host: '127.0.0.1', port: await freeLoopbackPort(), decide, logger: log,
        processor: { audit: sink, owners: stubOwners, phiLabels: deps.phiLabels, logger: log, clock, quiet: true },
      });
      const target = `127.0.0.1:${loop.port}`;
      const Authz = authorizationService();
      const Proc = externalProcessorService();
      const checkClient = new Authz(target, grpc.credentials.createInsecure());
      const procClient = new Proc(target, grpc.credentials.createInsecure());
      const answers = answerBodies(T);

      let burstStarted = performance.now();
      // Every worker waits out the same pause.
      let pause: Promise<void> = Promise.resolve();
      const concurrency = 8;
      const worker = async (w: number): Promise<void> => {
        for (let i = w; i < total; i += concurrency) {
          if (performance.now() - started > maxMs) return;
          const raw = shapes[i % shapes.length]!(tokens[i % tokens.length]!, i);
          const t0 = performance.now();
          try {
            const res = await check(checkClient, envoyCheckRequest(raw, i));
            const ctx = okContext(res);
            if (ctx !== undefined) {
              await responseStream(procClient, ctx, answers);
              streams++;
            }
          } catch (err) {
            if (failed.length < 5) failed.push(`decision: ${(err as Error).message}`);
          }
          perDecision.push(performance.now() - t0);
          done++;
          // Let the ports (health checks, early requests) and other processes breathe: after every 50
          // decisions, pause as long as they took, up to 100 ms (about half a core). A replica starting beside
          // serving ones (a rolling restart, same node) would otherwise take their CPU for a second
          // and their answers would queue; not SERVING yet, it loses only that much more start time.
          if (done % 50 === 0) {
            const busy = performance.now() - burstStarted;
            pause = new Promise<void>((r) => setTimeout(r, Math.min(busy, 100))).then(() => { burstStarted = performance.now(); });
          }
          await pause;
        }
      };
      try {
        await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
      } finally {
        checkClient.close();
        procClient.close();
        await loop.shutdown(1_000);
      }
    } catch (err) {
      failed.push(`loopback: ${(err as Error).message}`);
    }

    // The writer's COPY path against the real table, rolled back: nothing is stored.
    try {
      const c = await connect(deps.pgUrl, `mem0gov-warmup:${deps.chainId}`);
      try {
        await c.query('BEGIN');
        await copyEncodedRows(c, encodeCopyRows(sink.rows.slice(0, 200)));
        await c.query('ROLLBACK');
        // The pg client's protocol path (parse, bind, results, ready-for-query) beyond one COPY.
        for (let k = 0; k < 300; k++) await c.query({ name: 'mem0gov-warmup', text: 'SELECT $1::bigint AS seq, $2::text AS hash', values: [k, GENESIS_HASH] });
      } finally {
        await c.end().catch(() => undefined);
      }
    } catch (err) {
      failed.push(`postgres: ${(err as Error).message}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const tenth = Math.max(1, Math.floor(perDecision.length / 10));
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    decisions: done,
    streams,
    ms: performance.now() - started,
    firstMs: mean(perDecision.slice(0, tenth)),
    lastMs: mean(perDecision.slice(-tenth)),
    failed,
  };
}

// Warm before SERVING (docs/DESIGN.md "Availability"): before the service reports SERVING, it
// runs its hot paths enough times that the first real requests after a start or a rollout see
// the latency of later ones. Nothing here reaches Mem0, writes an audit row or counts in the
// metrics:
//   - the real pipeline code (createPipeline, quiet) with the real policy engine, the real gate
//     (real Redis: calls for the reserved tenant `mem0gov-warmup`, whose rate-limit keys expire
//     by themselves; no session key, no grant), the real JWT verification (jose) against a key
//     pair made here for a synthetic issuer, an owner lookup stand-in (no call to Mem0), and an
//     audit sink that seals, hashes and encodes every row like the writer but stores nothing;
//   - the response stage's filtering and outcome rows on a synthetic answer;
//   - the gRPC messages both ways (protobuf encode/decode of CheckRequest and CheckResponse);
//   - one COPY of sealed rows into audit.events on a connection of its own, rolled back (the
//     writer's COPY path, the partition routing, PostgreSQL's plan), and a Redis PING.
// Warm-up failures are logged and never stop the start: a cold path is slower, not wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
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
import { checkResponse } from './grpc/server.js';
import { authorizationService } from './grpc/protos.js';
import { decodeContext } from './response/context.js';
import { filterAnswer } from './response/answer.js';
import { outcomeRow } from './record.js';
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

  // The gRPC messages both ways, through the same (de)serializers the server uses.
  const def = authorizationService().service as unknown as Record<string, {
    requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): unknown; responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown;
  }>;
  const check = def.Check!;
  const grpcRoundTrip = (raw: RawCheck, verdict: Parameters<typeof checkResponse>[0]): void => {
    const msg = {
      attributes: {
        source: { address: { socket_address: { address: raw.sourceIp } } },
        request: { http: { method: raw.method, path: raw.path, headers: { ...raw.headers, 'x-request-id': raw.requestId }, ...(raw.body ? { raw_body: Buffer.from(raw.body) } : {}) } },
      },
    };
    check.requestDeserialize(check.requestSerialize(msg));
    check.responseDeserialize(check.responseSerialize(checkResponse(verdict)));
  };

  const answer = {
    results: Array.from({ length: 20 }, (_, k) => ({
      id: randomUUID(), memory: '[warm-up]', user_id: k % 7 === 0 ? 'another-tenant:u1' : `${T}:u${k % 3}`,
      metadata: k % 5 === 0 ? { phi: true } : { source: 'warmup' }, created_at: new Date(0).toISOString(),
    })),
  };
  const perDecision: number[] = [];
  let done = 0;
  let burstStarted = performance.now();
  // Every worker waits out the same pause.
  let pause: Promise<void> = Promise.resolve();
  const concurrency = 4;
  const worker = async (w: number): Promise<void> => {
    for (let i = w; i < total; i += concurrency) {
      if (performance.now() - started > maxMs) return;
      const raw = shapes[i % shapes.length]!(tokens[i % tokens.length]!, i);
      const t0 = performance.now();
      try {
        const o = await decide(raw);
        grpcRoundTrip(raw, o.verdict);
        if (o.verdict.allowed) {
          const ctx = decodeContext(o.verdict.dynamicMetadata.ctx);
          if (ctx !== undefined) {
            const f = filterAnswer({ kind: 'memories', body: JSON.parse(JSON.stringify(answer)) as unknown, rules: ctx.answer, phiLabels: deps.phiLabels, writePhi: false });
            await sink.append(outcomeRow(ctx, {
              upstreamStatus: 200, status: 200, reasons: [], latencyMs: 1, phiReleased: f.phiReleased, returned: f.returned,
              returnedIds: f.returnedIds, withheldPhi: f.withheldPhi, withheldCrossTenant: f.withheldCrossTenant,
            }, clock()));
          }
        }
      } catch (err) {
        if (failed.length < 5) failed.push(`decision: ${(err as Error).message}`);
      }
      perDecision.push(performance.now() - t0);
      done++;
      // Let the ports (health checks, early requests) and other processes breathe: after every 50
      // decisions, pause as long as they took (half a core at most). A replica starting beside
      // serving ones (a rolling restart, same node) would otherwise take their CPU for a second
      // and their answers would queue; not SERVING yet, it loses only that much more start time.
      if (done % 50 === 0) {
        const busy = performance.now() - burstStarted;
        pause = new Promise<void>((r) => setTimeout(r, Math.min(busy, 100))).then(() => { burstStarted = performance.now(); });
      }
      await pause;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));

  // The writer's COPY path against the real table, rolled back: nothing is stored.
  try {
    const c = await connect(deps.pgUrl, `mem0gov-warmup:${deps.chainId}`);
    try {
      await c.query('BEGIN');
      await copyEncodedRows(c, encodeCopyRows(sink.rows.slice(0, 200)));
      await c.query('ROLLBACK');
    } finally {
      await c.end().catch(() => undefined);
    }
  } catch (err) {
    failed.push(`postgres: ${(err as Error).message}`);
  }
  rmSync(dir, { recursive: true, force: true });

  const tenth = Math.max(1, Math.floor(perDecision.length / 10));
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    decisions: done,
    ms: performance.now() - started,
    firstMs: mean(perDecision.slice(0, tenth)),
    lastMs: mean(perDecision.slice(-tenth)),
    failed,
  };
}

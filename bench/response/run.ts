// Response stage latency: what Envoy's ext_proc filter (the response stage: answer filtering,
// content rules, the outcome row) adds to a request, as the client sees it. One stack (Mem0
// stand-in, the real authz service, redis-server, PostgreSQL) behind two Envoys:
//   A — the committed envoy/envoy.yaml (ext_authz + ext_proc);
//   B — the same config rendered without the ext_proc filter and its per-route configs
//       (envoy/render.ts `withoutResponseStage`, bench/test only).
// Requests alternate A B A B … over one kept-alive TLS connection per Envoy, after a warm-up, for
// a 20-memory search, a write (`infer: false`, one message) and the same write for a tenant with
// content rules `mask` (the request body makes the extra round trip to the stage). Prints p50,
// p90, p99 and mean of each, the added p50 and the ratios with/without — all measured in the same
// run — and what the machine is. Asserts nothing about speed (it checks the answers are right).
//   npx tsx bench/response/run.ts [requests-per-Envoy-per-type=400]
// MEM0_GOV_AUDIT_BATCH_MS in the environment reaches authz (default 0: an idle writer commits at
// once); set it to see what a group-commit window costs one request at a time (each durable row,
// the outcome row included, waits for it).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { mem0UpstreamFromUrl } from '../../envoy/render.js';
import { startEnvoy, type RunningEnvoy } from '../../testing/envoy.js';
import { startStack, type Stack } from '../../testing/stack.js';
import { ROOT } from '../../testing/tools.js';

/** Same budget on both Envoys (the test stacks' ext_authz timeout, not the shipped 0.25 s). */
const AUTHZ_TIMEOUT = '2s';
const WARMUP = 50;
const SEARCH_MEMORIES = 20;
const SEARCH_USER = 'acme:bench';
const SEARCH_QUERY = 'customer prefers green tea';
const MASK_TENANT = 'maskbench';

/** One Envoy as the client sees it: its base URL and a keep-alive agent trusting its CA. */
interface Target { name: string; port: number; agent: Agent }

interface Reply { status: number; body: string; ms: number }

/** One HTTPS request over the target's kept-alive connection; the time is send → last byte. */
function timed(t: Target, method: string, path: string, token: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const req = httpsRequest({
      host: '127.0.0.1', port: t.port, path, method, headers, agent: t.agent, servername: 'localhost', timeout: 10_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${t.name} ${method} ${path}: timeout`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

export interface Summary { p50: number; p90: number; p99: number; mean: number; n: number }

/** Nearest-rank percentiles and the mean of a sample (ms). */
export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) throw new Error('empty sample');
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { p50: rank(50), p90: rank(90), p99: rank(99), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

interface Case {
  title: string;
  /** What the response stage does on this request (one line). */
  stage: string;
  method: string;
  path: string;
  token: string;
  body: (i: number) => unknown;
  /** Throws unless the answer is what this case must get (so a broken setup is not measured). */
  check: (r: Reply, system: 'with' | 'without') => void;
}

/** Warm-up, then N alternating rounds A B A B …; the latencies of each system. */
async function measure(c: Case, a: Target, b: Target, n: number, seq: { i: number }): Promise<{ with: number[]; without: number[] }> {
  const out = { with: [] as number[], without: [] as number[] };
  for (let round = 0; round < WARMUP + n; round++) {
    for (const [t, system] of [[a, 'with'], [b, 'without']] as const) {
      const r = await timed(t, c.method, c.path, c.token, c.body(seq.i++));
      c.check(r, system);
      if (round >= WARMUP) out[system].push(r.ms);
    }
  }
  return out;
}

const ms = (x: number): string => `${x.toFixed(2)} ms`;

function report(c: Case, r: { with: number[]; without: number[] }): void {
  const w = summarize(r.with);
  const wo = summarize(r.without);
  console.log(`\n${c.title}`);
  console.log(`  response stage: ${c.stage}`);
  console.log(`  ${''.padEnd(24)}${['p50', 'p90', 'p99', 'mean'].map((h) => h.padStart(11)).join('')}`);
  for (const [label, s] of [['with (ext_authz+ext_proc)', w], ['without (ext_authz only)', wo]] as const) {
    console.log(`  ${label.padEnd(24)}${[s.p50, s.p90, s.p99, s.mean].map((x) => ms(x).padStart(11)).join('')}`);
  }
  console.log(`  added p50: ${(w.p50 - wo.p50 >= 0 ? '+' : '')}${ms(w.p50 - wo.p50)}   ratio with/without: p50 ${(w.p50 / wo.p50).toFixed(2)}, mean ${(w.mean / wo.mean).toFixed(2)}   (${w.n} + ${wo.n} requests)`);
}

function expectStatus(r: Reply, want: number, what: string): void {
  if (r.status !== want) throw new Error(`${what}: status ${r.status}, want ${want}: ${r.body.slice(0, 300)}`);
}

export async function runResponseBench(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-bench-response-'));
  let stack: Stack | undefined;
  let bare: RunningEnvoy | undefined;
  let db: pg.Client | undefined;
  const agents: Agent[] = [];
  const batchMs = process.env.MEM0_GOV_AUDIT_BATCH_MS;
  try {
    // Policy data: the shipped file plus one tenant whose writes are masked.
    const data = JSON.parse(readFileSync(join(ROOT, 'policies', 'data.json'), 'utf8')) as { mem0gov: { tenants: Record<string, unknown> } };
    data.mem0gov.tenants = { [MASK_TENANT]: { content_rules: { mode: 'mask', detectors: ['email', 'ssn'], custom: [] } } };
    const dataFile = join(dir, 'data.json');
    writeFileSync(dataFile, JSON.stringify(data));

    stack = await startStack({
      stateDir: join(dir, 'stack'),
      authzTimeout: AUTHZ_TIMEOUT,
      // The bench sends far more than a real caller's 600/min; limits are not what is measured.
      env: {
        MEM0_GOV_POLICY_DATA: dataFile, MEM0_GOV_LIMIT_DEFAULT: '1000000/m', MEM0_GOV_LIMIT_TENANT_DEFAULT: '1000000/m',
        ...(batchMs !== undefined ? { MEM0_GOV_AUDIT_BATCH_MS: batchMs } : {}),
      },
    });
    const mem0 = stack.mem0!;
    const up = mem0UpstreamFromUrl(stack.mem0Url);
    // B: the same authz and Mem0, the committed config without the response stage.
    bare = await startEnvoy({
      authzGrpcPort: stack.authz.grpcPort, authzHttpPort: stack.authz.httpPort,
      mem0Host: up.host, mem0Port: up.port, variant: 'grpc', authzTimeout: AUTHZ_TIMEOUT,
      workDir: join(dir, 'envoy-without'), withoutResponseStage: true,
    });
    const target = (name: string, e: RunningEnvoy): Target => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(e.caFile) });
      agents.push(agent);
      return { name, port: e.port, agent };
    };
    const A = target('with', stack.envoy);
    const B = target('without', bare);

    for (let i = 0; i < SEARCH_MEMORIES; i++) {
      mem0.seed({ memory: `Bench note ${i}: the customer prefers green tea in the morning`, user_id: SEARCH_USER });
    }
    const acme = await stack.token({ tenant: 'acme', sub: 'bench', roles: ['agent-writer'], ttl: 3600 });
    const masked = await stack.token({ tenant: MASK_TENANT, sub: 'bench', roles: ['agent-writer'], ttl: 3600 });

    let searchBytes = 0;
    const search: Case = {
      title: `search, ${SEARCH_MEMORIES} memories (POST /search, top_k ${SEARCH_MEMORIES}, threshold 0)`,
      stage: 'Envoy buffers Mem0\'s answer; the stage filters it (tenant, PHI) and appends the outcome row (durable) before releasing it',
      method: 'POST', path: '/search', token: acme,
      body: () => ({ query: SEARCH_QUERY, filters: { user_id: SEARCH_USER }, top_k: SEARCH_MEMORIES, threshold: 0 }),
      check: (r, system) => {
        expectStatus(r, 200, `search ${system}`);
        const got = (JSON.parse(r.body) as { results: unknown[] }).results.length;
        if (got !== SEARCH_MEMORIES) throw new Error(`search ${system}: ${got} memories, want ${SEARCH_MEMORIES}`);
        searchBytes = Buffer.byteLength(r.body);
      },
    };
    const write: Case = {
      title: 'write (POST /memories, infer: false, one user message), tenant without content rules',
      stage: 'request body not sent (no content rules: the stage turns it off); Envoy buffers Mem0\'s answer (what was added), the stage appends the outcome row before releasing it',
      method: 'POST', path: '/memories', token: acme,
      body: (i) => ({ messages: [{ role: 'user', content: `I like tea, note ${i}` }], user_id: 'acme:bench-writer', infer: false }),
      check: (r, system) => expectStatus(r, 200, `write ${system}`),
    };
    const maskWrite: Case = {
      title: `write as above, tenant "${MASK_TENANT}" with content rules mask (email, ssn)`,
      stage: 'as the write above, plus the request body round trip: the stage masks e-mail and SSN in the message before Mem0 sees it',
      method: 'POST', path: '/memories', token: masked,
      body: (i) => ({ messages: [{ role: 'user', content: `Reach me at jane.doe+${i}@example.com, my SSN is 536-22-1234` }], user_id: `${MASK_TENANT}:writer`, infer: false }),
      check: (r, system) => {
        expectStatus(r, 200, `masked write ${system}`);
        // Through A the stand-in stores the masked text; through B (no stage) the text as sent.
        const text = (JSON.parse(r.body) as { results: { memory: string }[] }).results[0]?.memory ?? '';
        const isMasked = text.includes('[EMAIL]') && text.includes('[SSN]') && !text.includes('@example.com');
        if (isMasked !== (system === 'with')) throw new Error(`masked write ${system}: stored ${JSON.stringify(text)}`);
      },
    };

    const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
    console.log(`response stage bench: ${n} requests per Envoy per case after ${WARMUP} warm-up each, alternating A B A B …`);
    console.log('  A = envoy/envoy.yaml (ext_authz + ext_proc), B = the same rendering without ext_proc (envoy/render.ts withoutResponseStage)');
    console.log('  one client, one kept-alive HTTP/1.1 TLS connection per Envoy, one request at a time; same authz, Redis, PostgreSQL, Mem0 stand-in, token');
    console.log(`audit group commit window: MEM0_GOV_AUDIT_BATCH_MS=${batchMs ?? '0 (default: commit at once when idle)'}; one request at a time, so each durable row (decision, outcome) waits for any window`);
    console.log(`machine: ${availableParallelism()} cores (${model}), node ${process.version}; everything (client, 2 Envoys, authz, Redis, PostgreSQL, stand-in) shares them`);

    const seq = { i: 0 };
    const sent = { a: 0 };
    for (const c of [search, write, maskWrite]) {
      const r = await measure(c, A, B, n, seq);
      sent.a += WARMUP + n;
      report(c, r);
      if (c === search) console.log(`  answer: ${SEARCH_MEMORIES} memories, ${searchBytes.toLocaleString('en')} bytes of JSON`);
    }

    // The stage did run on A and only on A: one outcome row per request through A.
    db = new pg.Client(stack.pgOwnerUrl);
    await db.connect();
    const rows = Number((await db.query("SELECT count(*) AS n FROM audit.events WHERE kind = 'outcome'")).rows[0].n);
    console.log(`\noutcome rows in the audit chain: ${rows.toLocaleString('en')} for ${sent.a.toLocaleString('en')} requests through A (none for B)`);
    if (rows !== sent.a) throw new Error(`expected ${sent.a} outcome rows, found ${rows}`);
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    for (const a of agents) a.destroy();
    await db?.end().catch(() => undefined);
    await bare?.stop().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const n = Number(process.argv[2] ?? 400);
  if (!Number.isInteger(n) || n < 1) {
    console.error('usage: npx tsx bench/response/run.ts [requests-per-Envoy-per-type=400]');
    process.exit(64);
  }
  await runResponseBench(n);
}

// MEM0_GOV_WORKERS=2: the real entry (`node --import tsx authz/src/main.ts`) as a primary and two
// workers sharing one gRPC and one HTTP port, against real Redis and PostgreSQL, behind the real
// Envoy with the shipped config (test budgets). Both workers decide checks (each on its own audit
// chain `<chain>-w0` / `-w1`), every chain verifies, /metrics sums the group, a worker killed
// with SIGKILL comes back with the same chain, and SIGTERM drains the group losing no check.
import { request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type AuthzProcess, type Stack } from '../../../../testing/stack.js';
import { checkAudit } from '../../../../testing/audit-check.js';
import { loadClient, mixed, openLoop, type LoadClient, type LoadResult } from '../../../../testing/load.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, freePort, waitFor } from '../../../../testing/tools.js';
import { authorizationService } from '../../../src/grpc/protos.js';
import { threadNices } from '../../../../testing/threads.js';

let stack: Stack;
let authz: AuthzProcess;
let client: LoadClient;
let toks: string[];
let chain0 = '';
let chain1 = '';

beforeAll(async () => {
  stack = await startStack({
    authzProcesses: 1,
    logLevel: 'info',
    env: {
      MEM0_GOV_WORKERS: '2',
      MEM0_GOV_DRAIN_SECONDS: '3',
      MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS: '1',
      MEM0_GOV_LIMIT_DEFAULT: '1000000/m',
      MEM0_GOV_LIMIT_TENANT_DEFAULT: '10000000/m',
    },
  });
  authz = stack.replicas[0]!;
  chain0 = `${authz.chainId}-w0`;
  chain1 = `${authz.chainId}-w1`;
  await waitFor('both workers ready', async () => readyWorkers().size === 2, 60_000, 100);
  toks = await Promise.all(Array.from({ length: 10 }, (_, k) => stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: `w-${k}`, ttl: 3600 })));
  client = loadClient(stack.envoy.baseUrl, stack.envoy.caFile, { sessions: 8 });
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

/** worker index → pid, from the primary's "worker ready" lines (the latest per index). */
function readyWorkers(): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of authz.output().split('\n')) {
    if (!line.includes('"msg":"worker ready"')) continue;
    const j = JSON.parse(line) as { worker: number; pid: number };
    out.set(j.worker, j.pid);
  }
  return out;
}

async function query<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client(stack.pgOwnerUrl);
  await c.connect();
  try {
    return (await c.query<T>(sql, values)).rows;
  } finally {
    await c.end();
  }
}

/** Decision rows per chain for these request ids. */
async function chainsOf(requestIds: readonly string[]): Promise<Map<string, number>> {
  const rows = await query<{ chain_id: string; n: string }>(
    "SELECT chain_id, count(*) AS n FROM audit.events WHERE kind = 'decision' AND request_id = ANY($1::text[]) GROUP BY chain_id", [requestIds]);
  return new Map(rows.map((r) => [r.chain_id, Number(r.n)]));
}

/** A GET on a new TCP connection (no keep-alive): cluster hands each connection to the next worker. */
function freshGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: authz.httpPort, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function decisionsTotal(text: string): number {
  let sum = 0;
  for (const m of text.matchAll(/^mem0gov_decisions_total\{[^}]*\} (\d+)$/gm)) sum += Number(m[1]);
  return sum;
}

/** `n` ext_authz Checks, each on a new gRPC connection (a new channel). */
async function directChecks(n: number, tag: string): Promise<string[]> {
  const Authz = authorizationService();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${tag}-${i}-${performance.now().toFixed(3)}`;
    const c = new Authz(`127.0.0.1:${authz.grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    await new Promise<void>((res, rej) => c.Check!({ attributes: { request: { http: { method: 'GET', path: '/memories', headers: { 'x-request-id': id } } } } },
      (e: Error | null) => (e ? rej(e) : res())));
    c.close();
    ids.push(id);
  }
  return ids;
}

async function verifyChains(): Promise<{ chain: string; rows: number; problem: string | null }[]> {
  const a = await checkAudit(stack.pgOwnerUrl, []);
  return a.chains.filter((c) => c.chain === chain0 || c.chain === chain1);
}

describe('MEM0_GOV_WORKERS=2: one port, two processes', () => {
  it('new connections are answered by both workers, each recording on its own chain', async () => {
    const ids = await directChecks(8, 'direct');
    const chains = await chainsOf(ids);
    expect([...chains.keys()].sort()).toEqual([chain0, chain1]);
    expect([...chains.values()].reduce((a, b) => a + b, 0)).toBe(8);
  });

  it('through the real Envoy, steady traffic does not stay on one connection: it is replaced every 1000 requests', { timeout: 90_000 }, async () => {
    const replaced = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${stack.envoy.adminPort}/stats?filter=^cluster\\.mem0_gov_authz\\.upstream_cx_max_requests$`)).text();
      return Number(/upstream_cx_max_requests: (\d+)/.exec(text)?.[1] ?? NaN);
    };
    const before = await replaced();
    expect(before).not.toBeNaN();
    // Runs before the burst below, so Envoy holds few connections to authz. How many it opens
    // depends on how many streams are in flight (a loaded machine: more), so traffic runs until
    // one connection reached its 1,000 requests (~1,600 streams per 1,000 checks), at most 40 s.
    const results: LoadResult[] = [];
    const epoch = performance.now();
    while ((await replaced()) === before && performance.now() - epoch < 40_000) {
      results.push(...await openLoop(client, { rate: 250, durationMs: 2_000, make: mixed(toks), epoch }));
    }
    expect(await replaced()).toBeGreaterThan(before);
    expect(results.filter((r) => r.by === 'none').length).toBe(0);
    const a = await checkAudit(stack.pgOwnerUrl, results);
    expect(a.problems.slice(0, 5)).toEqual([]);
  });

  it('through the real Envoy (shipped cluster settings), both workers decide checks', async () => {
    // More checks in flight than one upstream connection carries (16 streams): Envoy opens more
    // connections, and the cluster hands them to the workers in turn.
    const make = mixed(toks);
    const t0 = performance.now();
    const burst = await Promise.all(Array.from({ length: 160 }, (_, i) => client.send(make(i), i, t0)));
    expect(burst.filter((r) => r.by === 'none').length).toBe(0);
    const chains = await chainsOf(burst.map((r) => r.requestId));
    expect(chains.get(chain0) ?? 0, JSON.stringify([...chains])).toBeGreaterThan(0);
    expect(chains.get(chain1) ?? 0, JSON.stringify([...chains])).toBeGreaterThan(0);
    const a = await checkAudit(stack.pgOwnerUrl, burst);
    expect(a.problems.slice(0, 5)).toEqual([]);
  });

  it("each worker's helper threads (V8's, Node's, libuv's pool) run at nice +10 (MEM0_GOV_HELPER_THREADS_NICE's default); its main thread at the process's own", () => {
    for (const pid of readyWorkers().values()) {
      const threads = threadNices(pid);
      const own = threads.find((t) => t.tid === pid)!.nice;
      const lowered = Math.min(19, own + 10);
      expect(lowered, 'a CI runner at nice 19 proves nothing here').toBeGreaterThan(own);
      expect(threads.filter((t) => t.nice === lowered).length, `worker ${pid}: ${JSON.stringify(threads)}`).toBeGreaterThanOrEqual(4);
      expect(threads.every((t) => t.nice === own || t.nice === lowered)).toBe(true);
    }
  });

  it('each worker warmed up through its own loopback server (workers never answer each other\'s warm-up)', () => {
    const lines = authz.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; worker?: number; warmup?: { decisions: number; streams: number } });
    expect(lines.filter((l) => l.msg?.startsWith('warm-up incomplete'))).toEqual([]);
    const ready = lines.filter((l) => l.msg === 'mem0-gov authz ready');
    expect(new Set(ready.map((l) => l.worker))).toEqual(new Set([0, 1]));
    for (const l of ready) {
      expect(l.warmup!.decisions, `worker ${l.worker}`).toBeGreaterThanOrEqual(100);
      expect(l.warmup!.streams, `worker ${l.worker}`).toBeGreaterThan(l.warmup!.decisions / 4);
    }
  });

  it('/metrics on either worker shows the whole group: decisions sum across workers', async () => {
    const before = await freshGet('/metrics');
    expect(before.status).toBe(200);
    const ids = await directChecks(6, 'metrics');
    expect((await chainsOf(ids)).size).toBe(2); // both workers counted some
    // Several fresh connections: whichever worker answers, the sum is the same.
    const afters = await Promise.all(Array.from({ length: 4 }, () => freshGet('/metrics')));
    for (const a of afters) {
      expect(a.status).toBe(200);
      expect(decisionsTotal(a.body) - decisionsTotal(before.body)).toBe(6);
      // Gauges keep their meaning: every worker reaches Redis and PostgreSQL → 1, not 2.
      expect(a.body).toMatch(/^mem0gov_dependency_up\{dependency="redis"\} 1$/m);
    }
  });

  it('every chain verifies; the in-service verifier loop runs in worker 0 only and covers both chains', async () => {
    expect((await chainsOf(await directChecks(4, 'verify'))).size).toBe(2);
    const chains = await verifyChains();
    expect(chains.map((c) => c.chain).sort()).toEqual([chain0, chain1]);
    for (const c of chains) expect(c.problem, c.chain).toBeNull();
    let rows: { chain_id: string; verifier: string; ok: boolean }[] = [];
    await waitFor('both chains verified by the service', async () => {
      rows = await query('SELECT chain_id, verifier, ok FROM audit.chain_status WHERE chain_id = ANY($1::text[])', [[chain0, chain1]]);
      return rows.length === 2;
    }, 20_000, 200);
    await new Promise((r) => setTimeout(r, 2_500)); // a few more rounds (every 1 s)
    rows = await query('SELECT chain_id, verifier, ok FROM audit.chain_status WHERE chain_id = ANY($1::text[])', [[chain0, chain1]]);
    expect(rows.every((r) => r.ok)).toBe(true);
    expect([...new Set(rows.map((r) => r.verifier))]).toEqual([`service:${chain0}`]);
  });

  it('a worker killed with SIGKILL is started again with the same index and chain; its chain continues and verifies', async () => {
    const before = readyWorkers();
    const victim = before.get(1)!;
    const seqBefore = await query<{ seq: string }>('SELECT max(seq)::text AS seq FROM audit.events WHERE chain_id = $1', [chain1]);
    process.kill(victim, 'SIGKILL');
    await waitFor('worker 1 started again', async () => {
      const pid = readyWorkers().get(1);
      return pid !== undefined && pid !== victim;
    }, 60_000, 100);
    expect(authz.output()).toContain('worker ended unexpectedly');
    const metrics = await freshGet('/metrics');
    expect(metrics.body).toMatch(/^mem0gov_worker_restarts_total\{worker="1"\} 1$/m);
    // New checks land on both workers again, the restarted one on its old chain.
    let ids: string[] = [];
    await waitFor('both chains get new rows', async () => {
      ids = ids.concat(await directChecks(4, 'after-kill'));
      return (await chainsOf(ids)).size === 2;
    }, 30_000, 0);
    const seqAfter = await query<{ seq: string }>('SELECT max(seq)::text AS seq FROM audit.events WHERE chain_id = $1', [chain1]);
    expect(Number(seqAfter[0]!.seq)).toBeGreaterThan(Number(seqBefore[0]!.seq));
    for (const c of await verifyChains()) expect(c.problem, c.chain).toBeNull();
  });

  it('SIGTERM drains the group: NOT_SERVING on every worker, in-flight and drain-time checks answered and recorded, exit 0', async () => {
    const results: LoadResult[] = [];
    let stop = false;
    const epoch = performance.now();
    const load = (async () => {
      while (!stop) results.push(...await openLoop(client, { rate: 60, durationMs: 500, make: mixed(toks), epoch }));
    })();
    await new Promise((r) => setTimeout(r, 700));
    authz.signal('SIGTERM');
    // Fresh connections go to each worker in turn: all of them say NOT_SERVING / not ready.
    await waitFor('every worker NOT_SERVING', async () => {
      const rs = await Promise.all(Array.from({ length: 4 }, () => freshGet('/serving').catch(() => ({ status: 0, body: '' }))));
      return rs.every((r) => r.status === 503);
    }, 2_500, 20);
    const health = await grpcHealth();
    expect(health).toBe('NOT_SERVING');
    expect(await authz.exited()).toBe(0);
    stop = true;
    await load;
    expect(authz.output()).toContain('"msg":"draining"');
    expect(authz.output()).toContain('"msg":"stopped"');
    // Every check authz answered (allow or its own denial) has its decision row: nothing lost.
    const answeredByAuthz = results.filter((r) => r.by === 'mem0' || r.by === 'authz');
    expect(answeredByAuthz.length).toBeGreaterThan(30);
    const a = await checkAudit(stack.pgOwnerUrl, answeredByAuthz);
    expect(a.problems.slice(0, 5)).toEqual([]);
    for (const c of await verifyChains()) expect(c.problem, c.chain).toBeNull();
  });
});

async function grpcHealth(): Promise<string> {
  const healthProto = (await import('grpc-health-check')).protoPath;
  const loader = await import('@grpc/proto-loader');
  const health = grpc.loadPackageDefinition(loader.loadSync(healthProto, { enums: String })) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  const c = new health.grpc.health.v1.Health(`127.0.0.1:${authz.grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  try {
    return await new Promise<string>((res, rej) => c.check!({ service: 'envoy.service.auth.v3.Authorization' }, (e: Error | null, r: { status: string }) => (e ? rej(e) : res(r.status))));
  } finally {
    c.close();
  }
}


const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
const MAIN = join(ROOT, 'authz', 'src', 'main.ts');

function runMain(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', TSX, MAIN], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((r) => child.on('exit', (code) => r({ code, output })));
}

describe('the primary refuses what its workers could not run', () => {
  const base = { MEM0_GOV_JWT_ISSUERS: 'https://idp.example/realms/mem0' };
  it.each([
    [{ MEM0_GOV_WORKERS: '0' }, 'MEM0_GOV_WORKERS'],
    [{ MEM0_GOV_WORKERS: '65' }, 'MEM0_GOV_WORKERS'],
    // Valid alone, but `-w1` makes it 129 characters: no worker could open its chain.
    [{ MEM0_GOV_WORKERS: '2', MEM0_GOV_AUDIT_CHAIN_ID: 'c'.repeat(126) }, 'MEM0_GOV_AUDIT_CHAIN_ID'],
    [{ MEM0_GOV_WORKERS: '2', MEM0_GOV_GRPC_PORT: 'ninety' }, 'MEM0_GOV_GRPC_PORT'],
  ])('%j → exits 78 naming %s, before forking', async (bad, variable) => {
    const r = await runMain({ ...base, ...bad });
    expect(r.code).toBe(78);
    expect(r.output).toContain(`${variable}:`);
    expect(r.output).not.toContain('worker ready');
  });

  it('a worker that cannot start stops the group: exit 1, as one process would', async () => {
    // PostgreSQL unreachable and no spool allowed: the audit chain cannot open.
    const r = await runMain({
      ...base, MEM0_GOV_WORKERS: '2', MEM0_GOV_AUDIT_SPOOL: 'false', MEM0_GOV_AUDIT_CHAIN_ID: `nostart-${process.pid}`,
      MEM0_GOV_PG_URL: `postgres://mem0gov_writer@127.0.0.1:${await freePort()}/mem0gov`,
      MEM0_GOV_GRPC_HOST: '127.0.0.1', MEM0_GOV_GRPC_PORT: String(await freePort()),
      MEM0_GOV_HTTP_HOST: '127.0.0.1', MEM0_GOV_HTTP_PORT: String(await freePort()),
    });
    expect(r.code).toBe(1);
    expect(r.output).toContain('worker could not start: stopping the group');
  }, 60_000);
});

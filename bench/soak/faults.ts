// Availability under faults, through the real Envoy with the shipped budgets (ext_authz 250 ms,
// ext_proc 1 s): a steady open-loop load of mixed allowed and denied requests while a fault is
// injected, then what the clients saw (2xx share of allowed requests, who answered, latency) and
// whether the audit trail matches it (testing/audit-check.ts: every answered decision stored with
// the status the client got, nothing claimed answered that was not, nothing twice, chains valid).
// authz runs as separate processes of the compiled JavaScript (`npm run build:js`, what the image
// runs: `node dist/authz/main.js`), as deployed; AUTHZ=tsx runs the TypeScript sources instead.
//
//   npx tsx bench/soak/faults.ts [scenario …]    scenarios: cold pg-stop pg-lock redis-stop flood rolling kill
//   (default: all). RATE=300 requests/s, FAULT_MS=5000, CHECKS_IN_FLIGHT: Envoy's bound for the
//   flood (default 16: one authz process, sized as documented), CAPACITY: skip measuring it (req/s),
//   MEM0_GOV_HELPER_THREADS_NICE: passed to authz (default: the service's, 10).
//
// Prints one block per scenario with its goal (from the issue) and whether this run met it.
// Asserts nothing; numbers depend on the machine (printed at the end).
import { cpus, loadavg } from 'node:os';
import { startStack, type Stack } from '../../testing/stack.js';
import { latency, loadClient, mixed, openLoop, openLoopInWorker, startLoadWorker, tally, type LoadClient, type LoadResult } from '../../testing/load.js';
import { checkAudit } from '../../testing/audit-check.js';
import { waitFor } from '../../testing/tools.js';
import { h2load } from '../../testing/h2load.js';
import { CHECK_COUNTERS, counted } from '../../testing/envoy.js';
import pg_ from 'pg';

const PgClient = pg_.Client;

const RATE = Number(process.env.RATE ?? 300);
const FAULT_MS = Number(process.env.FAULT_MS ?? 5000);
/** Envoy's bound on checks in flight for the flood (RenderEnvoyOptions.checksInFlight): sized as
 * docs/DESIGN.md "Availability" says, 16 per authz process behind Envoy (the flood runs one, one
 * worker: 16; the committed file's 64 is for four). CHECKS_IN_FLIGHT overrides. */
const CHECKS_IN_FLIGHT = process.env.CHECKS_IN_FLIGHT === undefined ? 16 : Number(process.env.CHECKS_IN_FLIGHT);
const SUBJECTS = 50;
/** authz as the image runs it (compiled JavaScript), unless AUTHZ=tsx. */
const COMPILED = process.env.AUTHZ !== 'tsx';

/** Generous limits: rate limiting is not what these scenarios are about. */
const ENV = {
  MEM0_GOV_LIMIT_DEFAULT: '1000000/m',
  MEM0_GOV_LIMIT_TENANT_DEFAULT: '10000000/m',
  MEM0_GOV_LOG_LEVEL: 'warn',
  ...(process.env.MEM0_GOV_HELPER_THREADS_NICE !== undefined ? { MEM0_GOV_HELPER_THREADS_NICE: process.env.MEM0_GOV_HELPER_THREADS_NICE } : {}),
};

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const pct = (a: number, b: number): string => (b === 0 ? '—' : `${((100 * a) / b).toFixed(2)} %`);

async function tokens(stack: Stack): Promise<string[]> {
  return Promise.all(Array.from({ length: SUBJECTS }, (_, k) => stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: `soak-${k}`, ttl: 3600 })));
}

function describe(results: readonly LoadResult[]): string {
  const allowed = results.filter((r) => r.tag === 'allow');
  const ok = allowed.filter((r) => r.status >= 200 && r.status < 300).length;
  const all = latency(results.map((r) => r.ms));
  const five = results.filter((r) => r.status >= 500).length;
  const envoy = results.filter((r) => r.by === 'envoy').length;
  return [
    `  requests ${results.length}, allowed ${allowed.length}: 2xx ${ok} (${pct(ok, allowed.length)})`,
    `  latency ms (all): p50 ${fmt(all.p50)}  p90 ${fmt(all.p90)}  p99 ${fmt(all.p99)}  max ${fmt(all.max)}`,
    `  5xx ${five}, of which Envoy on its own (timeout / no authz) ${envoy}`,
    `  by answer: ${JSON.stringify(tally(results))}`,
  ].join('\n');
}

/** One line per second: requests, 5xx, Envoy's own answers, p99 — where in time a fault hurt. */
function timeline(results: readonly LoadResult[], marks: Record<string, number>): string {
  const secs = new Map<number, LoadResult[]>();
  for (const r of results) {
    const k = Math.floor(r.sentAt / 1000);
    secs.set(k, [...(secs.get(k) ?? []), r]);
  }
  const lines = [...secs.keys()].sort((a, b) => a - b).map((k) => {
    const rs = secs.get(k)!;
    const mark = Object.entries(marks).filter(([, t]) => Math.floor(t / 1000) === k).map(([m]) => ` ← ${m}`).join('');
    return `    ${String(k).padStart(3)} s: n ${rs.length}, 5xx ${rs.filter((r) => r.status >= 500).length}, by Envoy ${rs.filter((r) => r.by === 'envoy').length}, p99 ${fmt(latency(rs.map((r) => r.ms)).p99)} ms${mark}`;
  });
  return lines.join('\n');
}

/** Rows waiting in the replicas' spools (0 once PostgreSQL has them all). */
async function spoolDepth(stack: Stack): Promise<number> {
  let depth = 0;
  for (const r of stack.replicas) {
    if (r.pid() === undefined) continue;
    const m = /^mem0gov_audit_spool_depth (\d+)/m.exec(await r.metrics());
    depth += Number(m?.[1] ?? 0);
  }
  return depth;
}

async function audit(stack: Stack, results: readonly LoadResult[]): Promise<string> {
  // Spools drain in the background once PostgreSQL is back: wait for every chain to catch up.
  await waitFor('spools drained', async () => (await spoolDepth(stack)) === 0, 120_000, 200).catch(() => undefined);
  const a = await checkAudit(stack.pgOwnerUrl, results);
  const chains = a.chains.map((c) => `${c.chain}: ${c.rows} rows, ${c.problem ?? 'valid'}`).join('; ');
  return [
    `  audit: decision rows ${a.decisionRows} (answered by authz or Mem0: ${results.filter((r) => r.by !== 'envoy' && r.by !== 'none').length}), marked not delivered ${a.undelivered}, outcome rows ${a.outcomeRows}`,
    `  chains: ${chains}`,
    `  trail vs clients: ${a.problems.length === 0 ? 'consistent' : `${a.problems.length} problems, e.g. ${a.problems.slice(0, 3).join(' | ')}`}`
      + `; answers Envoy gave up on just as authz sent them (row reads answered): ${a.lateUnflagged.length}`,
  ].join('\n');
}

async function rss(stack: Stack, i = 0): Promise<number> {
  const m = /^mem0gov_process_process_resident_memory_bytes (\d+)/m.exec(await stack.replicas[i]!.metrics());
  return Number(m?.[1] ?? 0) / 1024 / 1024;
}

async function steady(client: LoadClient, toks: string[], ms: number, onTick?: (t: number) => void): Promise<LoadResult[]> {
  return openLoop(client, { rate: RATE, durationMs: ms, make: mixed(toks), ...(onTick ? { onTick } : {}) });
}

/** Steady load for `ms`, with authz's RSS (MB) sampled once a second: `at` s after the start. */
async function steadySamplingRss(stack: Stack, client: LoadClient, toks: string[], ms: number): Promise<{ at: number; mb: number }[]> {
  const samples: { at: number; mb: number }[] = [];
  let asked = 0;
  await steady(client, toks, ms, (t) => {
    if (t < (asked + 1) * 1000) return;
    asked++;
    void rss(stack).then((mb) => samples.push({ at: t / 1000, mb }));
  });
  return samples;
}

// ---------------------------------------------------------------------------------------------

/**
 * The first seconds after a start, twice. (1) The whole stack new: traffic from the moment authz
 * reports SERVING, with Envoy, the load client, the Mem0 stand-in, PostgreSQL and Redis as new as
 * authz. (2) A rollout: after 30 s of traffic, authz alone is restarted (SIGTERM, start, SERVING)
 * while everything else stays warm, and traffic resumes. The goal is about what authz's warm-up
 * controls, so it is judged on (2); (1) is printed beside it.
 */
async function cold(): Promise<void> {
  const stack = await startStack({ authzTimeout: 'shipped', authzProcesses: 1, authzCompiled: COMPILED, env: ENV });
  try {
    const toks = await tokens(stack);
    // The client in a worker thread of its own: the stand-in's and the harness's work in this
    // thread (and its GC) then neither delays sending nor inflates what is timed. One for both
    // measurements: new with the whole stack, warm (connections, code) for the rollout.
    const client = startLoadWorker({ baseUrl: stack.envoy.baseUrl, caFile: stack.envoy.caFile, sessions: 4, tokens: toks });
    const measure = async (title: string): Promise<{ met: boolean; results: LoadResult[] }> => {
      const before = await stack.envoy.stats();
      const results = await client.run({ rate: RATE, durationMs: 30_000 });
      const refusals = envoyRefusals(before, await stack.envoy.stats());
      const first = results.filter((r) => r.sentAt < 5000);
      const late = results.filter((r) => r.sentAt >= 20_000);
      const f = latency(first.map((r) => r.ms));
      const l = latency(late.map((r) => r.ms));
      const f5 = first.filter((r) => r.status >= 500).length;
      console.log(`  ${title}:`);
      console.log(`    first 5 s: n ${f.n}, p50 ${fmt(f.p50)}, p99 ${fmt(f.p99)}, max ${fmt(f.max)} ms, 5xx ${f5}`);
      console.log(`    steady (20–30 s): n ${l.n}, p50 ${fmt(l.p50)}, p99 ${fmt(l.p99)}, max ${fmt(l.max)} ms`);
      console.log(`    ratio p99 first/steady ${(f.p99 / l.p99).toFixed(2)}; ${refusals}`);
      console.log(`    p99 by second: ${[0, 1, 2, 3, 4, 5, 10, 20].map((k) => `${k} s ${fmt(latency(results.filter((x) => x.sentAt >= k * 1000 && x.sentAt < (k + 1) * 1000).map((x) => x.ms)).p99)}`).join(', ')} ms`);
      return { met: f.p99 <= 2 * l.p99 && f5 === 0, results };
    };
    console.log(`\n## cold start: ${RATE} req/s from the first moment authz is SERVING (30 s each)`);
    const whole = await measure('the whole stack new (Envoy, client, Mem0 stand-in, PostgreSQL, Redis too)');
    const r = stack.replicas[0]!;
    r.signal('SIGTERM');
    await r.exited();
    await r.start();
    await r.serving();
    const rollout = await measure('authz restarted, everything else warm (a rollout)');
    await client.close();
    console.log(`  goal: p99 within 2x of steady state, zero 5xx (judged on the rollout) → ${rollout.met ? 'met' : 'NOT met'}; the whole stack new: ${whole.met ? 'met' : 'not met'}`);
    console.log(await audit(stack, [...whole.results, ...rollout.results]));
  } finally {
    await stack.stop();
  }
}

async function withFault(title: string, inject: (stack: Stack) => Promise<void> | void, release: (stack: Stack) => Promise<void> | void,
  opts: { env?: Record<string, string>; goal?: (during: LoadResult[]) => string } = {}): Promise<void> {
  const stack = await startStack({ authzTimeout: 'shipped', authzProcesses: 1, authzCompiled: COMPILED, env: { ...ENV, ...opts.env } });
  try {
    const toks = await tokens(stack);
    const client = loadClient(stack.envoy.baseUrl, stack.envoy.caFile, { sessions: 4 });
    await steady(client, toks, 5000); // warm traffic, not counted
    let injected = -1;
    let released = -1;
    let releasing: Promise<void> | undefined;
    const results = await steady(client, toks, 3000 + FAULT_MS + 5000, (t) => {
      if (injected < 0 && t >= 3000) {
        injected = t;
        void Promise.resolve(inject(stack));
      }
      if (released < 0 && injected >= 0 && t >= injected + FAULT_MS) {
        released = t;
        releasing = Promise.resolve(release(stack));
      }
    });
    await releasing;
    await client.close();
    const during = results.filter((r) => r.sentAt >= injected && r.sentAt < released);
    console.log(`\n## ${title}: ${RATE} req/s, fault for ${FAULT_MS} ms`);
    console.log(' during the fault:');
    console.log(describe(during));
    const dAllowed = during.filter((r) => r.tag === 'allow');
    const dOk = dAllowed.filter((r) => r.status >= 200 && r.status < 300).length;
    const p99 = latency(during.map((r) => r.ms)).p99;
    console.log(' whole run (3 s before, the fault, 5 s after):');
    console.log(describe(results));
    if (process.env.TIMELINE) console.log(timeline(results, { fault: injected, released }));
    console.log(await audit(stack, results));
    console.log(opts.goal ? opts.goal(during) : `  goal: ≥ 99 % of allowed 2xx, p99 ≤ 150 ms → ${dOk >= 0.99 * dAllowed.length && p99 <= 150 ? 'met' : 'NOT met'} (${pct(dOk, dAllowed.length)}, p99 ${fmt(p99)} ms)`);
  } finally {
    stack.faults.pgResume();
    try { stack.faults.redisResume(); } catch { /* not running */ }
    await stack.stop();
  }
}

/** The highest steady rate whose allowed requests stay ≥ 99 % 2xx with p99 < 150 ms. */
async function capacity(): Promise<number> {
  const stack = await startStack({ authzTimeout: 'shipped', authzProcesses: 1, authzCompiled: COMPILED, env: ENV });
  try {
    const toks = await tokens(stack);
    const client = loadClient(stack.envoy.baseUrl, stack.envoy.caFile, { sessions: 8 });
    await steady(client, toks, 5000);
    let best = RATE;
    for (const rate of [400, 500, 600, 800, 1000, 1300, 1600]) {
      const r = await openLoop(client, { rate, durationMs: 3000, make: mixed(toks) });
      const allowedR = r.filter((x) => x.tag === 'allow');
      const okN = allowedR.filter((x) => x.status < 300).length;
      if (okN < 0.99 * allowedR.length || latency(r.map((x) => x.ms)).p99 >= 150) break;
      best = rate;
      await new Promise((res) => setTimeout(res, 1000));
    }
    await client.close();
    return best;
  } finally {
    await stack.stop();
  }
}

/** Counters of Envoy's that say who answered a flood: its check cluster, its admission bucket, and
 * the checks authz answered. */
const ENVOY_FLOOD_STATS = {
  ...CHECK_COUNTERS,
  bucket: ['mem0_gov_admission.http_local_rate_limit.rate_limited'],
  decided: ['http.mem0_edge.ext_authz.ok', 'http.mem0_edge.ext_authz.denied'],
} as const;

/** What Envoy answered on its own between two readings of its counters. */
function envoyRefusals(before: Record<string, number>, after: Record<string, number>): string {
  const count = (keys: readonly string[]): number => counted(before, after, keys);
  return `Envoy: checks timed out ${count(ENVOY_FLOOD_STATS.timeouts)}, refused over its bound on checks in flight ${count(ENVOY_FLOOD_STATS.overBound)}, shed by its bucket ${count(ENVOY_FLOOD_STATS.bucket)}`;
}

/**
 * A flood through the shipped Envoy: h2load (C, its own process) sends the volume, so the load
 * client does not take the cores it floods; a tracked sample of 50 requests/s (testing/load.ts in
 * a worker) has every answer classified (who, reason, Retry-After) and checked against the trail.
 * Envoy's counters say how many checks it gave up on (timeouts), refused over its bound on checks
 * in flight, or shed in its bucket; every decision authz made must be a row.
 */
async function flood(cap: number, o: { rate: number; durationMs: number; title: string; admissionRate?: number }): Promise<void> {
  const admissionRate = o.admissionRate;
  const stack = await startStack({ authzTimeout: 'shipped', authzProcesses: 1, authzCompiled: COMPILED, env: ENV, ...(admissionRate !== undefined ? { admissionRate } : {}), checksInFlight: CHECKS_IN_FLIGHT });
  try {
    const toks = await tokens(stack);
    const client = loadClient(stack.envoy.baseUrl, stack.envoy.caFile, { sessions: 4 });
    // RSS under steady load swings by tens of MB as V8 grows and shrinks its heap: the baseline is
    // the median of one sample a second over the last 10 s before the flood, "30 s later" the
    // median over 25–35 s after it, under the same steady load.
    await steady(client, toks, 5_000);
    const baseline = latency((await steadySamplingRss(stack, client, toks, 10_000)).map((x) => x.mb)).p50;
    let peak = baseline;
    const sampler = setInterval(() => { void rss(stack).then((v) => { peak = Math.max(peak, v); }).catch(() => undefined); }, 250);
    const pg = new PgClient(stack.pgOwnerUrl);
    await pg.connect();
    const rowsSince = async (since: Date): Promise<number> =>
      (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM audit.events WHERE kind = 'decision' AND ts >= $1", [since])).rows[0]!.n;
    const before = await stack.envoy.stats();
    const started = new Date();
    const sampleRate = 50;
    const [flooded, tracked] = await Promise.all([
      h2load({
        urls: [`${stack.envoy.baseUrl}/memories?user_id=acme:u1`, `${stack.envoy.baseUrl}/memories?user_id=globex:intruder`],
        headers: { authorization: `Bearer ${toks[0]!}` },
        rate: o.rate - sampleRate, durationMs: o.durationMs,
      }),
      openLoopInWorker({ baseUrl: stack.envoy.baseUrl, caFile: stack.envoy.caFile, sessions: 4, rate: sampleRate, durationMs: o.durationMs, tokens: toks }),
    ]);
    const floodEnded = performance.now();
    clearInterval(sampler);
    await waitFor('spools drained', async () => (await spoolDepth(stack)) === 0, 120_000, 200).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await stack.envoy.stats();
    const count = (keys: readonly string[]): number => counted(before, after, keys);
    const rows = await rowsSince(started);
    await pg.end();
    const timeouts = count(ENVOY_FLOOD_STATS.timeouts);
    const overBound = count(ENVOY_FLOOD_STATS.overBound);
    const bucket = count(ENVOY_FLOOD_STATS.bucket);
    const decided = count(ENVOY_FLOOD_STATS.decided);
    const all = [...flooded.map((r) => ({ status: r.status, ms: r.ms })), ...tracked.map((r) => ({ status: r.status, ms: r.ms }))];
    const byStatus = new Map<number, number[]>();
    for (const r of all) byStatus.set(r.status, [...(byStatus.get(r.status) ?? []), r.ms]);
    const slow = all.filter((r) => r.ms > 250).length;
    const sample5xx = tracked.filter((r) => r.status >= 500);
    const unexplained = sample5xx.filter((r) => r.reason === undefined || r.retryAfter === undefined);
    console.log(`\n## flood: ${o.title}: ${o.rate} req/s for ${o.durationMs / 1000} s (capacity measured on this machine: ${cap} req/s with ≥ 99 % allowed 2xx and p99 < 150 ms); Envoy admission bucket ${admissionRate === undefined ? 'as shipped (2,000/s)' : `sized to capacity (${admissionRate}/s)`}, bound on checks in flight ${CHECKS_IN_FLIGHT}${process.env.CHECKS_IN_FLIGHT === undefined ? ' (16 × 1 authz process, as the docs size it)' : ''}`);
    console.log(`  requests ${all.length} (h2load ${flooded.length}, tracked sample ${tracked.length}); latency ms (all): ${JSON.stringify(latency(all.map((r) => r.ms)))}; slower than 250 ms: ${slow}`);
    for (const [st, ms] of [...byStatus].sort((x, y) => x[0] - y[0])) console.log(`    status ${st}: ${ms.length}, p50 ${fmt(latency(ms).p50)}, p99 ${fmt(latency(ms).p99)}, max ${fmt(latency(ms).max)} ms`);
    console.log(`  Envoy: checks timed out ${timeouts}, refused over its bound on checks in flight (503 authz_unavailable) ${overBound} (attempts, retries included), shed by its bucket (503 overloaded) ${bucket}; decisions authz answered ${decided}`);
    console.log(`  tracked sample: ${JSON.stringify(tally(tracked))}; 5xx without a stable reason or Retry-After: ${unexplained.length}`);
    console.log(`  decision rows written during the flood ${rows} vs decisions Envoy got from authz ${decided} + timed out ${timeouts}`);
    const sinceFlood = (performance.now() - floodEnded) / 1000;
    const afterRss = (await steadySamplingRss(stack, client, toks, 35_000 - sinceFlood * 1000)).map((x) => ({ at: x.at + sinceFlood, mb: x.mb }));
    const every5 = afterRss.filter((_, i) => i % 5 === 4).map((x) => fmt(x.mb));
    console.log(`  authz RSS MB: baseline ${fmt(baseline)} (median of 10 s before), peak ${fmt(peak)}, every 5 s after (under ${RATE} req/s): ${every5.join(', ')}`);
    const back = latency(afterRss.filter((x) => x.at >= 25).map((x) => x.mb)).p50;
    const met = timeouts === 0 && unexplained.length === 0 && back <= 1.2 * baseline && rows === decided + timeouts;
    console.log(`  goal: no Envoy timeouts, a stable reason on every refusal, RSS within 20 % of baseline 30 s later (and decisions == rows) → ${met ? 'met' : 'NOT met'} (Envoy timeouts ${timeouts}, RSS ${fmt(back)} (median 25–35 s after) vs ${fmt(baseline)} MB, rows ${rows} vs ${decided + timeouts})`);
    await client.close();
    console.log(await audit(stack, tracked));
  } finally {
    await stack.stop();
  }
}

async function rolling(kill: boolean): Promise<void> {
  const stack = await startStack({ authzTimeout: 'shipped', authzProcesses: 2, env: { ...ENV, MEM0_GOV_DRAIN_SECONDS: '3' } });
  try {
    const toks = await tokens(stack);
    const client = loadClient(stack.envoy.baseUrl, stack.envoy.caFile, { sessions: 4 });
    await steady(client, toks, 5000);
    const events: string[] = [];
    let t = 0;
    const before = await stack.envoy.stats();
    const run = openLoop(client, { rate: RATE, durationMs: 60_000, make: mixed(toks), onTick: (e) => { t = e; } });
    for (const r of stack.replicas) {
      await new Promise((res) => setTimeout(res, 3000));
      events.push(`${(t / 1000).toFixed(1)} s: ${kill ? 'SIGKILL' : 'SIGTERM'} replica ${r.index}`);
      r.signal(kill ? 'SIGKILL' : 'SIGTERM');
      await r.exited();
      events.push(`${(t / 1000).toFixed(1)} s: replica ${r.index} exited`);
      await r.start();
      await r.serving();
      events.push(`${(t / 1000).toFixed(1)} s: replica ${r.index} SERVING again`);
    }
    const results = await run;
    const refusals = envoyRefusals(before, await stack.envoy.stats());
    await client.close();
    console.log(`\n## ${kill ? 'kill -9 each of two replicas in turn' : 'rolling restart of two replicas (SIGTERM, drain 3 s, start, SERVING)'}: ${RATE} req/s for 60 s`);
    console.log(`  ${events.join('; ')}`);
    console.log(`  ${refusals}`);
    console.log(describe(results));
    const five = results.filter((r) => r.status >= 500).length;
    console.log(await audit(stack, results));
    if (!kill) console.log(`  goal: zero 5xx → ${five === 0 ? 'met' : 'NOT met'} (${five})`);
  } finally {
    await stack.stop();
  }
}

const scenarios: Record<string, () => Promise<void>> = {
  cold,
  'pg-stop': () => withFault('PostgreSQL SIGSTOPped', (s) => s.faults.pgPause(), (s) => s.faults.pgResume()),
  'pg-lock': () => {
    let held: Promise<void> | undefined;
    return withFault('PostgreSQL: ACCESS EXCLUSIVE lock on audit.events', (s) => { held = s.faults.pgLock(FAULT_MS); }, async () => { await held; });
  },
  'redis-stop': () => withFault('Redis SIGSTOPped (revocation and rate-limit failure modes open)', (s) => s.faults.redisPause(), (s) => s.faults.redisResume(),
    { env: { MEM0_GOV_REVOCATION_FAILURE_MODE: 'open', MEM0_GOV_RATELIMIT_FAILURE_MODE: 'open' } }),
  'redis-stop-closed': () => withFault('Redis SIGSTOPped (revocation closed: the default)', (s) => s.faults.redisPause(), (s) => s.faults.redisResume(), {
    goal: (during) => {
      const envoy = during.filter((r) => r.by === 'envoy').length;
      return `  closed mode answers 503 redis_unavailable itself: Envoy timeouts during the fault ${envoy}`;
    },
  }),
  flood: async () => {
    const cap = process.env.CAPACITY !== undefined ? Number(process.env.CAPACITY) : await capacity();
    // The issue's flood (~2,000 requests in a few seconds), then 5 × what this machine sustains.
    await flood(cap, { title: "the issue's flood, 2,000 requests in 2 s", rate: 1000, durationMs: 2000 });
    await flood(cap, { title: '5 × capacity', rate: 5 * cap, durationMs: 3000 });
    await flood(cap, { title: '5 × capacity', rate: 5 * cap, durationMs: 3000, admissionRate: cap });
  },
  rolling: () => rolling(false),
  kill: () => rolling(true),
};

const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['cold', 'pg-stop', 'pg-lock', 'redis-stop', 'redis-stop-closed', 'flood', 'rolling', 'kill'];
for (const name of wanted) {
  const s = scenarios[name];
  if (!s) throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(' ')}`);
  await s();
}
console.log(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`);
process.exit(0);

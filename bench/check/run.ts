// The peer bench (issue #15): ext_authz Check driven by ghz against three systems —
//   mem0-gov          the real entry as the image runs it (`node dist/authz/main.js`, compiled by
//                     `npm run build:js`; --tsx: the TypeScript sources through tsx), MEM0_GOV_WORKERS
//                     from the environment, with redis-server and PostgreSQL (testing/stack.ts);
//   opa-envoy-plugin  OPA's Envoy plugin with an equivalent Rego policy (peer-policy/), binary
//                     from $OPA_ENVOY_PLUGIN — without it the other two run and the peer is skipped;
//   empty grpc-js     a handler answering OK to every Check (the floor of grpc-js itself) —
// at 1, 16 and 64 concurrent (closed loop) and a fixed 500/s, alternating the systems (A B C A B C
// …), medians of the repeats, warm-up runs discarded. Prints throughput, p50/p99, CPU per 1,000
// checks and the ratios; mem0-gov's per-stage means from its own histogram; the latency one
// client sees through Envoy with mem0-gov against Envoy alone; and each goal, held or missed.
// Asserts nothing about speed (it does check every system answers the request as it should).
//
//   npx tsx bench/check/run.ts [--smoke] [--duration 10] [--warmup 3] [--repeats 3] [--connections <cores>] [--http-requests 1000] [--peer-no-jwt-cache] [--tsx]
//   OPA_ENVOY_PLUGIN=/path/to/opa-envoy-plugin  MEM0_GOV_WORKERS=…  MEM0_GOV_* reach the service
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadWorkerCount } from '../../authz/src/cluster/config.js';
import { spec } from '../../authz/src/config/spec.js';
import { ensureDevKey } from '../../authz/src/identity/dev-issuer.js';
import { mem0UpstreamFromUrl } from '../../envoy/render.js';
import { startEnvoy, type RunningEnvoy } from '../../testing/envoy.js';
import { postgresPids, processTree, redisPid } from '../../testing/signals.js';
import { startStack, type Stack } from '../../testing/stack.js';
import { ROOT } from '../../testing/tools.js';
import { summarize } from '../response/run.js';
import { SEARCH_PATH, ghzData, grpcRequest, searchBody } from './check-request.js';
import { treeCpuSeconds } from './cpu.js';
import { startBareEnvoy } from './envoy-alone.js';
import { ghzBinary, ghzVersion, runGhz, type Load } from './ghz.js';
import { alternate } from './http-loop.js';
import { peerBinary, startPeer, type RunningPeer } from './peer.js';
import { cpuPer1000, judgeGoals, medianFigures, ratio, table, type GoalInputs, type RunFigures } from './report.js';
import { addScrape, compareStages, diffScrape, emptyScrape, notAllowed, parseScrape, stageMeans, type Scrape } from './stages.js';
import { checkOnce, startEmptyHandler, type EmptyHandler, type System } from './systems.js';

interface Options { durationS: number; warmupS: number; repeats: number; connections: number; httpRequests: number; httpWarmup: number; smoke: boolean; peerJwtCache: boolean; tsx: boolean }

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      repeats: { type: 'string' },
      connections: { type: 'string' },
      'peer-no-jwt-cache': { type: 'boolean', default: false },
      'http-requests': { type: 'string' },
      tsx: { type: 'boolean', default: false },
    },
  });
  const smoke = values.smoke === true;
  const num = (v: string | undefined, dflt: number, what: string, min: number): number => {
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${what}: a number ≥ ${min}, got ${v}`);
    return n;
  };
  return {
    smoke,
    durationS: num(values.duration, smoke ? 1 : 10, 'duration', 0.5),
    warmupS: num(values.warmup, smoke ? 0.5 : 3, 'warmup', 0),
    repeats: Math.round(num(values.repeats, smoke ? 1 : 3, 'repeats', 1)),
    // As many as an Envoy with one worker per core opens.
    connections: Math.round(num(values.connections, availableParallelism(), 'connections', 1)),
    httpRequests: Math.round(num(values['http-requests'], smoke ? 30 : 1000, 'http-requests', 1)),
    httpWarmup: smoke ? 10 : 100,
    peerJwtCache: values['peer-no-jwt-cache'] !== true,
    tsx: values.tsx === true,
  };
}

interface Scenario { name: string; load: Omit<Load, 'durationS' | 'connections'> }

const SCENARIOS: Scenario[] = [
  { name: '1 concurrent', load: { concurrency: 1 } },
  { name: '16 concurrent', load: { concurrency: 16 } },
  { name: '64 concurrent', load: { concurrency: 64 } },
  // Open loop: 500 checks/s whatever the answers take; 64 workers so a slow answer does not hold
  // the next request back.
  { name: 'fixed 500/s', load: { concurrency: 64, rps: 500 } },
];

const MEM0GOV = 'mem0-gov';
const PEER = 'opa-envoy-plugin';
const EMPTY = 'empty grpc-js';

const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
const f3 = (x: number | null): string => (x === null ? '–' : x.toFixed(3));

function machine(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), node ${process.version}`;
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(opts: Options): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-bench-check-'));
  const env = process.env;
  let stack: Stack | undefined;
  let empty: EmptyHandler | undefined;
  let peer: RunningPeer | undefined;
  let authzOnly: RunningEnvoy | undefined;
  let bare: RunningEnvoy | undefined;
  try {
    const ghz = ghzBinary(env);
    const peerBin = peerBinary(env);
    // Unset: the service's own default (the CPU count), not the test stack's single process, so
    // mem0-gov is measured as it ships.
    const workers = env.MEM0_GOV_WORKERS ?? String(loadWorkerCount({}));
    // The group-commit window in effect: the environment's, else the spec's default.
    const batchSpec = spec('AUDIT_BATCH_MS');
    const batchDefault = batchSpec.type === 'int' ? String(batchSpec.default ?? '') : '';
    const batchMs = env.MEM0_GOV_AUDIT_BATCH_MS ?? batchDefault;

    console.log('check bench (issue #15): ext_authz Check, one realistic request, three systems alternating A B C …');
    console.log(`  machine: ${machine()}; load average at start ${load()}; everything (ghz, systems, Redis, PostgreSQL) shares these cores`);
    console.log(`  load tool: ghz ${ghzVersion(ghz)}, ${opts.connections} HTTP/2 connections (at most one per concurrent call; an Envoy with one worker per core keeps as many), ${opts.repeats} × ${opts.durationS} s per system per scenario after a ${opts.warmupS} s warm-up each (discarded); figures are medians`);
    console.log(`  mem0-gov: ${opts.tsx ? 'node --import tsx authz/src/main.ts (--tsx)' : 'node dist/authz/main.js (compiled, as the image runs it)'}, MEM0_GOV_WORKERS=${workers}${env.MEM0_GOV_WORKERS === undefined ? ' (unset: the service\'s default, the CPU count)' : ''}, MEM0_GOV_AUDIT_BATCH_MS=${batchMs}${env.MEM0_GOV_AUDIT_BATCH_MS === undefined ? ' (unset: the default)' : ''}; rate limits raised (not what is measured)`);
    console.log(`  opa-envoy-plugin: ${peerBin === undefined ? 'OPA_ENVOY_PLUGIN not set — peer not run (bench/check/README.md says how to build it)' : `${peerBin}, verified-token cache (OPA io_jwt) ${opts.peerJwtCache ? 'on, as mem0-gov\'s (--peer-no-jwt-cache: off)' : 'off (OPA\'s default)'}`}`);
    if (opts.smoke) console.log('  --smoke: short runs to show the bench works; the figures mean nothing');

    stack = await startStack({
      stateDir: join(dir, 'stack'),
      authzProcesses: 1,
      authzCompiled: !opts.tsx,
      authzTimeout: '2s',
      inheritEnv: env,
      logLevel: 'warn',
      env: { MEM0_GOV_WORKERS: workers, MEM0_GOV_LIMIT_DEFAULT: '10000000/m', MEM0_GOV_LIMIT_TENANT_DEFAULT: '10000000/m' },
    });
    const authz = stack.replicas[0]!;
    console.log(`  mem0-gov runs as ${processTree(authz.pid()!).length} process(es) (a node:cluster primary and its workers when MEM0_GOV_WORKERS > 1)`);
    const pgRoot = postgresPids(stack.pg.dataDir)[0]!;
    const redis = redisPid(stack.redis.port);
    const token = await stack.token({ tenant: 'acme', sub: 'bench', roles: ['agent-writer'], ttl: 4 * 3600 });
    const body = searchBody('acme:bench');
    const foreign = searchBody('globex:someone');
    for (let i = 0; i < 5; i++) stack.mem0!.seed({ memory: `Bench note ${i}: the customer prefers green tea`, user_id: 'acme:bench' });

    empty = await startEmptyHandler();
    const mem0govParts = [
      { name: 'service', pid: () => authz.pid()! },
      { name: 'redis-server', pid: () => redis },
      { name: 'PostgreSQL', pid: () => pgRoot },
    ];
    const systems: System[] = [{
      name: MEM0GOV, target: `127.0.0.1:${authz.grpcPort}`, cpuCovers: 'service (process tree) + redis-server + PostgreSQL (postmaster and backends)',
      pids: () => mem0govParts.map((p) => p.pid()),
    }];
    if (peerBin !== undefined) {
      const key = await ensureDevKey(join(stack.stateDir, 'dev-issuer'));
      const roles = (JSON.parse(readFileSync(join(ROOT, 'policies', 'data.json'), 'utf8')) as { mem0gov: { roles: Record<string, string[]> } }).mem0gov.roles;
      peer = await startPeer({ binary: peerBin, workDir: dir, publicJwk: key.publicJwk, issuer: stack.issuer, audience: 'mem0-gov', roles, jwtCache: opts.peerJwtCache });
      const p = peer;
      systems.push({ name: PEER, target: `127.0.0.1:${p.grpcPort}`, cpuCovers: 'its process', pids: () => [p.pid()] });
    }
    const e = empty;
    systems.push({ name: EMPTY, target: `127.0.0.1:${e.port}`, cpuCovers: 'its process', pids: () => [e.pid()] });

    // Each system must decide the request as intended before it is timed: the policy systems
    // allow the caller's own user and deny another tenant's (the empty handler allows anything).
    for (const s of systems) {
      const own = await checkOnce(s.target, grpcRequest(token, body, 'sanity-own'));
      if (own !== 0) throw new Error(`${s.name} did not allow the bench request (status ${own})`);
      if (s.name !== EMPTY) {
        const other = await checkOnce(s.target, grpcRequest(token, foreign, 'sanity-foreign'));
        if (other === 0) throw new Error(`${s.name} allowed a search of another tenant's user`);
      }
    }
    console.log(`  sanity: every system allows the request${systems.length > 2 ? '; mem0-gov and opa-envoy-plugin deny the same search for another tenant' : '; mem0-gov denies it for another tenant'}`);
    console.log('  request: POST /search (JSON body, filters.user_id in the caller\'s tenant), ES256 bearer token from the dev issuer — the SAME token on every');
    console.log('           request, as one agent sends it: mem0-gov verifies it once and serves the rest from its verified-token cache (so does the peer with its');
    console.log('           io_jwt cache on); x-request-id fresh per call');
    console.log(`  CPU: ${systems.map((s) => `${s.name} = ${s.cpuCovers}`).join('; ')} (ghz's own CPU is not counted)`);

    // What each costs doing nothing (timers, health probes, PostgreSQL's background workers): part
    // of every CPU figure below, most visible where few checks share it (1 concurrent).
    const idleS = opts.smoke ? 1 : 3;
    const idle0 = systems.map((s) => treeCpuSeconds(s.pids()));
    await new Promise((r) => setTimeout(r, idleS * 1000));
    const idle = systems.map((s, i) => `${s.name} ${((treeCpuSeconds(s.pids()) - idle0[i]!) / idleS).toFixed(3)}`);
    console.log(`  idle CPU (s per s, over ${idleS} s): ${idle.join(', ')}`);

    const dataFile = join(dir, 'check.json');
    writeFileSync(dataFile, ghzData(token, body));

    const results = new Map<string, Map<string, RunFigures>>();
    const stagesBy = new Map<string, Scrape>();
    let n = 0;
    for (const sc of SCENARIOS) {
      console.log(`\n== ${sc.name}${sc.load.rps !== undefined ? ` (open loop, ${sc.load.concurrency} workers)` : ' (closed loop)'}`);
      if (opts.warmupS > 0) {
        for (const s of systems) await runGhz(ghz, s.target, dataFile, { ...sc.load, connections: opts.connections, durationS: opts.warmupS }, join(dir, `ghz-${n++}.json`));
      }
      const runs = new Map<string, RunFigures[]>(systems.map((s) => [s.name, []]));
      // mem0-gov's CPU by process (all measured runs together).
      const split = mem0govParts.map(() => 0);
      let splitChecks = 0;
      let stages = emptyScrape();
      for (let r = 0; r < opts.repeats; r++) {
        for (const s of systems) {
          const before = s.name === MEM0GOV ? parseScrape(await authz.metrics()) : undefined;
          const parts0 = s.name === MEM0GOV ? mem0govParts.map((p) => treeCpuSeconds([p.pid()])) : [];
          const cpu0 = treeCpuSeconds(s.pids());
          const g = await runGhz(ghz, s.target, dataFile, { ...sc.load, connections: opts.connections, durationS: opts.durationS }, join(dir, `ghz-${n++}.json`));
          const cpu1 = treeCpuSeconds(s.pids());
          if (s.name === MEM0GOV) {
            mem0govParts.forEach((p, i) => { split[i]! += treeCpuSeconds([p.pid()]) - parts0[i]!; });
            splitChecks += g.ok;
          }
          // mem0-gov answers a check it could not decide (overloaded, audit or Redis late) with a
          // gRPC OK carrying a denial: those are failures too, not throughput.
          let refused = 0;
          if (before !== undefined) {
            const d = diffScrape(before, parseScrape(await authz.metrics()));
            stages = addScrape(stages, d);
            refused = Math.min(g.ok, notAllowed(d));
          }
          if (g.errors > 0) console.log(`  ${s.name} run ${r + 1}: ${g.errors} of ${g.count} calls failed: ${JSON.stringify(g.problems)}`);
          const ok = g.ok - refused;
          runs.get(s.name)!.push({ rps: ok / g.seconds, p50: g.p50, p99: g.p99, cpuPer1000: cpuPer1000(cpu1 - cpu0, g.ok), ok, errors: g.errors + refused });
        }
      }
      const med = new Map([...runs].map(([k, v]) => [k, medianFigures(v)]));
      results.set(sc.name, med);
      stagesBy.set(sc.name, stages);
      console.log(table(['system', 'allowed/s', 'p50 ms', 'p99 ms', 'CPU s/1000', 'failed'],
        [...med].map(([k, f]) => [k, Math.round(f.rps).toString(), f2(f.p50), f2(f.p99), f3(f.cpuPer1000), String(f.errors)])));
      const m = med.get(MEM0GOV)!;
      for (const other of [PEER, EMPTY]) {
        const o = med.get(other);
        if (o === undefined) continue;
        console.log(`  mem0-gov ÷ ${other}: throughput ${ratio(m.rps, o.rps)}, p50 ${ratio(m.p50, o.p50)}, p99 ${ratio(m.p99, o.p99)}, CPU/check ${ratio(m.cpuPer1000, o.cpuPer1000)}`);
      }
      if (splitChecks > 0) console.log(`  mem0-gov CPU s/1000 by process: ${mem0govParts.map((p, i) => `${p.name} ${((split[i]! / splitChecks) * 1000).toFixed(3)}`).join(', ')}`);
      const allow = stages.decisions.get('allow') ?? 0;
      const other = [...stages.reasons].filter(([k, v]) => !k.startsWith('allow ') && v > 0);
      console.log(`  mem0-gov decisions in the measured runs: ${allow} allow${other.length > 0 ? `; NOT allowed (counted as failed): ${other.map(([k, v]) => `${v} ${k}`).join(', ')}` : ''}`);
    }

    // mem0-gov's own account of where a check's time goes (its histogram, measured runs only).
    console.log('\n== mem0-gov per stage: mean ms per check, from mem0gov_check_duration_seconds (measured runs)');
    const stageNames = [...new Set([...stagesBy.values()].flatMap((s) => stageMeans(s).map((x) => x.stage)))].sort(compareStages);
    console.log(table(['stage', ...SCENARIOS.map((s) => s.name)], stageNames.map((st) => [st, ...SCENARIOS.map((sc) => {
      const hit = stageMeans(stagesBy.get(sc.name)!).find((x) => x.stage === st);
      return hit === undefined ? '–' : hit.meanMs.toFixed(3);
    })])));
    console.log('  (stages run in sequence inside one check; "total" is the whole check inside the service, gRPC framing excluded)');

    // One client through Envoy: with mem0-gov (ext_authz + the response stage, as shipped), with
    // ext_authz only, and Envoy alone (neither filter) — same Mem0 stand-in, same request.
    console.log(`\n== through Envoy, one client, one request at a time: ${opts.httpRequests} requests per Envoy after ${opts.httpWarmup} warm-up, alternating`);
    const up = mem0UpstreamFromUrl(stack.mem0Url);
    authzOnly = await startEnvoy({
      authzGrpcPort: authz.grpcPort, authzHttpPort: authz.httpPort, mem0Host: up.host, mem0Port: up.port,
      variant: 'grpc', authzTimeout: '2s', workDir: join(dir, 'envoy-authz-only'), withoutResponseStage: true,
    });
    bare = await startBareEnvoy({ workDir: join(dir, 'envoy-alone'), mem0Host: up.host, mem0Port: up.port, authzGrpcPort: authz.grpcPort, authzHttpPort: authz.httpPort });
    const FULL = 'Envoy + mem0-gov (ext_authz + response stage)';
    const AUTHZ = 'Envoy + mem0-gov ext_authz only';
    const ALONE = 'Envoy alone';
    const lat = await alternate([
      { name: FULL, port: stack.envoy.port, caFile: stack.envoy.caFile },
      { name: AUTHZ, port: authzOnly.port, caFile: authzOnly.caFile },
      { name: ALONE, port: bare.port, caFile: bare.caFile },
    ], SEARCH_PATH, token, body, opts.httpWarmup, opts.httpRequests);
    const alone = summarize(lat.get(ALONE)!.ms);
    const viaEnvoy = new Map([...lat].map(([k, v]) => [k, summarize(v.ms)]));
    const failedOf = (k: string): string => [...lat.get(k)!.failed].map(([w, c]) => `${c} × ${w}`).join(', ') || '0';
    console.log(table(['path', 'p50 ms', 'p99 ms', 'added p50', 'added p99', 'failed'], [...viaEnvoy].map(([k, s]) => [
      k, f2(s.p50), f2(s.p99), k === ALONE ? '' : `+${f2(s.p50 - alone.p50)}`, k === ALONE ? '' : `+${f2(s.p99 - alone.p99)}`, failedOf(k),
    ])));
    console.log('  (HTTP/1.1 over TLS, one kept-alive connection per Envoy; Mem0 stand-in search with 5 memories; the response stage waits for the outcome row to be durable)');

    // The goals (printed, not asserted).
    const fig = (sc: string, sys: string): RunFigures | undefined => results.get(sc)?.get(sys);
    const pair = (sc: string, pick: (f: RunFigures) => number): { mem0gov: number; peer?: number } => {
      const p = fig(sc, PEER);
      return { mem0gov: pick(fig(sc, MEM0GOV)!), ...(p ? { peer: pick(p) } : {}) };
    };
    const inputs: GoalInputs = {
      rps16: pair('16 concurrent', (f) => f.rps),
      rps64: pair('64 concurrent', (f) => f.rps),
      p50At500: pair('fixed 500/s', (f) => f.p50),
      p50One: fig('1 concurrent', MEM0GOV)!.p50,
      addedThroughEnvoy: viaEnvoy.get(AUTHZ)!.p50 - alone.p50,
      cpuPer1000: fig('fixed 500/s', MEM0GOV)!.cpuPer1000,
      cpuPer1000At64: fig('64 concurrent', MEM0GOV)!.cpuPer1000,
    };
    console.log('\n== goals (issue #15), on this machine');
    console.log(table(['goal', 'measured', 'verdict'], judgeGoals(inputs).map((g) => [g.goal, g.measured, g.verdict])));
    console.log('  (added p50 through Envoy: ext_authz only against Envoy alone — the check; the response stage is the line above it)');
    if (batchMs !== '0') {
      console.log(`  (one check at a time waits for the audit group-commit window, MEM0_GOV_AUDIT_BATCH_MS=${batchMs} ms, before its row commits and it is answered; MEM0_GOV_AUDIT_BATCH_MS=0 commits at once)`);
    }

    // The README's table, from this run.
    console.log('\n== markdown (README "Performance")');
    const sysNames = systems.map((s) => s.name);
    console.log(`| scenario | ${sysNames.map((s) => `${s}: allowed/s · p50 / p99 ms · CPU s/1000`).join(' | ')} |`);
    console.log(`|---|${sysNames.map(() => '---').join('|')}|`);
    for (const sc of SCENARIOS) {
      console.log(`| ${sc.name} | ${sysNames.map((s) => {
        const f = fig(sc.name, s)!;
        return `${Math.round(f.rps)} · ${f2(f.p50)} / ${f2(f.p99)} · ${f3(f.cpuPer1000)}`;
      }).join(' | ')} |`);
    }
    console.log('');
    console.log(`| through Envoy, one client | p50 / p99 ms | added p50 / p99 |`);
    console.log('|---|---|---|');
    for (const [k, v] of viaEnvoy) console.log(`| ${k} | ${f2(v.p50)} / ${f2(v.p99)} | ${k === ALONE ? '—' : `+${f2(v.p50 - alone.p50)} / +${f2(v.p99 - alone.p99)}`} |`);
    console.log('');
    console.log('| goal | measured | |');
    console.log('|---|---|---|');
    for (const g of judgeGoals(inputs)) console.log(`| ${g.goal} | ${g.measured} | ${g.verdict === 'held' ? 'held' : `**${g.verdict}**`} |`);
    console.log(`\nload average at the end: ${load()}`);
  } finally {
    await bare?.stop().catch(() => undefined);
    await authzOnly?.stop().catch(() => undefined);
    await peer?.stop().catch(() => undefined);
    await empty?.stop().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  let opts: Options;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\nusage: npx tsx bench/check/run.ts [--smoke] [--duration s] [--warmup s] [--repeats n] [--connections n] [--http-requests n] [--peer-no-jwt-cache] [--tsx]`);
    process.exit(64);
  }
  await main(opts);
}

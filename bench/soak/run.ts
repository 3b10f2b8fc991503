// Soak: a steady open-loop load of mixed allowed and denied requests through the real Envoy with
// the shipped budgets (ext_authz 250 ms) for 10 minutes, authz as its own process. Every 10 s it
// samples authz's RSS, heap and event-loop lag (its /metrics) and what the clients saw; at the end
// it checks the audit trail against every answer (testing/audit-check.ts: every answered decision
// stored once with the status the client got, chains valid) and prints the figures.
//
//   npx tsx bench/soak/run.ts [minutes=10]      RATE=300 requests/s
//
// Asserts nothing; prints the machine it ran on.
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startStack } from '../../testing/stack.js';
import { latency, loadClient, mixed, openLoop, tally, type LoadResult } from '../../testing/load.js';
import { checkAudit } from '../../testing/audit-check.js';
import { waitFor } from '../../testing/tools.js';

const minutes = Number(process.argv[2] ?? 10);
const RATE = Number(process.env.RATE ?? 300);
const SAMPLE_MS = 10_000;

const fmt = (n: number, d = 1): string => n.toFixed(d);

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const stack = await startStack({
  authzTimeout: 'shipped',
  authzProcesses: 1,
  env: { MEM0_GOV_LIMIT_DEFAULT: '1000000/m', MEM0_GOV_LIMIT_TENANT_DEFAULT: '10000000/m', MEM0_GOV_LOG_LEVEL: 'warn' },
});
const authz = stack.replicas[0]!;
try {
  const toks = await Promise.all(Array.from({ length: 50 }, (_, k) => stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: `soak-${k}`, ttl: 4 * 3600 })));
  const client = loadClient(stack.envoy.baseUrl, stack.envoy.caFile, { sessions: 4 });
  console.log(`soak: ${RATE} req/s for ${minutes} min through Envoy (ext_authz 250 ms), half allowed reads, half cross-tenant denials`);
  console.log('   t   | req   | 5xx | Envoy | p50 ms | p99 ms | max ms | RSS MB | heap MB | lag p99 ms | lag max ms');
  const epoch = performance.now();
  const all: LoadResult[] = [];
  const samples: { rss: number; heap: number; lagP99: number; lagMax: number }[] = [];
  for (let t = 0; t < minutes * 60_000; t += SAMPLE_MS) {
    const chunk = await openLoop(client, { rate: RATE, durationMs: SAMPLE_MS, make: mixed(toks), epoch });
    all.push(...chunk);
    stack.mem0!.requests.length = 0; // the stand-in keeps every request it saw: not for 10 minutes
    const m = await authz.metrics();
    const s = {
      rss: metric(m, 'mem0gov_process_process_resident_memory_bytes') / 2 ** 20,
      heap: metric(m, 'mem0gov_process_nodejs_heap_size_used_bytes') / 2 ** 20,
      lagP99: metric(m, 'mem0gov_process_nodejs_eventloop_lag_p99_seconds') * 1000,
      lagMax: metric(m, 'mem0gov_process_nodejs_eventloop_lag_max_seconds') * 1000,
    };
    samples.push(s);
    const l = latency(chunk.map((r) => r.ms));
    console.log(`${String(Math.round((t + SAMPLE_MS) / 1000)).padStart(5)} s | ${String(chunk.length).padStart(5)} | ${String(chunk.filter((r) => r.status >= 500).length).padStart(3)} | ${String(chunk.filter((r) => r.by === 'envoy').length).padStart(5)} | ${fmt(l.p50).padStart(6)} | ${fmt(l.p99).padStart(6)} | ${fmt(l.max).padStart(6)} | ${fmt(s.rss).padStart(6)} | ${fmt(s.heap).padStart(7)} | ${fmt(s.lagP99).padStart(10)} | ${fmt(s.lagMax).padStart(10)}`);
  }
  await client.close();

  const allowed = all.filter((r) => r.tag === 'allow');
  const ok = allowed.filter((r) => r.status >= 200 && r.status < 300).length;
  const l = latency(all.map((r) => r.ms));
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  console.log('\nsummary');
  console.log(`  requests ${all.length}; allowed ${allowed.length}, 2xx ${ok} (${fmt((100 * ok) / allowed.length, 3)} %); 5xx ${all.filter((r) => r.status >= 500).length}, of which Envoy on its own ${all.filter((r) => r.by === 'envoy').length}`);
  console.log(`  latency ms: p50 ${fmt(l.p50)}, p90 ${fmt(l.p90)}, p99 ${fmt(l.p99)}, max ${fmt(l.max)}`);
  console.log(`  by answer: ${JSON.stringify(tally(all))}`);
  console.log(`  authz RSS MB: first sample ${fmt(first.rss)}, last ${fmt(last.rss)}, max ${fmt(Math.max(...samples.map((s) => s.rss)))}; heap used MB first ${fmt(first.heap)}, last ${fmt(last.heap)}`);
  console.log(`  event-loop lag ms (prom-client, cumulative since start): p99 ${fmt(last.lagP99)}, max ${fmt(last.lagMax)}`);

  await waitFor('spool replayed', async () => metric(await authz.metrics(), 'mem0gov_audit_spool_depth') === 0, 60_000, 200).catch(() => undefined);
  const a = await checkAudit(stack.pgOwnerUrl, all);
  console.log(`  audit: decision rows ${a.decisionRows} (answered by authz or Mem0: ${all.filter((r) => r.by === 'authz' || r.by === 'mem0').length}), outcome rows ${a.outcomeRows}, marked not delivered ${a.undelivered}`);
  console.log(`  chains: ${a.chains.map((c) => `${c.chain} ${c.rows} rows ${c.problem ?? 'valid'}`).join('; ')}`);
  console.log(`  trail vs clients: ${a.problems.length === 0 ? 'consistent' : `${a.problems.length} problems, e.g. ${a.problems.slice(0, 3).join(' | ')}`}; answers Envoy gave up on just as authz sent them: ${a.lateUnflagged.length}`);
} finally {
  await stack.stop();
}
console.log(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`);
process.exit(0);

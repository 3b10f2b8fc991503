// Policy evaluation throughput: the real bundle (compiled by policies/build.sh in this run) on
// representative inputs from the matrix, against a trivial `allow` bundle compiled in the same
// run. Prints figures; asserts nothing. Goal: ≥ 50,000 decisions/s on one core, ratio ≥ 0.3.
//   npx tsx bench/policy/run.ts [seconds-per-bundle]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createPolicyEngine, type RunningPolicyEngine } from '../../authz/src/policy/engine.js';
import type { PolicyInput } from '../../authz/src/types.js';
import { buildShippedPolicy, compileRego, TRIVIAL_ALLOW_REGO } from '../../policies/compile.js';
import type { MatrixCase } from '../../policies/matrix.js';
import { ROOT } from '../../testing/tools.js';

const seconds = Number(process.argv[2] ?? 3);

const matrix = (JSON.parse(readFileSync(join(ROOT, 'policies', 'matrix.json'), 'utf8')) as {
  mem0gov_matrix: { data: unknown; cases: MatrixCase[] };
}).mem0gov_matrix;

// The traffic mix: mostly allowed reads/writes in the caller's tenant, some denials.
const PICK = [
  'agent-reader memories.get own-tenant', 'agent-reader search own-tenant', 'agent-writer memories.create own-tenant',
  'agent-writer memories.update own-tenant', 'agent-reader memories.list own-tenant', 'agent-reader+phi-reader memories.get phi',
  'agent-writer search other-tenant', 'agent-reader memories.delete own-tenant', 'admin memories.delete own-tenant',
  'agent-writer memories.create cidr-inside',
];
const inputs: PolicyInput[] = PICK.map((name) => {
  const c = matrix.cases.find((x) => x.name === name);
  if (!c) throw new Error(`no matrix case ${name}`);
  return c.input;
});

// The two bundles are measured in alternating short rounds and compared by median, so load
// from other processes hits both alike instead of skewing the ratio.
const ROUNDS = 6;

function measure(bundle: RunningPolicyEngine, roundSeconds: number): number {
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(roundSeconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 1000; i++) bundle.evaluate(inputs[(n + i) % inputs.length]!);
    n += 1000;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const dir = mkdtempSync(join(tmpdir(), 'mem0gov-bench-policy-'));
try {
  // Through the engine the service uses (validation, metrics), not the bare SDK.
  const dataPath = join(dir, 'data.json');
  writeFileSync(dataPath, JSON.stringify(matrix.data));
  const trivialPath = join(dir, 'trivial.wasm');
  writeFileSync(trivialPath, compileRego({ 'trivial.rego': TRIVIAL_ALLOW_REGO }));
  const logger = pino({ level: 'silent' });
  const real = await createPolicyEngine({ wasmPath: buildShippedPolicy(dir), dataPath, watch: false }, logger);
  const trivial = await createPolicyEngine({ wasmPath: trivialPath, dataPath, watch: false }, logger);
  const inputBytes = inputs.map((i) => JSON.stringify(i).length);
  console.log(`inputs: ${inputs.length} representative cases, ${Math.min(...inputBytes)}–${Math.max(...inputBytes)} bytes of JSON each`);
  for (const b of [trivial, real]) for (let i = 0; i < 5000; i++) b.evaluate(inputs[i % inputs.length]!); // warm-up
  const trivialRates: number[] = [];
  const realRates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    trivialRates.push(measure(trivial, seconds / ROUNDS));
    realRates.push(measure(real, seconds / ROUNDS));
  }
  const trivialRate = median(trivialRates);
  const realRate = median(realRates);
  const fmt = (x: number): string => Math.round(x).toLocaleString('en');
  console.log(`${ROUNDS} alternating rounds of ${(seconds / ROUNDS).toFixed(2)} s per bundle; median (min–max)`);
  console.log(`trivial allow bundle: ${fmt(trivialRate)} decisions/s (${fmt(Math.min(...trivialRates))}–${fmt(Math.max(...trivialRates))})`);
  console.log(`mem0.authz bundle:    ${fmt(realRate)} decisions/s (${fmt(Math.min(...realRates))}–${fmt(Math.max(...realRates))}) (goal ≥ 50,000)`);
  console.log(`ratio real/trivial:   ${(realRate / trivialRate).toFixed(2)} (goal ≥ 0.30)`);
  await real.close();
  await trivial.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Coverage-guided fuzzing of mem0-gov's attacker-facing parsers and codecs, for a set time:
//
//   npx tsx fuzz/run.ts --seconds 600                 # every target, the time split between them
//   npx tsx fuzz/run.ts --seconds 300 --target jwt    # one target (repeat --target for several)
//   npx tsx fuzz/run.ts --seconds 60 --seed 42        # replayable run
//
// Inputs come from each target's fast-check generator (structured, attacker-shaped) and from
// mutating the corpus (fuzz/engine/mutate.ts). After every input the V8 block coverage of
// authz/src is read (fuzz/engine/coverage.ts); an input that reaches new coverage joins the
// corpus. At the end the corpus is minimized (smallest inputs that keep every feature) and written
// to fuzz/corpus/<target>.jsonl; inputs that broke a property go to .state/fuzz/findings/ and are
// printed. Exit code 1 when anything was found. `npm test` replays the corpus (fuzz/fuzz.test.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { Coverage } from './engine/coverage.js';
import { corpusPath, FUZZ_DIR, readJsonl, regressionsPath, writeJsonl } from './engine/corpus.js';
import { mutate, Rng, type Json } from './engine/mutate.js';
import type { Target } from './engine/target.js';
import { TARGETS, targetByName } from './targets/index.js';

interface Entry { json: Json; size: number; features: Set<string> }
interface Finding { target: string; key: string; error: string; input: Json }

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    target: { type: 'string', multiple: true },
    seed: { type: 'string' },
    'no-minimize': { type: 'boolean', default: false },
  },
});
const totalSeconds = Number(values.seconds);
if (!Number.isFinite(totalSeconds) || totalSeconds <= 0) throw new Error('--seconds must be a positive number');
const targets = values.target && values.target.length > 0 ? values.target.map(targetByName) : TARGETS;
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const FINDINGS_DIR = join(FUZZ_DIR, '..', '.state', 'fuzz', 'findings');

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n') ?? ''}` : String(err);
}

async function runOne(t: Target<unknown>, seconds: number, rng: Rng, cov: Coverage): Promise<{ findings: Finding[]; summary: string }> {
  const teardown = t.setup ? await t.setup() : async () => undefined;
  const findings = new Map<string, Finding>();
  const global = new Set<string>();
  const corpus: Entry[] = [];
  let execs = 0;
  const exec = async (json: Json): Promise<Set<string>> => {
    cov.reset();
    execs++;
    try {
      await t.check(t.fromJson(json));
    } catch (err) {
      const text = errorText(err);
      // One finding per broken property (or per exception message).
      const key = err instanceof Error && err.name === 'PropertyViolation' ? `${err.name}: ${(err as Error & { property: string }).property}` : text.split('\n')[0]!.slice(0, 120);
      if (!findings.has(key)) {
        findings.set(key, { target: t.name, key, error: text, input: json });
        console.log(`  [${t.name}] FOUND ${key}\n    input: ${JSON.stringify(json).slice(0, 400)}`);
      }
    }
    return cov.take();
  };
  const keep = (json: Json, features: Set<string>): boolean => {
    let fresh = false;
    for (const f of features) if (!global.has(f)) { global.add(f); fresh = true; }
    if (fresh) corpus.push({ json, size: JSON.stringify(json).length, features });
    return fresh;
  };

  try {
    // Seed: the committed corpus and the regressions.
    const seedInputs = [...readJsonl(corpusPath(t.name)), ...readJsonl(regressionsPath(t.name))] as Json[];
    for (const j of seedInputs) keep(j, await exec(j));
    const loaded = corpus.length;
    const deadline = Date.now() + seconds * 1000;
    let fresh: Json[] = [];
    let lastReport = Date.now();
    while (Date.now() < deadline) {
      let input: Json;
      if (corpus.length === 0 || rng.chance(0.25)) {
        if (fresh.length === 0) fresh = fc.sample(t.arbitrary, { numRuns: 200, seed: rng.int(2 ** 31) }) as Json[];
        input = JSON.parse(JSON.stringify(fresh.pop())) as Json;
      } else {
        const donors = [corpus[rng.int(corpus.length)]!.json, corpus[rng.int(corpus.length)]!.json];
        input = mutate(rng.pick(corpus).json, rng, t.dictionary, donors);
      }
      keep(input, await exec(input));
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        console.log(`  [${t.name}] ${execs} execs, corpus ${corpus.length}, features ${global.size}, findings ${findings.size}`);
      }
    }
    // Minimize: smallest inputs first, each kept only if it adds a feature.
    let kept = corpus;
    if (!values['no-minimize']) {
      const covered = new Set<string>();
      kept = [];
      for (const e of [...corpus].sort((a, b) => a.size - b.size || b.features.size - a.features.size)) {
        let adds = false;
        for (const f of e.features) if (!covered.has(f)) { adds = true; break; }
        if (!adds) continue;
        for (const f of e.features) covered.add(f);
        kept.push(e);
      }
    }
    const regressions = new Set(readJsonl(regressionsPath(t.name)).map((j) => JSON.stringify(j)));
    writeJsonl(corpusPath(t.name), kept.filter((e) => !regressions.has(JSON.stringify(e.json))).map((e) => e.json));
    const summary = `${t.name}: ${seconds.toFixed(0)} s, ${execs} execs (${(execs / seconds).toFixed(0)}/s), features ${global.size}, corpus ${loaded} loaded → ${corpus.length} → ${kept.length} kept, findings ${findings.size}`;
    return { findings: [...findings.values()], summary };
  } finally {
    await teardown();
  }
}

const cov = new Coverage((url) => url.includes('/authz/src/'));
cov.start();
const rng = new Rng(seed);
console.log(`fuzz: seed ${seed}, ${totalSeconds} s over ${targets.map((t) => t.name).join(', ')}`);
const all: Finding[] = [];
const summaries: string[] = [];
for (const t of targets) {
  console.log(`- ${t.name}: ${t.about}`);
  const { findings, summary } = await runOne(t, totalSeconds / targets.length, rng, cov);
  all.push(...findings);
  summaries.push(summary);
}
cov.stop();
console.log('\n' + summaries.join('\n'));
if (all.length > 0) {
  mkdirSync(FINDINGS_DIR, { recursive: true });
  const file = join(FINDINGS_DIR, `findings-${seed}.jsonl`);
  writeFileSync(file, all.map((f) => JSON.stringify(f)).join('\n') + '\n');
  console.log(`\n${all.length} finding(s), inputs in ${file}:`);
  for (const f of all) console.log(`  [${f.target}] ${f.key}`);
  process.exitCode = 1;
} else {
  console.log('\nno findings');
}

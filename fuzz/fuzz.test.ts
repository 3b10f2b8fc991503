// What `npm test` runs of the fuzzing (fuzz/README.md): every committed corpus entry and every
// regression (an input that once broke a property) replayed through its target, then a short
// property run of fresh generated inputs (fast-check; a new random seed each run, printed on
// failure so it can be replayed with `fc.assert(..., { seed })`). The long, coverage-guided runs
// are `npx tsx fuzz/run.ts --seconds N`, which also grows the corpus replayed here.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusPath, readJsonl, regressionsPath } from './engine/corpus.js';
import { TARGETS } from './targets/index.js';

/** Fresh inputs per target in `npm test` (seconds in all on the 2-core CI machine). */
const RUNS: Record<string, number> = { request: 1000, filters: 1000, jwt: 300, audit: 300 };

for (const t of TARGETS) {
  describe(`fuzz target ${t.name}`, () => {
    let teardown: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      teardown = t.setup ? await t.setup() : undefined;
    });
    afterAll(async () => {
      await teardown?.();
    });

    it('replays its corpus and regressions', async () => {
      const corpus = readJsonl(corpusPath(t.name));
      const regressions = readJsonl(regressionsPath(t.name));
      // The corpus is what the coverage-guided runs kept: an empty one would replay nothing.
      expect(corpus.length, `${corpusPath(t.name)} is (nearly) empty: run npx tsx fuzz/run.ts`).toBeGreaterThanOrEqual(10);
      const failures: string[] = [];
      for (const [i, entry] of [...corpus, ...regressions].entries()) {
        try {
          await t.check(t.fromJson(entry));
        } catch (err) {
          failures.push(`#${i} ${(err as Error).message.slice(0, 300)}\n  input: ${JSON.stringify(entry).slice(0, 300)}`);
        }
      }
      expect(failures, failures.join('\n')).toEqual([]);
    }, 60_000);

    it(`holds for ${RUNS[t.name] ?? 100} fresh generated inputs`, async () => {
      await fc.assert(
        fc.asyncProperty(t.arbitrary, async (input) => {
          // The same JSON round trip a corpus entry takes.
          await t.check(t.fromJson(JSON.parse(JSON.stringify(input)) as unknown));
        }),
        { numRuns: RUNS[t.name] ?? 100 },
      );
    }, 60_000);
  });
}

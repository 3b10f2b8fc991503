// The corpus in the repository: one JSON input per line, `fuzz/corpus/<target>.jsonl` (inputs that
// reached new coverage, minimized by the driver) and `fuzz/regressions/<target>.jsonl` (inputs that
// once broke a property, kept after the fix). `npm test` replays both (fuzz/fuzz.test.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FUZZ_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export function corpusPath(target: string): string {
  return join(FUZZ_DIR, 'corpus', `${target}.jsonl`);
}

export function regressionsPath(target: string): string {
  return join(FUZZ_DIR, 'regressions', `${target}.jsonl`);
}

export function readJsonl(path: string): unknown[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    try {
      return JSON.parse(l) as unknown;
    } catch (err) {
      throw new Error(`${path} line ${i + 1}: ${(err as Error).message}`);
    }
  });
}

export function writeJsonl(path: string, entries: readonly unknown[]): void {
  mkdirSync(dirname(path), { recursive: true });
  // Sorted, so a re-run that keeps the same inputs writes the same file.
  const lines = [...new Set(entries.map((e) => JSON.stringify(e)))].sort();
  writeFileSync(path, lines.length > 0 ? lines.join('\n') + '\n' : '');
}

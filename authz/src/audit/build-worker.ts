// Prebuilt plain-JS bundle of the verify worker (verify-worker.ts and what it imports), so pool
// workers start without loading TypeScript through tsx (~0.2 s CPU each). The bundle sits in the
// git-ignored dist/ with a manifest of its source files; the pool uses it only while it is newer
// than all of them (freshWorkerBundle), else falls back to the tsx path.
// Run: `npx tsx authz/src/audit/build-worker.ts [outfile]` (scripts/build.sh does).
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ENTRY = resolve(HERE, 'verify-worker.ts');
/** Default bundle location: <repo>/dist/audit/verify-worker.mjs. */
export const WORKER_BUNDLE = resolve(HERE, '../../../dist/audit/verify-worker.mjs');

const manifestOf = (bundle: string): string => `${bundle}.inputs.json`;

/** Bundles the worker to `outfile` (ESM, node20) and writes its manifest of absolute source paths. */
export async function buildWorkerBundle(outfile = WORKER_BUNDLE): Promise<string> {
  // Loaded on demand: only the build needs esbuild (a dependency of tsx), never the pool.
  const esbuild = await import('esbuild');
  const cwd = process.cwd();
  const result = await esbuild.build({
    entryPoints: [ENTRY], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20',
    metafile: true, logLevel: 'warning', absWorkingDir: cwd,
  });
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(cwd, p));
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(manifestOf(outfile), `${JSON.stringify({ inputs }, null, 2)}\n`);
  return outfile;
}

/**
 * `bundle` if it exists and is newer than every source it was built from (per its manifest);
 * null when missing, stale, or its manifest is unreadable or names a file that no longer exists.
 */
export function freshWorkerBundle(bundle = WORKER_BUNDLE): string | null {
  try {
    const built = statSync(bundle).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(manifestOf(bundle), 'utf8')) as { inputs?: unknown };
    if (!Array.isArray(inputs) || inputs.length === 0) return null;
    for (const src of inputs) {
      if (typeof src !== 'string' || statSync(src).mtimeMs > built) return null;
    }
    return bundle;
  } catch {
    return null;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildWorkerBundle(process.argv[2] !== undefined ? resolve(process.argv[2]) : WORKER_BUNDLE);
  process.stdout.write(`verify worker bundle: ${out}\n`);
}

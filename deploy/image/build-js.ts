// Compiles the authz service to plain JavaScript, so the container image runs `node` on it with
// no TypeScript loader (docker/Dockerfile, stage `build`, runs exactly this):
//   1. `tsc -p tsconfig.build.json` emits authz/src/**/*.ts as ESM into <root>/dist/authz/**.js
//      (same module layout as the sources, so every import.meta.url-relative lookup — the audit
//      migrations, the gRPC protos, a worker thread's entry — resolves as it does from authz/src);
//   2. only if the compiled code looks for a prebuilt audit verify worker (authz/src/audit/
//      build-worker.ts and its WORKER_BUNDLE, <root>/dist/audit/verify-worker.mjs): that bundle,
//      made with esbuild from the compiled output, with the manifest of the compiled files it came
//      from (they exist in the image too), so `audit verify` in the image starts its worker threads
//      from it instead of looking for TypeScript. Code that starts its workers from its own
//      compiled files needs nothing more.
// The layout lives in deploy/image/layout.ts (the Dockerfile, the chart and tests use it).
//
// Usage: npx tsx deploy/image/build-js.ts --root DIR     (the image: --root /app)
// `npm run build:js` builds into dist/image/. Not into the repository's own dist/: a verify worker
// bundle there is scripts/build.sh's, from the TypeScript sources.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { LAYOUT } from './layout.js';

const execFileP = promisify(execFile);
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BuiltTree {
  root: string;
  /** <root>/dist/authz/main.js */
  main: string;
  /** <root>/dist/authz/cli/bin.js */
  cli: string;
  /** <root>/dist/audit/verify-worker.mjs when the compiled code wants a prebuilt worker bundle, else null. */
  workerBundle: string | null;
}

/** Builds into `root` (created; its dist/ is replaced). */
export async function buildJs(rootArg: string): Promise<BuiltTree> {
  const root = isAbsolute(rootArg) ? rootArg : resolve(process.cwd(), rootArg);
  const dist = join(root, 'dist');
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  const outDir = join(root, LAYOUT.compiledDir);
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await execFileP(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.build.json'), '--outDir', outDir], { cwd: REPO, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`tsc failed: ${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`);
  }

  // Static files tsc does not emit: the audit explorer page, next to its compiled server.
  const ui = join(REPO, 'authz', 'src', 'auditapi', 'ui');
  if (existsSync(ui)) cpSync(ui, join(outDir, 'auditapi', 'ui'), { recursive: true });
  const workerBundle = await bundleVerifyWorker(root, dist, outDir);
  return { root, main: join(root, LAYOUT.main), cli: join(root, LAYOUT.cli), workerBundle };
}

/** Step 2 (see the header); null when the compiled code has no prebuilt-bundle lookup. */
async function bundleVerifyWorker(root: string, dist: string, outDir: string): Promise<string | null> {
  const lookup = join(outDir, 'audit', 'build-worker.js');
  if (!existsSync(lookup)) return null;
  // Where the compiled code will look for the bundle, asked of the compiled code itself.
  const { WORKER_BUNDLE: workerBundle } = (await import(pathToFileURL(lookup).href)) as { WORKER_BUNDLE: string };
  if (workerBundle !== join(root, LAYOUT.workerBundle)) {
    throw new Error(`compiled code looks for the verify worker at ${workerBundle}, not ${join(root, LAYOUT.workerBundle)}: update deploy/image/layout.ts`);
  }
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(outDir, 'audit', 'verify-worker.js')], outfile: workerBundle, bundle: true,
    platform: 'node', format: 'esm', target: 'node20', metafile: true, logLevel: 'warning', absWorkingDir: root,
    // Packages come from this checkout's node_modules, wherever the tree is built.
    nodePaths: [join(REPO, 'node_modules')],
  });
  // The manifest freshWorkerBundle() reads: the compiled files the bundle was built from, by
  // absolute path. Packages from node_modules are inside the bundle; listing them would tie its
  // freshness to the mtimes of another image stage's npm install.
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(root, p)).filter((p) => p.startsWith(`${dist}/`));
  if (inputs.length === 0) throw new Error('verify worker bundle: no compiled inputs recorded');
  writeFileSync(`${workerBundle}.inputs.json`, `${JSON.stringify({ inputs }, null, 2)}\n`);
  return workerBundle;
}

function argRoot(argv: string[]): string {
  const i = argv.indexOf('--root');
  const v = i >= 0 ? argv[i + 1] : undefined;
  if (v === undefined || v === '') throw new Error('usage: build-js.ts --root DIR');
  return v;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const built = await buildJs(argRoot(process.argv.slice(2)));
  process.stdout.write(`compiled: ${built.main}, ${built.cli}${built.workerBundle ? `; verify worker bundle: ${built.workerBundle}` : ''}\n`);
}

// The image's JavaScript, proven without a Docker engine: deploy/image/build-js.ts (the command
// docker/Dockerfile's build stage runs) compiles into a temporary tree laid out like the image
// (/app: dist/, audit/, policies/, package.json, node_modules with production packages only and
// without tsx), then that tree is run with plain `node`: a bad configuration stops it with exit
// 78 naming the variable; the migration Job's command migrates a real PostgreSQL as the schema
// owner; the service starts as the INSERT-only writer against real Redis and PostgreSQL, answers
// /healthz, /readyz and /metrics, and stops cleanly on SIGTERM; `audit verify` passes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg_ from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../../../testing/postgres.js';
import { startRedis, type RedisHandle } from '../../../testing/redis.js';
import { freePort, waitFor } from '../../../testing/tools.js';
import { buildJs, REPO, type BuiltTree } from '../build-js.js';
import { LAYOUT } from '../layout.js';

const execFileP = promisify(execFile);

/** Packages a production image leaves out on top of devDependencies: the TypeScript loader. */
const NOT_AT_RUN_TIME = new Set(['tsx', 'esbuild', '@esbuild']);

/** node_modules of the image: the lock's non-dev top-level packages, minus NOT_AT_RUN_TIME. */
function linkRuntimeModules(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const linked: string[] = [];
  for (const [key, meta] of Object.entries(lock.packages)) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key);
    if (!m || meta.dev === true) continue;
    const name = m[1]!;
    if (NOT_AT_RUN_TIME.has(name) || NOT_AT_RUN_TIME.has(name.split('/')[0]!)) continue;
    const target = join(REPO, 'node_modules', name);
    if (!existsSync(target)) continue; // optional, for another platform
    const link = join(root, 'node_modules', name);
    mkdirSync(join(link, '..'), { recursive: true });
    symlinkSync(target, link, 'dir');
    linked.push(name);
  }
  return linked;
}

interface Run { code: number | null; stdout: string; stderr: string }

function run(tree: BuiltTree, script: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: tree.root, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? null), stdout, stderr }));
  });
}

function exited(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((resolve) => p.once('exit', (code) => resolve(code)));
}

let tree: BuiltTree;
let linked: string[];

beforeAll(async () => {
  const wasm = join(REPO, 'policies', 'build', 'policy.wasm');
  if (!existsSync(wasm)) throw new Error(`${wasm} missing: run \`npm run build\` (scripts/build.sh) first`);
  const root = mkdtempSync(join(tmpdir(), 'mem0gov-image-'));
  tree = await buildJs(root);
  // What the runtime stage of docker/Dockerfile copies next to dist/.
  cpSync(join(REPO, 'package.json'), join(root, 'package.json'));
  cpSync(join(REPO, 'audit', 'migrations'), join(root, 'audit', 'migrations'), { recursive: true });
  mkdirSync(join(root, 'policies', 'build'), { recursive: true });
  cpSync(wasm, join(root, 'policies', 'build', 'policy.wasm'));
  cpSync(join(REPO, 'policies', 'data.json'), join(root, 'policies', 'data.json'));
  linked = linkRuntimeModules(root);
}, 180_000);

afterAll(() => {
  if (tree) rmSync(tree.root, { recursive: true, force: true });
});

describe('compiled JavaScript (deploy/image/build-js.ts)', () => {
  it('emits the service and the CLI where the image and the chart run them', () => {
    expect(tree.main).toBe(join(tree.root, LAYOUT.main));
    expect(tree.cli).toBe(join(tree.root, LAYOUT.cli));
    for (const f of [tree.main, tree.cli, ...(tree.workerBundle ? [tree.workerBundle] : [])]) expect(existsSync(f), f).toBe(true);
    // Plain JavaScript: no .ts file in the output.
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const files = walk(join(tree.root, 'dist'));
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.js')).length).toBeGreaterThan(50);
    // The audit explorer page travels with its compiled server (tsc emits no static files).
    for (const f of ['index.html', 'app.js', 'app.css']) expect(files).toContain(join(tree.root, LAYOUT.compiledDir, 'auditapi', 'ui', f));
  });

  it('runs without tsx or any devDependency installed', () => {
    expect(linked).toContain('@grpc/grpc-js');
    expect(linked).not.toContain('tsx');
    expect(linked).not.toContain('typescript');
    expect(existsSync(join(tree.root, 'node_modules', 'tsx'))).toBe(false);
  });

  it('audit verify\'s worker threads start from compiled JavaScript, never through tsx', async () => {
    // The only code that names the tsx package may be the old verify pool's fallback (used when
    // no fresh worker bundle exists); where that pool is compiled, the bundle must be fresh.
    const named = (await execFileP('grep', ['-rlE', `['"]tsx(/[^'"]*)?['"]`, join(tree.root, 'dist')]).catch(() => ({ stdout: '' }))).stdout.trim().split('\n').filter(Boolean)
      .map((f) => f.slice(tree.root.length + 1));
    const fallback = `${LAYOUT.compiledDir}/audit/verify-pool.js`;
    expect(named.filter((f) => f !== fallback)).toEqual([]);
    if (named.includes(fallback) || tree.workerBundle !== null) {
      expect(tree.workerBundle).toBe(join(tree.root, LAYOUT.workerBundle));
      const probe = `import(${JSON.stringify(join(tree.root, LAYOUT.compiledDir, 'audit', 'build-worker.js'))}).then((m) => console.log(m.freshWorkerBundle()))`;
      const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', probe], { cwd: tree.root });
      expect(stdout.trim()).toBe(tree.workerBundle);
    } else {
      // Workers run the compiled verify-worker.js itself.
      expect(existsSync(join(tree.root, LAYOUT.compiledDir, 'audit', 'verify-worker.js'))).toBe(true);
    }
  });

  it('stops on a bad configuration with exit 78 naming the variable (service and CLI)', async () => {
    const noIssuer = await run(tree, tree.main, [], {});
    expect(noIssuer.code).toBe(78);
    expect(noIssuer.stderr).toContain('MEM0_GOV_JWT_ISSUERS');
    const badPort = await run(tree, tree.main, [], { MEM0_GOV_JWT_ISSUERS: 'https://idp.example', MEM0_GOV_GRPC_PORT: 'ninety' });
    expect(badPort.code).toBe(78);
    expect(badPort.stderr).toContain('MEM0_GOV_GRPC_PORT');
    const cli = await run(tree, tree.cli, ['audit', 'migrate'], { MEM0_GOV_PG_URL: 'not a url', MEM0_GOV_ADMIN_ACTOR: 'test' });
    expect(cli.code).toBe(78);
    expect(cli.stderr).toContain('MEM0_GOV_PG_URL');
  });
});

describe('compiled JavaScript against real Redis and PostgreSQL, as the chart runs it', () => {
  let redis: RedisHandle;
  let pg: PostgresHandle;
  let dir: string;
  let ownerUrl: string;
  let writerUrl: string;

  beforeAll(async () => {
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    dir = mkdtempSync(join(tmpdir(), 'mem0gov-image-run-'));
    // What the DBA runs, exactly as docs/kubernetes.md gives it (step 2).
    const doc = readFileSync(join(REPO, 'docs', 'kubernetes.md'), 'utf8');
    const block = /<!-- dba-sql -->\n```sql\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block, 'docs/kubernetes.md: the dba-sql block').toBeDefined();
    const c = new pg_.Client(pg.adminUrl);
    await c.connect();
    // One statement at a time: CREATE DATABASE cannot run inside the implicit transaction of a multi-statement query.
    for (const stmt of block!.replaceAll('<owner password>', 'owner-pw').replaceAll('<writer password>', 'writer-pw').split(';').map((x) => x.trim()).filter(Boolean)) {
      await c.query(stmt);
    }
    await c.end();
    ownerUrl = `postgres://mem0gov_owner@127.0.0.1:${pg.port}/mem0gov`;
    writerUrl = `postgres://mem0gov_writer@127.0.0.1:${pg.port}/mem0gov`;
  }, 120_000);

  afterAll(async () => {
    await redis?.stop();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('migrates as the schema owner with the Job\'s command, then starts, serves and drains as the writer', async () => {
    // The migration Job: node dist/authz/cli/bin.js audit migrate, owner URL, actor set.
    const migrated = await run(tree, tree.cli, ['audit', 'migrate'], { MEM0_GOV_PG_URL: ownerUrl, MEM0_GOV_ADMIN_ACTOR: 'helm:test' });
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
    const versions = readdirSync(join(REPO, 'audit', 'migrations')).filter((f) => /^\d+_.*\.sql$/.test(f)).sort().map((f) => f.replace(/\.sql$/, ''));
    expect(versions.slice(0, 2)).toEqual(['001_audit_chain', '002_row_format']);
    expect(migrated.stdout.trim()).toBe(`applied ${versions.join(', ')}`);
    const again = await run(tree, tree.cli, ['audit', 'migrate'], { MEM0_GOV_PG_URL: ownerUrl, MEM0_GOV_ADMIN_ACTOR: 'helm:test' });
    expect(again.stdout).toContain('audit schema is current');

    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' } as Record<string, unknown>;
    delete jwk.d;
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    const ck = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'checkpoint.pem'), ck.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const http = await freePort();
    const env: Record<string, string> = {
      MEM0_GOV_GRPC_HOST: '127.0.0.1',
      MEM0_GOV_GRPC_PORT: String(await freePort()),
      MEM0_GOV_HTTP_HOST: '127.0.0.1',
      MEM0_GOV_HTTP_PORT: String(http),
      MEM0_GOV_DRAIN_SECONDS: '0',
      MEM0_GOV_LOG_LEVEL: 'warn',
      MEM0_GOV_JWT_ISSUERS: 'https://idp.example/realms/mem0',
      MEM0_GOV_JWKS_FILE: join(dir, 'jwks.json'),
      MEM0_GOV_REDIS_URL: redis.url,
      MEM0_GOV_PG_URL: writerUrl,
      MEM0_GOV_AUDIT_MIGRATE: 'false',
      MEM0_GOV_AUDIT_CHAIN_ID: 'mem0-gov.mem0-gov-authz-0',
      // The compiled main.js as a primary with two workers (each its own entry), whatever the CPU count.
      MEM0_GOV_WORKERS: '2',
      MEM0_GOV_AUDIT_SPOOL_DIR: join(dir, 'spool'),
      MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: join(dir, 'checkpoint.pem'),
    };
    const svc = spawn(process.execPath, [tree.main], { cwd: tree.root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    svc.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8000); });
    try {
      await waitFor('compiled authz /readyz', async () => {
        if (svc.exitCode !== null) throw new Error(`authz exited ${svc.exitCode}: ${stderr}`);
        return (await fetch(`http://127.0.0.1:${http}/readyz`)).status === 200;
      }, 30_000, 100);
      expect((await fetch(`http://127.0.0.1:${http}/healthz`)).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
      expect(metrics).toContain('mem0gov_audit_spool_depth');
      expect(metrics).toMatch(/mem0gov_policy_revision_info\{[^}]*\} 1/);
    } finally {
      svc.kill('SIGTERM');
    }
    expect(await exited(svc)).toBe(0);

    // The admin CLI of the image, as the writer (what `kubectl exec … audit verify` runs).
    const verified = await run(tree, tree.cli, ['audit', 'verify'], { MEM0_GOV_PG_URL: writerUrl, MEM0_GOV_ADMIN_ACTOR: 'test', MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: join(dir, 'checkpoint.pem') });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 120_000);
});

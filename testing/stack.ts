// The whole thing on loopback: redis-server, PostgreSQL, the Mem0 stand-in (or a real Mem0),
// the dev token issuer, the authz service and Envoy. `npm run stack` and the e2e tests use it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import pg_ from 'pg';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from './redis.js';
import { startPostgres } from './postgres.js';
import { startMem0Standin } from './mem0-standin.js';
import { startEnvoy } from './envoy.js';
import { mem0UpstreamFromUrl } from '../envoy/render.js';
import { ROOT, freePort, waitFor } from './tools.js';
import { pausePostgres, redisPid, resumePostgres, signalAll } from './signals.js';
import { ensureDevKey, mintDevToken, serveDevIssuer } from '../authz/src/identity/dev-issuer.js';
import type { MintOptions } from '../authz/src/identity/dev-issuer.js';
import { startService } from '../authz/src/service.js';
import type { ServiceHandle } from '../authz/src/service.js';
import { createLogger } from '../authz/src/logger.js';
import { migrate } from '../authz/src/audit/migrate.js';
import { buildJs } from '../deploy/image/build-js.js';

const PgClient = pg_.Client;

export interface StackOptions {
  /** Fixed ports for `npm run stack`; free ports when omitted (tests). */
  ports?: { envoy?: number; envoyAdmin?: number; grpc?: number; http?: number; mem0?: number; issuer?: number };
  /** Use this Mem0 instead of the stand-in. */
  mem0Url?: string;
  /** Where generated material (dev key, certs, spool) goes; a temp dir by default. */
  stateDir?: string;
  /** Extra MEM0_GOV_* variables for the authz service. */
  env?: Record<string, string>;
  /** The caller's environment (`npm run stack`: process.env). Its MEM0_GOV_* variables reach
   * the authz service too — e.g. MEM0_GOV_MEM0_API_KEY_FILE for a real Mem0 — except the ones
   * the stack wires itself (ports, Redis, PostgreSQL, issuer, …): those are listed in the
   * result's `ignoredEnv` so a stale `source .state/stack.env` cannot point authz elsewhere. */
  inheritEnv?: Readonly<Record<string, string | undefined>>;
  variant?: 'grpc' | 'http';
  logLevel?: string;
  /** ext_authz timeout; default 2s for test stacks (the shipped config's 0.25s is kept by
   * `npm run stack` and tested on its own in authz/test/integration/envoy). */
  authzTimeout?: string;
  /** Mem0 API key the stand-in requires and authz injects (MEM0_GOV_MEM0_API_KEY_FILE). */
  mem0ApiKey?: string;
  /** Run authz as this many separate processes (`node --import tsx authz/src/main.ts`, as
   * operators run it), each with its own ports and audit chain, all behind Envoy's authz
   * clusters — for fault tests (signals: SIGTERM, SIGKILL, SIGSTOP) and benches. Default: one
   * in-process service (`stack.authz`). */
  authzProcesses?: number;
  /** Replicas run the compiled JavaScript the image runs (deploy/image/build-js.ts, into
   * dist/stack-<pid>) instead of the TypeScript sources through tsx. Benches that measure start-up
   * use it: tsx transpiles at load and keeps a loader thread. Compiled once per process. */
  authzCompiled?: boolean;
  /** Benches: Envoy's admission token bucket (requests/s) sized to the machine. */
  admissionRate?: number;
  /** Envoy's bound on checks in flight to authz (RenderEnvoyOptions.checksInFlight); default the
   * shipped 64. Tests that flood authz itself raise it. */
  checksInFlight?: number;
  /** Tests whose subject is the check alone: Envoy without the response stage (ext_proc). */
  withoutResponseStage?: boolean;
  /** Envoy traces every request and exports to this OTLP/HTTP receiver port (docs/tracing.md);
   * authz exports there too when `env` sets OTEL_TRACES_EXPORTER=otlp. */
  envoyTracing?: { otlpPort: number };
}

const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
const MAIN = join(ROOT, 'authz', 'src', 'main.ts');
/** The image's JavaScript for replicas (`authzCompiled`), built once per process (a bench starts
 * many stacks) into a directory of its own under dist/ (inside the repository: the compiled
 * files find node_modules from there), removed when the process exits. */
let compiled: Promise<string> | undefined;
function compiledMain(): Promise<string> {
  if (compiled === undefined) {
    const root = join(ROOT, 'dist', `stack-${process.pid}`);
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    compiled = buildJs(root).then((t) => t.main);
  }
  return compiled;
}

/** One authz replica running as its own process (fault tests, benches). */
export interface AuthzProcess {
  readonly index: number;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly chainId: string;
  readonly env: Readonly<Record<string, string>>;
  /** The running process's pid (undefined while stopped). */
  pid(): number | undefined;
  /** Everything it wrote (JSON log lines), this run and earlier ones. */
  output(): string;
  /** Sends a signal (SIGTERM drains, SIGKILL crashes, SIGSTOP / SIGCONT freeze and thaw). */
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the exit code (null after a signal) when the process ends. */
  exited(): Promise<number | null>;
  /** Starts it (again, same ports, chain and spool); resolves once /healthz answers. `nodeArgs`:
   * extra node flags (e.g. `--cpu-prof` for a bench). */
  start(extraEnv?: Record<string, string>, nodeArgs?: string[]): Promise<void>;
  /** Resolves once it reports SERVING (warm, not draining): `/serving` answers 200. */
  serving(timeoutMs?: number): Promise<void>;
  /** Its Prometheus text (`/metrics`). */
  metrics(): Promise<string>;
  /** SIGKILL if still running (after SIGCONT, in case it was stopped). */
  kill(): Promise<void>;
}

function authzProcess(index: number, env: Record<string, string>, grpcPort: number, httpPort: number, chainId: string, entry?: string): AuthzProcess {
  let child: ChildProcess | undefined;
  let exit: Promise<number | null> = Promise.resolve(null);
  let out = '';
  // One process per replica unless the caller asks for workers (MEM0_GOV_WORKERS): the fault
  // tests' signals (SIGSTOP, SIGKILL) mean one process.
  const base = { MEM0_GOV_WORKERS: '1', ...env, MEM0_GOV_GRPC_PORT: String(grpcPort), MEM0_GOV_HTTP_PORT: String(httpPort), MEM0_GOV_AUDIT_CHAIN_ID: chainId };
  const url = (p: string): string => `http://127.0.0.1:${httpPort}${p}`;
  const proc: AuthzProcess = {
    index, grpcPort, httpPort, chainId, env: base,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    output: () => out,
    signal(sig) {
      if (proc.pid() !== undefined) child!.kill(sig);
    },
    exited: () => exit,
    async start(extraEnv = {}, nodeArgs = []) {
      if (proc.pid() !== undefined) throw new Error(`authz replica ${index} is already running`);
      child = spawn(process.execPath, [...nodeArgs, ...(entry !== undefined ? [entry] : ['--import', TSX, MAIN])], {
        cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...base, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      const c = child;
      const capture = (d: Buffer): void => {
        out += d.toString();
        if (out.length > 4_000_000) out = out.slice(-2_000_000);
      };
      c.stdout!.on('data', capture);
      c.stderr!.on('data', capture);
      exit = new Promise((r) => c.once('exit', (code) => r(code)));
      await waitFor(`authz replica ${index} /healthz`, async () => {
        if (c.exitCode !== null) throw new Error(`authz replica ${index} exited with ${c.exitCode}: ${out.slice(-3000)}`);
        return (await fetch(url('/healthz'))).ok;
      }, 60_000, 50);
    },
    async serving(timeoutMs = 60_000) {
      await waitFor(`authz replica ${index} SERVING`, async () => (await fetch(url('/serving'))).ok, timeoutMs, 50);
    },
    async metrics() {
      return (await fetch(url('/metrics'))).text();
    },
    async kill() {
      if (proc.pid() === undefined) return;
      child!.kill('SIGCONT');
      child!.kill('SIGKILL');
      await exit;
    },
  };
  return proc;
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

export async function startStack(opts: StackOptions = {}) {
  // A Mem0 URL Envoy cannot be pointed at fails here, before anything starts.
  const givenUpstream = opts.mem0Url !== undefined ? mem0UpstreamFromUrl(opts.mem0Url) : undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'mem0gov-stack-'));
  await mkdir(stateDir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const testBudgets = opts.authzTimeout !== 'shipped';
  const stopAll = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const pg = await startPostgres();
    stops.push(() => pg.stop());
    // The audit schema is migrated by the owner role at authz start; authz itself writes
    // as the INSERT/SELECT-only role the migration creates.
    const boot = new PgClient(pg.adminUrl);
    await boot.connect();
    await boot.query('CREATE DATABASE mem0gov');
    await boot.end();
    const pgOwnerUrl = `postgres://postgres@127.0.0.1:${pg.port}/mem0gov`;
    const pgWriterUrl = `postgres://mem0gov_writer@127.0.0.1:${pg.port}/mem0gov`;
    await migrate(pgOwnerUrl); // what `mem0-gov audit migrate` does in a deployment
    // Ed25519 checkpoint key, generated per stack (never committed).
    const checkpointKeyFile = join(stateDir, 'audit-checkpoint-key.pem');
    const checkpointPubFile = join(stateDir, 'audit-checkpoint-pub.pem');
    if (!existsSync(checkpointKeyFile)) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      await writeFile(checkpointKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      await writeFile(checkpointPubFile, publicKey.export({ type: 'spki', format: 'pem' }));
    }

    const mem0 = opts.mem0Url
      ? undefined
      : await startMem0Standin({ ...(opts.ports?.mem0 ? { port: opts.ports.mem0 } : {}), ...(opts.mem0ApiKey ? { requireApiKey: opts.mem0ApiKey } : {}) });
    if (mem0) stops.push(() => mem0.stop());
    const mem0Url = opts.mem0Url ?? mem0!.url;

    const devDir = join(stateDir, 'dev-issuer');
    const devKey = await ensureDevKey(devDir);
    const issuerSrv = await serveDevIssuer(devKey, opts.ports?.issuer ?? (await freePort()));
    stops.push(() => issuerSrv.close());
    await writeFile(join(devDir, 'issuer'), issuerSrv.issuer);

    const own: Record<string, string> = {
      MEM0_GOV_GRPC_HOST: '127.0.0.1',
      MEM0_GOV_GRPC_PORT: String(opts.ports?.grpc ?? (await freePort())),
      MEM0_GOV_HTTP_HOST: '127.0.0.1',
      MEM0_GOV_HTTP_PORT: String(opts.ports?.http ?? (await freePort())),
      MEM0_GOV_DRAIN_SECONDS: '0',
      MEM0_GOV_MEM0_URL: mem0Url,
      MEM0_GOV_JWT_ISSUERS: issuerSrv.issuer,
      MEM0_GOV_JWT_AUDIENCE: 'mem0-gov',
      MEM0_GOV_REDIS_URL: redis.url,
      MEM0_GOV_PG_URL: pgWriterUrl,
      MEM0_GOV_PG_ADMIN_URL: pgOwnerUrl,
      MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: checkpointKeyFile,
      MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE: checkpointPubFile,
      MEM0_GOV_AUDIT_SPOOL_DIR: join(stateDir, 'spool'),
      MEM0_GOV_AUDIT_VERIFY_STATE: join(stateDir, 'audit-verify.json'),
      MEM0_GOV_AUDIT_CHAIN_ID: `stack-${process.pid}`,
    };
    if (opts.mem0ApiKey) {
      const keyFile = join(stateDir, 'mem0-api-key');
      await writeFile(keyFile, opts.mem0ApiKey, { mode: 0o600 });
      own.MEM0_GOV_MEM0_API_KEY_FILE = keyFile;
    }
    // With a key of its own (the stand-in's), the stack owns both forms of the key variable.
    const owned = new Set([...Object.keys(own), ...(opts.mem0ApiKey ? ['MEM0_GOV_MEM0_API_KEY'] : [])]);
    const inherited: Record<string, string> = {};
    const ignoredEnv: string[] = [];
    for (const [k, v] of Object.entries(opts.inheritEnv ?? {})) {
      if (!k.startsWith('MEM0_GOV_') || v === undefined) continue;
      if (owned.has(k)) {
        // MEM0_GOV_MEM0_URL is honoured through opts.mem0Url; only a different value is news.
        if (own[k] !== v && !(k === 'MEM0_GOV_MEM0_URL' && v === opts.mem0Url)) ignoredEnv.push(k);
      } else {
        inherited[k] = v;
      }
    }
    const env: Record<string, string> = {
      // Test machines are loaded; the owner lookup gets more than the 200 ms production default,
      // and authz's own budget follows Envoy's raised timeout (2 s): 1.6 s, so Redis and the
      // audit commit get 400 ms each before their failure paths apply (the shipped 50 ms would
      // turn a scheduling stall of a busy CI machine into a 503).
      ...(testBudgets ? { MEM0_GOV_OWNER_TIMEOUT_MS: '1500' } : {}),
      ...(testBudgets && opts.authzTimeout === undefined ? { MEM0_GOV_CHECK_BUDGET_MS: '1600' } : {}),
      ...inherited,
      ...own,
      ...opts.env,
    };
    const logger = createLogger(opts.logLevel ?? 'warn');
    const replicas: AuthzProcess[] = [];
    let authz: ServiceHandle | undefined;
    if (opts.authzProcesses !== undefined && opts.authzProcesses > 0) {
      const main = opts.authzCompiled === true ? await compiledMain() : undefined;
      for (let i = 0; i < opts.authzProcesses; i++) {
        replicas.push(authzProcess(i, { ...env, MEM0_GOV_LOG_LEVEL: opts.logLevel ?? env.MEM0_GOV_LOG_LEVEL ?? 'warn' },
          i === 0 ? Number(own.MEM0_GOV_GRPC_PORT) : await freePort(), i === 0 ? Number(own.MEM0_GOV_HTTP_PORT) : await freePort(),
          `stack-${process.pid}-r${i}`, main));
      }
      stops.push(async () => { await Promise.all(replicas.map((r) => r.kill())); });
      await Promise.all(replicas.map((r) => r.start()));
      await Promise.all(replicas.map((r) => r.serving()));
    } else {
      authz = await startService(env, { logger });
      stops.push(() => authz!.stop(0));
    }
    const first = replicas[0];

    // Envoy sends allowed requests to the host and port of the Mem0 URL (TLS for https).
    const upstream = givenUpstream ?? mem0UpstreamFromUrl(mem0Url);
    const envoy = await startEnvoy({
      authzGrpcPort: first?.grpcPort ?? authz!.grpcPort,
      authzHttpPort: first?.httpPort ?? authz!.httpPort,
      ...(opts.admissionRate !== undefined ? { admissionRate: opts.admissionRate } : {}),
      ...(opts.checksInFlight !== undefined ? { checksInFlight: opts.checksInFlight } : {}),
      ...(opts.withoutResponseStage === true ? { withoutResponseStage: true } : {}),
      ...(opts.envoyTracing !== undefined ? { tracing: opts.envoyTracing } : {}),
      ...(replicas.length > 1 ? { extraAuthzReplicas: replicas.slice(1).map((r) => ({ grpcPort: r.grpcPort, httpPort: r.httpPort })) } : {}),
      mem0Host: upstream.host,
      mem0Port: upstream.port,
      mem0Tls: upstream.tls,
      variant: opts.variant ?? 'grpc',
      ...(testBudgets ? { authzTimeout: opts.authzTimeout ?? '2s' } : {}),
      workDir: join(stateDir, 'envoy'),
      ...(opts.ports?.envoy ? { port: opts.ports.envoy } : {}),
      ...(opts.ports?.envoyAdmin ? { adminPort: opts.ports.envoyAdmin } : {}),
    });
    stops.push(() => envoy.stop());

    const token = (o: Omit<MintOptions, 'issuer' | 'audience'> & { audience?: string }): Promise<string> =>
      mintDevToken(devKey, { audience: 'mem0-gov', ...o, issuer: issuerSrv.issuer });

    return {
      stateDir,
      redis,
      pg,
      pgOwnerUrl,
      pgWriterUrl,
      mem0,
      mem0Url,
      envoy,
      issuer: issuerSrv.issuer,
      env,
      ignoredEnv,
      token,
      get authz(): ServiceHandle {
        if (authz === undefined) throw new Error('this stack runs authz as processes: use stack.replicas');
        return authz;
      },
      /** authz as separate processes (`authzProcesses`), in Envoy's endpoint order; else empty. */
      replicas,
      /** Faults for fault tests and benches: freeze PostgreSQL or Redis (SIGSTOP of every
       * process, so connections stay open and nothing answers), thaw them, or hold a lock on the
       * audit table. */
      faults: {
        pgPause(): void {
          pausePostgres(pg.dataDir);
        },
        pgResume(): void {
          resumePostgres(pg.dataDir);
        },
        /** Holds ACCESS EXCLUSIVE on audit.events for `ms` (as the owner), then releases it. */
        async pgLock(ms: number): Promise<void> {
          const c = new PgClient(pgOwnerUrl);
          await c.connect();
          try {
            await c.query('BEGIN');
            await c.query('LOCK TABLE audit.events IN ACCESS EXCLUSIVE MODE');
            await new Promise((r) => setTimeout(r, ms));
            await c.query('COMMIT');
          } finally {
            await c.end();
          }
        },
        redisPause(): void {
          signalAll([redisPid(redis.port)], 'SIGSTOP');
        },
        redisResume(): void {
          signalAll([redisPid(redis.port)], 'SIGCONT');
        },
      },
      /** Stops the authz service (its ports stay unanswered) — for fail-closed tests. */
      async stopAuthz(): Promise<void> {
        await authz?.stop(0);
      },
      /** Starts authz again with the same configuration (and optional overrides). */
      async restartAuthz(extra: Record<string, string> = {}): Promise<void> {
        authz = await startService({ ...env, ...extra }, { logger });
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

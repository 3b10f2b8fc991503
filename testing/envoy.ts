// Runs the real Envoy binary with a config rendered from envoy/*.yaml on free loopback ports, with
// freshly generated dev certs. Shared by tests and `npm run stack`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTHZ_GRPC_CLUSTER, renderEnvoyConfig, type EnvoyVariant, type RenderEnvoyOptions } from '../envoy/render.js';
import { generateDevCerts } from './certs.js';
import { freePort, tool, waitFor } from './tools.js';

export interface StartEnvoyOptions {
  authzGrpcPort: number;
  mem0Port: number;
  authzHttpPort?: number;
  variant?: EnvoyVariant;
  /** Where the certs and the rendered config go; default: a temp dir removed by stop(). */
  workDir?: string;
  /** Where the dev certs go (the stack keeps them in .state/certs); default: <workDir>/certs. */
  certDir?: string;
  /** TLS port; default: a free port. */
  port?: number;
  /** Listener bind address; default 127.0.0.1. */
  listenAddress?: string;
  adminPort?: number;
  /** Mem0 / authz host when not 127.0.0.1 (e.g. MEM0_GOV_MEM0_URL's host). */
  mem0Host?: string;
  authzHost?: string;
  /** Mem0 over TLS (an https Mem0 URL): SNI and certificate name = mem0Host (see renderEnvoyConfig). */
  mem0Tls?: boolean;
  /** CA bundle for Mem0's certificate; default: the system bundle. */
  mem0CaFile?: string;
  /** Called with every chunk Envoy writes (e.g. to echo the access log in `npm run stack`). */
  onOutput?: (chunk: string) => void;
  /** ext_authz timeout override (see renderEnvoyConfig); default: the shipped 0.25s. */
  authzTimeout?: string;
  /** Bench/test only: no response stage (ext_proc) — see RenderEnvoyOptions.withoutResponseStage. */
  withoutResponseStage?: boolean;
  /** More authz replicas behind the same clusters (see RenderEnvoyOptions.extraAuthzReplicas). */
  extraAuthzReplicas?: { grpcPort: number; httpPort?: number }[];
  /** Benches: the admission token bucket in requests/s (see RenderEnvoyOptions.admissionRate). */
  admissionRate?: number;
  /** Envoy's bound on checks in flight (see RenderEnvoyOptions.checksInFlight). */
  checksInFlight?: number;
  /** Envoy's OpenTelemetry tracer exporting to an OTLP/HTTP receiver (see RenderEnvoyOptions.tracing). */
  tracing?: RenderEnvoyOptions['tracing'];
  /** Envoy's own log level (access logs are always on stdout); default warn. */
  logLevel?: string;
  /** Benches: edits the rendered config before Envoy starts (bench/check's "Envoy alone"). */
  transformConfig?: (yaml: string) => string;
}

export interface RunningEnvoy {
  port: number;
  adminPort: number;
  caFile: string;
  /** https://127.0.0.1:<port> — trust `caFile` (SAN covers localhost and 127.0.0.1). */
  baseUrl: string;
  configFile: string;
  workDir: string;
  /** Everything Envoy wrote so far (stdout access log lines and stderr). */
  logs(): string;
  /** The JSON access log lines written so far. */
  accessLog(): Array<Record<string, unknown>>;
  /** Envoy's counters and gauges now (admin /stats), by name — e.g.
   * `cluster.mem0_gov_authz.upstream_rq_timeout` (checks Envoy gave up on) and
   * `cluster.mem0_gov_authz.upstream_rq_active_overflow` (checks refused over the bound). */
  stats(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

const MAX_LOG_CHARS = 4 * 1024 * 1024;

async function adminReady(adminPort: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/ready`);
  return res.status === 200 && (await res.text()).trim() === 'LIVE';
}

/** Resolves once a TLS handshake with the listener succeeds. */
function tlsAccepts(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      sock.end();
      resolve(true);
    });
    sock.on('error', () => resolve(false));
    sock.setTimeout(1000, () => { sock.destroy(); resolve(false); });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startEnvoy(opts: StartEnvoyOptions): Promise<RunningEnvoy> {
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'mem0-gov-envoy-')));
  await mkdir(workDir, { recursive: true });
  const certs = await generateDevCerts(opts.certDir ?? join(workDir, 'certs'));
  const port = opts.port ?? (await freePort());
  const adminPort = opts.adminPort ?? (await freePort());
  const configFile = join(workDir, 'envoy.yaml');
  const rendered = renderEnvoyConfig({
    listenPort: port,
    adminPort,
    authzGrpcPort: opts.authzGrpcPort,
    mem0Port: opts.mem0Port,
    mem0Host: opts.mem0Host,
    ...(opts.mem0Tls ? { mem0Tls: true } : {}),
    ...(opts.mem0CaFile !== undefined ? { mem0CaFile: opts.mem0CaFile } : {}),
    authzHost: opts.authzHost,
    authzHttpPort: opts.authzHttpPort,
    variant: opts.variant,
    ...(opts.authzTimeout !== undefined ? { authzTimeout: opts.authzTimeout } : {}),
    ...(opts.withoutResponseStage ? { withoutResponseStage: true } : {}),
    ...(opts.extraAuthzReplicas ? { extraAuthzReplicas: opts.extraAuthzReplicas } : {}),
    ...(opts.admissionRate !== undefined ? { admissionRate: opts.admissionRate } : {}),
    ...(opts.checksInFlight !== undefined ? { checksInFlight: opts.checksInFlight } : {}),
    ...(opts.tracing !== undefined ? { tracing: opts.tracing } : {}),
    listenAddress: opts.listenAddress ?? '127.0.0.1',
    certFile: certs.certFile,
    keyFile: certs.keyFile,
  });
  await writeFile(configFile, opts.transformConfig === undefined ? rendered : opts.transformConfig(rendered));

  let output = '';
  // --disable-hot-restart: no shared-memory base id, so any number of Envoys can run side by side.
  // Access log lines are flushed every 100 ms (Envoy's default is 10 s) so tests and the stack see them.
  const child = spawn(tool('envoy'), [
    '-c', configFile, '--disable-hot-restart', '--concurrency', '1', '--log-level', opts.logLevel ?? 'warn',
    '--file-flush-interval-msec', '100',
  ], { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const capture = (d: string): void => {
    output += d;
    // A long-running stack keeps only the most recent output in memory.
    if (output.length > MAX_LOG_CHARS) output = output.slice(output.indexOf('\n', output.length - MAX_LOG_CHARS / 2) + 1);
    opts.onOutput?.(d);
  };
  child.stdout.setEncoding('utf8').on('data', capture);
  child.stderr.setEncoding('utf8').on('data', capture);
  const killOnExit = (): void => { child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const done = exited(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await done;
      clearTimeout(timer);
    }
    if (opts.workDir === undefined) await rm(workDir, { recursive: true, force: true });
  };

  const ca = readFileSync(certs.caFile, 'utf8');
  try {
    await waitFor('envoy admin /ready', async () => {
      if (child.exitCode !== null) throw new Error(`envoy exited with ${child.exitCode}: ${output.slice(-2000)}`);
      return adminReady(adminPort);
    }, 20_000);
    await waitFor('envoy TLS listener', () => tlsAccepts(port, ca), 10_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- envoy output ---\n${output.slice(-4000)}`);
  }

  return {
    port,
    adminPort,
    caFile: certs.caFile,
    baseUrl: `https://127.0.0.1:${port}`,
    configFile,
    workDir,
    logs: () => output,
    accessLog: () => output.split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } }),
    stats: () => envoyStats(adminPort),
    stop,
  };
}

/** Envoy's counters that say what became of checks (gRPC variant's check cluster): given up on
 * at the ext_authz timeout, and refused over the bound on checks in flight (attempts, retries
 * included). */
export const CHECK_COUNTERS = {
  timeouts: [`cluster.${AUTHZ_GRPC_CLUSTER}.upstream_rq_timeout`],
  overBound: [`cluster.${AUTHZ_GRPC_CLUSTER}.upstream_rq_active_overflow`, `cluster.${AUTHZ_GRPC_CLUSTER}.upstream_rq_pending_overflow`],
} as const;

/** How much the counters `keys` grew between two readings of stats(), summed. */
export function counted(before: Record<string, number>, after: Record<string, number>, keys: readonly string[]): number {
  return keys.reduce((n, k) => n + (after[k] ?? 0) - (before[k] ?? 0), 0);
}

/** Envoy's counters and gauges by name (admin `/stats?format=json`; histograms left out). */
export async function envoyStats(adminPort: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats?format=json`);
  const body = (await res.json()) as { stats: Array<{ name?: string; value?: unknown }> };
  const out: Record<string, number> = {};
  for (const s of body.stats) if (s.name !== undefined && typeof s.value === 'number') out[s.name] = s.value;
  return out;
}

/** `envoy --mode validate -c <file>`; cwd is the file's directory (relative cert paths). */
export function validateEnvoyConfig(yamlPath: string, cwd?: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(tool('envoy'), ['--mode', 'validate', '-c', yamlPath, '--log-level', 'warn'], { cwd, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ ok: err === null && /OK/.test(stdout + stderr), output: stdout + stderr }));
  });
}

// Drives ext_authz Check with ghz (github.com/bojand/ghz), the gRPC load tool: a Go binary, so
// the load generator does not share the node runtime with the systems measured. It reads Envoy's
// protos from @grpc/grpc-js-xds (the include roots authz/src/grpc/protos.ts uses) — our server has
// no reflection. The binary comes from $GHZ or .tools/bin/ghz; bench/check/tools.sh installs it.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { EXT_AUTHZ_PROTO, protoIncludeDirs } from '../../authz/src/grpc/protos.js';
import { ROOT, TOOLS_BIN } from '../../testing/tools.js';

const execFileP = promisify(execFile);

/** ghz's binary: $GHZ, else .tools/bin/ghz, installed by bench/check/tools.sh when missing. */
export function ghzBinary(env: Readonly<Record<string, string | undefined>>): string {
  const given = env.GHZ;
  if (given !== undefined && given !== '') {
    if (!existsSync(given)) throw new Error(`GHZ=${given}: no such file`);
    return given;
  }
  const p = join(TOOLS_BIN, 'ghz');
  if (!existsSync(p)) {
    console.log('ghz missing: bash bench/check/tools.sh ghz (go install, pinned) …');
    execFileSync('bash', [join(ROOT, 'bench', 'check', 'tools.sh'), 'ghz'], { stdio: 'inherit' });
  }
  return p;
}

/** ghz's version: tools.sh's stamp next to the binary (`go install` builds say "dev"), else --version. */
export function ghzVersion(bin: string): string {
  const stamp = join(dirname(bin), '.ghz-version');
  if (existsSync(stamp)) return readFileSync(stamp, 'utf8').trim();
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
}

/** How ghz loads: closed loop at `concurrency`, or open loop at a fixed `rps`. */
export interface Load {
  concurrency: number;
  /** HTTP/2 connections the calls share (ghz --connections; at most `concurrency`). */
  connections: number;
  /** Fixed request rate (ghz --rps); closed loop when absent. */
  rps?: number;
  durationS: number;
}

/** What one ghz run measured (latencies in ms). */
export interface GhzResult {
  count: number;
  ok: number;
  errors: number;
  /** Wall time of the run (s). */
  seconds: number;
  p50: number;
  p99: number;
  /** Non-OK gRPC statuses and error messages, with counts. */
  problems: Record<string, number>;
}

/** The part of ghz's JSON report (`--format json`) the bench reads; latencies in ns. */
interface GhzReport {
  count: number;
  total: number;
  statusCodeDistribution?: Record<string, number>;
  errorDistribution?: Record<string, number>;
  latencyDistribution?: { percentage: number; latency: number }[] | null;
}

/** Reads ghz's JSON report. Throws on a report without the figures (ghz failed to run). */
export function parseGhzReport(text: string): GhzResult {
  const r = JSON.parse(text) as GhzReport;
  if (typeof r.count !== 'number' || typeof r.total !== 'number') throw new Error('ghz report without count/total');
  const pct = (p: number): number => {
    const hit = (r.latencyDistribution ?? []).find((d) => d.percentage === p);
    return hit === undefined ? NaN : hit.latency / 1e6;
  };
  const codes = r.statusCodeDistribution ?? {};
  const ok = codes.OK ?? 0;
  const problems: Record<string, number> = {};
  for (const [k, v] of Object.entries(codes)) if (k !== 'OK') problems[k] = v;
  for (const [k, v] of Object.entries(r.errorDistribution ?? {})) problems[k] = (problems[k] ?? 0) + v;
  return { count: r.count, ok, errors: r.count - ok, seconds: r.total / 1e9, p50: pct(50), p99: pct(99), problems };
}

/** ghz's command line for one run against `target` (host:port), the CheckRequest in `dataFile`. */
export function ghzArgs(target: string, dataFile: string, load: Load, outFile: string): string[] {
  return [
    '--insecure',
    '--proto', EXT_AUTHZ_PROTO,
    '--import-paths', protoIncludeDirs().join(','),
    '--call', 'envoy.service.auth.v3.Authorization.Check',
    '--data-file', dataFile,
    '--concurrency', String(load.concurrency),
    // Envoy keeps one HTTP/2 connection per worker thread to its ext_authz cluster; node:cluster
    // hands whole connections to mem0-gov's workers, so fewer connections than workers idles some.
    '--connections', String(Math.max(1, Math.min(load.connections, load.concurrency))),
    ...(load.rps !== undefined ? ['--rps', String(load.rps)] : []),
    '--duration', `${load.durationS}s`,
    // Calls still in flight when the time is up are neither counted nor errors.
    '--duration-stop', 'ignore',
    // Envoy's ext_authz timeout in the test stacks; a slower answer is an error, not a latency.
    '--timeout', '2s',
    '--format', 'json',
    '--output', outFile,
    target,
  ];
}

/** Runs ghz once and reads its report. */
export async function runGhz(bin: string, target: string, dataFile: string, load: Load, outFile: string): Promise<GhzResult> {
  try {
    await execFileP(bin, ghzArgs(target, dataFile, load, outFile), { maxBuffer: 64 * 1024 * 1024, timeout: (load.durationS + 60) * 1000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`ghz failed: ${(e.stderr || e.stdout || e.message).trim().slice(0, 2000)}`);
  }
  // The report lists every call (a few MB for a long run): read it once, then drop it.
  const text = readFileSync(outFile, 'utf8');
  rmSync(outFile, { force: true });
  return parseGhzReport(text);
}

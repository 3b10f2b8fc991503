// The peer: opa-envoy-plugin (OPA with Envoy's ext_authz gRPC server built in) running
// bench/check/peer-policy/authz.rego. Its binary comes from $OPA_ENVOY_PLUGIN (a path): the Go
// module proxy refuses `go install` of it, so it is built from the public source (README.md in
// this folder, or `bash bench/check/tools.sh opa-envoy-plugin`). Without it the bench runs the
// other two systems and says the peer was not run.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { JWK } from 'jose';
import { ROOT, freePort, waitFor } from '../../testing/tools.js';

export const PEER_POLICY = join(ROOT, 'bench', 'check', 'peer-policy', 'authz.rego');

export interface PeerOptions {
  binary: string;
  workDir: string;
  /** The dev issuer's public key (generated at run time), its issuer and the audience. */
  publicJwk: JWK;
  issuer: string;
  audience: string;
  /** role → permissions (policies/data.json mem0gov.roles). */
  roles: Record<string, string[]>;
  /** OPA's verified-token cache (`io_jwt`, off by default in OPA): on, the peer, like mem0-gov,
   * checks a token's signature once and answers later calls with it from the cache. */
  jwtCache: boolean;
}

export interface RunningPeer {
  grpcPort: number;
  pid(): number;
  stop(): Promise<void>;
}

/** The binary named by $OPA_ENVOY_PLUGIN, or undefined when it is not set. */
export function peerBinary(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const p = env.OPA_ENVOY_PLUGIN;
  if (p === undefined || p === '') return undefined;
  if (!existsSync(p)) throw new Error(`OPA_ENVOY_PLUGIN=${p}: no such file`);
  // Absolute: the peer is spawned from another working directory.
  return resolve(p);
}

export async function startPeer(o: PeerOptions): Promise<RunningPeer> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const config = join(o.workDir, 'opa-envoy.yaml');
  // Decision logs are off (no decision_logs section); the gRPC server answers on grpcPort.
  writeFileSync(config, [
    'plugins:',
    '  envoy_ext_authz_grpc:',
    `    addr: 127.0.0.1:${grpcPort}`,
    '    path: envoy/authz/allow',
    '    dry-run: false',
    '    enable-reflection: false',
    ...(o.jwtCache ? [
      'caching:',
      '  inter_query_builtin_value_cache:',
      '    named:',
      '      io_jwt:',
      '        max_num_entries: 10000',
    ] : []),
    '',
  ].join('\n'));
  const dataFile = join(o.workDir, 'data.json');
  writeFileSync(dataFile, JSON.stringify({
    bench: { jwks: JSON.stringify({ keys: [o.publicJwk] }), issuer: o.issuer, audience: o.audience, roles: o.roles },
  }));
  let out = '';
  const child: ChildProcess = spawn(o.binary, [
    'run', '--server', '--addr', `127.0.0.1:${httpPort}`, '--config-file', config,
    '--log-level', 'error', '--skip-version-check', PEER_POLICY, dataFile,
  ], { cwd: o.workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const capture = (d: Buffer): void => { out = (out + d.toString()).slice(-20_000); };
  child.stdout!.on('data', capture);
  child.stderr!.on('data', capture);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // A binary that cannot be started fails the wait below (and so the bench) instead of the process.
  let spawnError: Error | undefined;
  child.once('error', (err) => { spawnError = err; });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  try {
    // /health?plugins: 200 once the policy is loaded and every plugin (the gRPC server) is up.
    await waitFor('opa-envoy-plugin /health?plugins', async () => {
      if (spawnError !== undefined) throw new Error(`opa-envoy-plugin did not start: ${spawnError.message}`);
      if (child.exitCode !== null) throw new Error(`opa-envoy-plugin exited with ${child.exitCode}: ${out}`);
      return (await fetch(`http://127.0.0.1:${httpPort}/health?plugins`)).ok;
    }, 30_000, 100);
  } catch (err) {
    await stop();
    throw err;
  }
  return { grpcPort, pid: () => child.pid!, stop };
}

// "Envoy alone" for bench/check: the committed envoy/envoy.yaml rendered as the test stacks render
// it (envoy/render.ts), then without mem0-gov's two filters — ext_authz and ext_proc, and their
// per-route configs — so TLS, the header scrub, the admission bucket, the buffer filter and
// routing stay as shipped. Bench only: with it nothing is authorized.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { EDGE_LISTENER, EXT_PROC_FILTER, renderEnvoyConfig } from '../../envoy/render.js';
import { generateDevCerts } from '../../testing/certs.js';
import { freePort, tool, waitFor } from '../../testing/tools.js';

export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';

type Path = (string | number)[];

const json = (doc: Document, path: Path): unknown => (doc.getIn(path, false) as { toJSON(): unknown } | undefined)?.toJSON();

/** Removes the named HTTP filters and every per-route / per-virtual-host config of them. */
export function withoutFilters(yamlText: string, filters: readonly string[]): string {
  const doc = parseDocument(yamlText);
  const listeners = (json(doc, ['static_resources', 'listeners']) ?? []) as { name?: string }[];
  const li = listeners.findIndex((l) => l.name === EDGE_LISTENER);
  if (li < 0) throw new Error(`envoy config: no listener ${EDGE_LISTENER}`);
  const hcm: Path = ['static_resources', 'listeners', li, 'filter_chains', 0, 'filters', 0, 'typed_config'];
  for (const name of filters) {
    const list = (json(doc, [...hcm, 'http_filters']) ?? []) as { name?: string }[];
    const i = list.findIndex((f) => f.name === name);
    if (i < 0) throw new Error(`envoy config: no http filter ${name}`);
    doc.deleteIn([...hcm, 'http_filters', i]);
  }
  const dropFrom = (owner: Path): void => {
    const tpfc: Path = [...owner, 'typed_per_filter_config'];
    for (const name of filters) if (doc.hasIn([...tpfc, name])) doc.deleteIn([...tpfc, name]);
    const rest = json(doc, tpfc);
    if (doc.hasIn(tpfc) && (rest === null || rest === undefined || Object.keys(rest as object).length === 0)) doc.deleteIn(tpfc);
  };
  const vhosts: Path = [...hcm, 'route_config', 'virtual_hosts'];
  ((json(doc, vhosts) ?? []) as { routes?: unknown[] }[]).forEach((vh, v) => {
    dropFrom([...vhosts, v]);
    (vh.routes ?? []).forEach((_, k) => dropFrom([...vhosts, v, 'routes', k]));
  });
  return doc.toString({ lineWidth: 0 });
}

export interface BareEnvoy {
  port: number;
  caFile: string;
  pid(): number;
  stop(): Promise<void>;
}

/** Starts Envoy without ext_authz and ext_proc in front of Mem0 at mem0Host:mem0Port. */
export async function startBareEnvoy(o: { workDir: string; mem0Host: string; mem0Port: number; authzGrpcPort: number; authzHttpPort: number }): Promise<BareEnvoy> {
  await mkdir(o.workDir, { recursive: true });
  const certs = await generateDevCerts(join(o.workDir, 'certs'));
  const port = await freePort();
  const adminPort = await freePort();
  const rendered = renderEnvoyConfig({
    listenPort: port, adminPort, listenAddress: '127.0.0.1',
    authzGrpcPort: o.authzGrpcPort, authzHttpPort: o.authzHttpPort,
    mem0Host: o.mem0Host, mem0Port: o.mem0Port, certFile: certs.certFile, keyFile: certs.keyFile,
  });
  const configFile = join(o.workDir, 'envoy.yaml');
  await writeFile(configFile, withoutFilters(rendered, [EXT_AUTHZ_FILTER, EXT_PROC_FILTER]));
  let out = '';
  // The same flags as testing/envoy.ts: one worker, no hot restart.
  const child = spawn(tool('envoy'), ['-c', configFile, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn'],
    { cwd: o.workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  // Access log lines on stdout are read and dropped; only the tail is kept for errors.
  const capture = (d: Buffer): void => { out = (out + d.toString()).slice(-8000); };
  child.stdout.on('data', capture);
  child.stderr.on('data', capture);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  const ca = readFileSync(certs.caFile, 'utf8');
  try {
    await waitFor('bare envoy /ready', async () => {
      if (child.exitCode !== null) throw new Error(`envoy exited with ${child.exitCode}: ${out}`);
      return (await fetch(`http://127.0.0.1:${adminPort}/ready`)).ok;
    }, 20_000);
    await waitFor('bare envoy TLS listener', () => new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    }), 10_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, caFile: certs.caFile, pid: () => child.pid!, stop };
}

// Renders a runnable Envoy config from the committed envoy/*.yaml by replacing only ports,
// addresses and certificate paths. Everything security-relevant (TLS floor, header scrub,
// ext_authz fail-closed settings, body limit) therefore comes from the committed file unchanged.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, type Document } from 'yaml';

export type EnvoyVariant = 'grpc' | 'http';

export interface RenderEnvoyOptions {
  listenPort: number;
  adminPort: number;
  authzGrpcPort: number;
  mem0Port: number;
  certFile: string;
  keyFile: string;
  /** Port of authz's HTTP check endpoint (variant 'http'); default 9192. */
  authzHttpPort?: number;
  variant?: EnvoyVariant;
  /** Listener bind address; default: the committed file's (0.0.0.0). */
  listenAddress?: string;
  /** Host of authz and of Mem0 (an IP or a DNS name); default: the committed file's (127.0.0.1). */
  authzHost?: string;
  mem0Host?: string;
  /** ext_authz timeout (e.g. '2s'); default: the committed file's 0.25s. Test stacks on a
   * loaded 2-core machine raise it so scheduling stalls are not mistaken for verdicts. */
  authzTimeout?: string;
}

const ENVOY_DIR = dirname(fileURLToPath(import.meta.url));

/** The committed config file for a variant. */
export function envoyConfigPath(variant: EnvoyVariant = 'grpc'): string {
  return join(ENVOY_DIR, variant === 'http' ? 'envoy-http-authz.yaml' : 'envoy.yaml');
}

export const EDGE_LISTENER = 'mem0_edge';
export const AUTHZ_GRPC_CLUSTER = 'mem0_gov_authz';
export const AUTHZ_HTTP_CLUSTER = 'mem0_gov_authz_http';
export const MEM0_CLUSTER = 'mem0';

type Path = (string | number)[];

/** Index of the item named `name` in the sequence at `path`; throws if the file changed shape. */
function indexByName(doc: Document, path: Path, name: string): number {
  const seq = doc.getIn(path, false) as { toJSON(): unknown } | undefined;
  const items = (seq?.toJSON() ?? []) as Array<{ name?: unknown }>;
  const i = items.findIndex((it) => it?.name === name);
  if (i < 0) throw new Error(`envoy config: no ${name} under ${path.join('.')}`);
  return i;
}

function setExisting(doc: Document, path: Path, value: string | number): void {
  if (!doc.hasIn(path)) throw new Error(`envoy config: ${path.join('.')} missing`);
  doc.setIn(path, value);
}

function setEndpoint(doc: Document, cluster: string, host: string | undefined, port: number): void {
  const i = indexByName(doc, ['static_resources', 'clusters'], cluster);
  const sock: Path = ['static_resources', 'clusters', i, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address'];
  if (host !== undefined) setExisting(doc, [...sock, 'address'], host);
  setExisting(doc, [...sock, 'port_value'], port);
}

/** Produces the YAML of the committed config with the given ports, hosts and cert paths. */
export function renderEnvoyConfig(opts: RenderEnvoyOptions): string {
  const variant = opts.variant ?? 'grpc';
  const doc = parseDocument(readFileSync(envoyConfigPath(variant), 'utf8'));
  if (doc.errors.length > 0) throw new Error(`envoy config: ${doc.errors[0]?.message ?? 'parse error'}`);

  setExisting(doc, ['admin', 'address', 'socket_address', 'port_value'], opts.adminPort);

  const li = indexByName(doc, ['static_resources', 'listeners'], EDGE_LISTENER);
  const listener: Path = ['static_resources', 'listeners', li];
  setExisting(doc, [...listener, 'address', 'socket_address', 'port_value'], opts.listenPort);
  if (opts.listenAddress !== undefined) setExisting(doc, [...listener, 'address', 'socket_address', 'address'], opts.listenAddress);
  const cert: Path = [...listener, 'filter_chains', 0, 'transport_socket', 'typed_config', 'common_tls_context', 'tls_certificates', 0];
  setExisting(doc, [...cert, 'certificate_chain', 'filename'], opts.certFile);
  setExisting(doc, [...cert, 'private_key', 'filename'], opts.keyFile);

  const hcm: Path = [...listener, 'filter_chains', 0, 'filters', 0, 'typed_config'];
  const fi = indexByName(doc, [...hcm, 'http_filters'], 'envoy.filters.http.ext_authz');
  if (opts.authzTimeout !== undefined) {
    const service = variant === 'http' ? ['http_service', 'server_uri'] : ['grpc_service'];
    setExisting(doc, [...hcm, 'http_filters', fi, 'typed_config', ...service, 'timeout'], opts.authzTimeout);
  }
  if (variant === 'http') {
    const port = opts.authzHttpPort ?? 9192;
    setEndpoint(doc, AUTHZ_HTTP_CLUSTER, opts.authzHost, port);
    setExisting(doc, [...hcm, 'http_filters', fi, 'typed_config', 'http_service', 'server_uri', 'uri'], `http://${opts.authzHost ?? '127.0.0.1'}:${port}`);
  } else {
    setEndpoint(doc, AUTHZ_GRPC_CLUSTER, opts.authzHost, opts.authzGrpcPort);
  }
  setEndpoint(doc, MEM0_CLUSTER, opts.mem0Host, opts.mem0Port);
  return doc.toString({ lineWidth: 0 });
}

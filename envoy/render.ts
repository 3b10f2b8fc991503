// Renders a runnable Envoy config from the committed envoy/*.yaml by replacing only ports,
// addresses and certificate paths — plus, for a Mem0 reached over https, the upstream TLS
// settings of the mem0 cluster. Everything security-relevant (TLS floor, header scrub,
// ext_authz fail-closed settings, body limit) therefore comes from the committed file unchanged.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
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
  /** Port of authz's HTTP port: the check endpoint (variant 'http') and the audit API; default 9192. */
  authzHttpPort?: number;
  variant?: EnvoyVariant;
  /** Listener bind address; default: the committed file's (0.0.0.0). */
  listenAddress?: string;
  /** Host of authz and of Mem0 (an IP or a DNS name); default: the committed file's (127.0.0.1). */
  authzHost?: string;
  mem0Host?: string;
  /** Reach Mem0 over TLS (an https MEM0_GOV_MEM0_URL): the mem0 cluster gets an
   * UpstreamTlsContext with SNI = mem0Host, verifying Mem0's certificate against `mem0CaFile`
   * for that name, and requests carry Host: mem0Host[:mem0Port]. Needs mem0Host. */
  mem0Tls?: boolean;
  /** CA bundle Mem0's certificate is verified against; default: the system bundle. */
  mem0CaFile?: string;
  /** YAML to render instead of the committed file of `variant` (tests of the renderer itself). */
  template?: string;
  /** ext_authz timeout (e.g. '2s'); default: the committed file's 0.25s. Test stacks on a
   * loaded 2-core machine raise it so scheduling stalls are not mistaken for verdicts. */
  authzTimeout?: string;
  /** Bench/test only, never for a deployment: render without the response stage — the
   * `envoy.filters.http.ext_proc` filter and every per-route `typed_per_filter_config` entry
   * for it are removed, everything else stays as rendered. Without it nothing filters Mem0's
   * answers or records outcome rows; bench/response uses it to measure what the stage adds. */
  withoutResponseStage?: boolean;
  /** Tests/benches with several authz replicas: more endpoints (same host) after the first in the
   * authz clusters — the gRPC port in the gRPC ones, the HTTP port in the HTTP ones (AUTHZ_CLUSTERS). */
  extraAuthzReplicas?: { grpcPort: number; httpPort?: number }[];
  /** Benches: the admission token bucket (envoy.filters.http.local_ratelimit) sized to this
   * many requests/s (burst the same) instead of the committed value — capacity is the machine's. */
  admissionRate?: number;
  /** Envoy's bound on checks in flight to authz (the check cluster's circuit breaker
   * `max_requests` and `max_pending_requests`) instead of the committed 64: the Helm chart sizes it
   * to the authz cores behind Envoy, tests that flood authz itself raise it. */
  checksInFlight?: number;
  /** Opt-in tracing (docs/tracing.md): Envoy's OpenTelemetry tracer on the edge listener,
   * `samplingPercent` of requests sampled (default 100), spans exported over OTLP/HTTP to
   * `otlpHost:otlpPort` (/v1/traces) every `flushMs` (default 200 ms: tests wait for them; null:
   * Envoy's own batching, for deployments). The committed file has no tracing. */
  tracing?: { otlpPort: number; otlpHost?: string; serviceName?: string; flushMs?: number | null; samplingPercent?: number };
}

const ENVOY_DIR = dirname(fileURLToPath(import.meta.url));

/** The committed config file for a variant. */
export function envoyConfigPath(variant: EnvoyVariant = 'grpc'): string {
  return join(ENVOY_DIR, variant === 'http' ? 'envoy-http-authz.yaml' : 'envoy.yaml');
}

export const EDGE_LISTENER = 'mem0_edge';
export const AUTHZ_GRPC_CLUSTER = 'mem0_gov_authz';
export const AUTHZ_HTTP_CLUSTER = 'mem0_gov_authz_http';
/** The response stage (ext_proc, gRPC) in both variants. */
export const RESPONSE_CLUSTER = 'mem0_gov_response';
/** The HTTP variant's checks: authz's HTTP port, a cluster of their own for the admission bound. */
export const CHECK_HTTP_CLUSTER = 'mem0_gov_check_http';
/** Every cluster that points at authz, and which of its ports. */
const AUTHZ_CLUSTERS: { name: string; port: 'grpc' | 'http' }[] = [
  { name: AUTHZ_GRPC_CLUSTER, port: 'grpc' },
  { name: RESPONSE_CLUSTER, port: 'grpc' },
  { name: AUTHZ_HTTP_CLUSTER, port: 'http' },
  { name: CHECK_HTTP_CLUSTER, port: 'http' },
];
/** The cluster ext_authz asks, per variant: its circuit breaker is the admission bound. */
export const checkCluster = (variant: EnvoyVariant): string => (variant === 'http' ? CHECK_HTTP_CLUSTER : AUTHZ_GRPC_CLUSTER);
export const MEM0_CLUSTER = 'mem0';
export const EXT_PROC_FILTER = 'envoy.filters.http.ext_proc';

/** Debian's / Ubuntu's (also the envoyproxy/envoy image's) system CA bundle. */
export const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

/** Where Envoy sends allowed requests: the host and port of MEM0_GOV_MEM0_URL. */
export interface Mem0Upstream {
  /** DNS name or IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  tls: boolean;
}

/**
 * MEM0_GOV_MEM0_URL → the Envoy upstream: its host, its port (80 for http, 443 for https when the
 * URL names none), TLS for https. A path other than `/`, a query or credentials in the URL are
 * refused: Envoy forwards the caller's path as it is, so Mem0 must be served at the root.
 */
export function mem0UpstreamFromUrl(raw: string): Mem0Upstream {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`Mem0 URL ${JSON.stringify(raw)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`Mem0 URL ${raw}: only http and https are supported`);
  if (u.username !== '' || u.password !== '') throw new Error(`Mem0 URL ${u.protocol}//…@${u.host}: credentials belong in MEM0_GOV_MEM0_API_KEY(_FILE)`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') {
    throw new Error(`Mem0 URL ${raw}: Mem0 must be served at the root (no path, query or fragment), Envoy forwards paths unchanged`);
  }
  const tls = u.protocol === 'https:';
  const host = u.hostname.startsWith('[') && u.hostname.endsWith(']') ? u.hostname.slice(1, -1) : u.hostname;
  // URL drops a port equal to the scheme's default, so '' means 80 / 443.
  const port = u.port === '' ? (tls ? 443 : 80) : Number(u.port);
  return { host, port, tls };
}

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

const CLUSTERS: Path = ['static_resources', 'clusters'];
const socketOf = (i: number): Path => [...CLUSTERS, i, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address'];

function hasCluster(doc: Document, name: string): boolean {
  const items = ((doc.getIn(CLUSTERS, false) as { toJSON(): unknown } | undefined)?.toJSON() ?? []) as Array<{ name?: unknown }>;
  return items.some((c) => c?.name === name);
}

/** The committed `address:port` of every cluster (index → key), before anything is rendered. */
function committedEndpoints(doc: Document): Map<number, string> {
  const items = ((doc.getIn(CLUSTERS, false) as { toJSON(): unknown } | undefined)?.toJSON() ?? []) as unknown[];
  const out = new Map<number, string>();
  items.forEach((_, i) => {
    const a = doc.getIn([...socketOf(i), 'address']);
    const p = doc.getIn([...socketOf(i), 'port_value']);
    if (a !== undefined && p !== undefined) out.set(i, `${String(a)}:${String(p)}`);
  });
  return out;
}

/**
 * Points `cluster` at host:port — and with it every other cluster the committed file points at
 * the same address (e.g. a second cluster for another filter talking to the same authz port),
 * so such a cluster follows the service it names instead of keeping the committed default.
 */
function setEndpoint(doc: Document, committed: Map<number, string>, cluster: string, host: string | undefined, port: number): void {
  const i = indexByName(doc, CLUSTERS, cluster);
  const key = committed.get(i);
  const targets = [i, ...[...committed].filter(([j, k]) => j !== i && k === key && key !== undefined).map(([j]) => j)];
  for (const t of targets) {
    if (host !== undefined) setExisting(doc, [...socketOf(t), 'address'], host);
    setExisting(doc, [...socketOf(t), 'port_value'], port);
  }
}

/** Appends copies of the cluster's first endpoint with other ports (several authz replicas). */
function addEndpoints(doc: Document, cluster: string, ports: number[]): void {
  if (ports.length === 0) return;
  const i = indexByName(doc, CLUSTERS, cluster);
  const path: Path = [...CLUSTERS, i, 'load_assignment', 'endpoints', 0, 'lb_endpoints'];
  const first = (doc.getIn([...path, 0], false) as { toJSON(): unknown }).toJSON() as { endpoint: { address: { socket_address: Record<string, unknown> } } };
  for (const port of ports) {
    const copy = structuredClone(first);
    copy.endpoint.address.socket_address.port_value = port;
    doc.addIn(path, doc.createNode(copy));
  }
}

/**
 * TLS to Mem0: an UpstreamTlsContext on the mem0 cluster with SNI = host (a DNS name), the certificate
 * verified against `caFile` and required to name `host`; and Host: <host> on the routes to it
 * (TLS-terminating front ends route by Host and may refuse a Host that differs from the SNI).
 */
function setMem0Tls(doc: Document, host: string, caFile: string): void {
  const i = indexByName(doc, CLUSTERS, MEM0_CLUSTER);
  if (doc.hasIn([...CLUSTERS, i, 'transport_socket'])) throw new Error('envoy config: the mem0 cluster already has a transport_socket');
  const dns = isIP(host) === 0;
  doc.setIn([...CLUSTERS, i, 'transport_socket'], doc.createNode({
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      // SNI carries DNS names only (RFC 6066); an IP literal is checked against the IP SANs.
      ...(dns ? { sni: host } : {}),
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
        validation_context: {
          trusted_ca: { filename: caFile },
          match_typed_subject_alt_names: [{ san_type: dns ? 'DNS' : 'IP_ADDRESS', matcher: { exact: host } }],
        },
      },
    },
  }));
}

/** The Host header for Mem0 at host:port (port only when not 443, IPv6 literals in brackets). */
function mem0Authority(host: string, port: number): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return port === 443 ? h : `${h}:${port}`;
}

/** Sets `host_rewrite_literal` on every route whose cluster is mem0. */
function rewriteHostToMem0(doc: Document, hcm: Path, authority: string): void {
  const vhosts: Path = [...hcm, 'route_config', 'virtual_hosts'];
  const hosts = ((doc.getIn(vhosts, false) as { toJSON(): unknown } | undefined)?.toJSON() ?? []) as Array<{ routes?: Array<{ route?: { cluster?: unknown } }> }>;
  let n = 0;
  hosts.forEach((vh, v) => (vh.routes ?? []).forEach((r, k) => {
    if (r.route?.cluster !== MEM0_CLUSTER) return;
    doc.setIn([...vhosts, v, 'routes', k, 'route', 'host_rewrite_literal'], authority);
    n += 1;
  }));
  if (n === 0) throw new Error('envoy config: no route to the mem0 cluster');
}

/**
 * Removes the response stage (bench/test only, see RenderEnvoyOptions.withoutResponseStage): the
 * ext_proc filter and its per-route (and per-virtual-host) configs; a `typed_per_filter_config`
 * left empty goes too. Throws if the file has no ext_proc filter to remove.
 */
function removeResponseStage(doc: Document, hcm: Path): void {
  doc.deleteIn([...hcm, 'http_filters', indexByName(doc, [...hcm, 'http_filters'], EXT_PROC_FILTER)]);
  const dropFrom = (owner: Path): void => {
    const tpfc: Path = [...owner, 'typed_per_filter_config'];
    if (!doc.hasIn([...tpfc, EXT_PROC_FILTER])) return;
    doc.deleteIn([...tpfc, EXT_PROC_FILTER]);
    const rest = (doc.getIn(tpfc, false) as { toJSON(): unknown } | undefined)?.toJSON();
    if (rest === null || rest === undefined || Object.keys(rest as object).length === 0) doc.deleteIn(tpfc);
  };
  const vhosts: Path = [...hcm, 'route_config', 'virtual_hosts'];
  const hosts = ((doc.getIn(vhosts, false) as { toJSON(): unknown } | undefined)?.toJSON() ?? []) as Array<{ routes?: unknown[] }>;
  hosts.forEach((vh, v) => {
    dropFrom([...vhosts, v]);
    (vh.routes ?? []).forEach((_, k) => dropFrom([...vhosts, v, 'routes', k]));
  });
}

/** Produces the YAML of the committed config with the given ports, hosts and cert paths. */
export function renderEnvoyConfig(opts: RenderEnvoyOptions): string {
  const variant = opts.variant ?? 'grpc';
  const doc = parseDocument(opts.template ?? readFileSync(envoyConfigPath(variant), 'utf8'));
  if (doc.errors.length > 0) throw new Error(`envoy config: ${doc.errors[0]?.message ?? 'parse error'}`);
  if (opts.mem0Tls && opts.mem0Host === undefined) throw new Error('renderEnvoyConfig: mem0Tls needs mem0Host (the SNI and certificate name)');
  const committed = committedEndpoints(doc);

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
  // Every cluster that talks to authz (AUTHZ_CLUSTERS) — the one ext_authz asks is required.
  const httpPort = opts.authzHttpPort ?? 9192;
  const portOf = (c: { port: 'grpc' | 'http' }): number => (c.port === 'grpc' ? opts.authzGrpcPort : httpPort);
  const present = AUTHZ_CLUSTERS.filter((c) => c.name === checkCluster(variant) || hasCluster(doc, c.name));
  for (const c of present) setEndpoint(doc, committed, c.name, opts.authzHost, portOf(c));
  if (variant === 'http') setExisting(doc, [...hcm, 'http_filters', fi, 'typed_config', 'http_service', 'server_uri', 'uri'], `http://${opts.authzHost ?? '127.0.0.1'}:${httpPort}`);
  setEndpoint(doc, committed, MEM0_CLUSTER, opts.mem0Host, opts.mem0Port);
  if (opts.checksInFlight !== undefined) {
    const n = Math.max(1, Math.round(opts.checksInFlight));
    const limits: Path = [...CLUSTERS, indexByName(doc, CLUSTERS, checkCluster(variant)), 'circuit_breakers', 'thresholds', 0];
    setExisting(doc, [...limits, 'max_requests'], n);
    setExisting(doc, [...limits, 'max_pending_requests'], n);
  }
  if (opts.admissionRate !== undefined) {
    const li2 = indexByName(doc, [...hcm, 'http_filters'], 'envoy.filters.http.local_ratelimit');
    const rate = Math.max(10, Math.round(opts.admissionRate));
    setExisting(doc, [...hcm, 'http_filters', li2, 'typed_config', 'token_bucket', 'max_tokens'], rate);
    setExisting(doc, [...hcm, 'http_filters', li2, 'typed_config', 'token_bucket', 'tokens_per_fill'], Math.max(1, Math.round(rate / 10)));
  }
  const extra = opts.extraAuthzReplicas ?? [];
  for (const c of present) addEndpoints(doc, c.name, extra.map((r) => (c.port === 'grpc' ? r.grpcPort : r.httpPort ?? 9192)));
  if (opts.mem0Tls) {
    setMem0Tls(doc, opts.mem0Host!, opts.mem0CaFile ?? SYSTEM_CA_FILE);
    rewriteHostToMem0(doc, hcm, mem0Authority(opts.mem0Host!, opts.mem0Port));
  }
  if (opts.withoutResponseStage) removeResponseStage(doc, hcm);
  if (opts.tracing !== undefined) addTracing(doc, hcm, opts.tracing);
  return doc.toString({ lineWidth: 0 });
}

export const OTLP_CLUSTER = 'opentelemetry_collector';

/**
 * Envoy's OpenTelemetry tracer (RenderEnvoyOptions.tracing): the connection manager starts (or
 * continues, from a caller's traceparent) a trace per request and passes its context to ext_authz
 * and ext_proc in their gRPC metadata; the spans go to an OTLP/HTTP collector cluster.
 */
function addTracing(doc: Document, hcm: Path, t: NonNullable<RenderEnvoyOptions['tracing']>): void {
  if (doc.hasIn([...hcm, 'tracing'])) throw new Error('envoy config: the connection manager already has tracing');
  const host = t.otlpHost ?? '127.0.0.1';
  doc.setIn([...hcm, 'tracing'], doc.createNode({
    random_sampling: { value: t.samplingPercent ?? 100 },
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
        service_name: t.serviceName ?? 'mem0-gov-envoy',
        http_service: { http_uri: { uri: `http://${host}:${t.otlpPort}/v1/traces`, cluster: OTLP_CLUSTER, timeout: '1s' } },
      },
    },
  }));
  doc.addIn(CLUSTERS, doc.createNode({
    name: OTLP_CLUSTER,
    type: 'STRICT_DNS',
    connect_timeout: '1s',
    load_assignment: { cluster_name: OTLP_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: t.otlpPort } } } }] }] },
  }));
  // The tracer exports every flush_interval_ms (default 5 s) or every min_flush_spans (default 5).
  if (t.flushMs === null) return;
  const layer: Path = ['layered_runtime', 'layers', indexByName(doc, ['layered_runtime', 'layers'], 'static'), 'static_layer'];
  doc.setIn([...layer, 'tracing.opentelemetry.flush_interval_ms'], t.flushMs ?? 200);
  doc.setIn([...layer, 'tracing.opentelemetry.min_flush_spans'], 1);
}

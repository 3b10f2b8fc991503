// Every shipped Envoy config loads in the real Envoy (`--mode validate`), keeps its security
// settings, and the Istio example parses with the settings the README promises.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { envoyConfigPath, mem0UpstreamFromUrl, renderEnvoyConfig } from '../../../../envoy/render.js';
import { generateDevCerts, type DevCerts } from '../../../../testing/certs.js';
import { startEnvoy, validateEnvoyConfig } from '../../../../testing/envoy.js';
import { ROOT } from '../../../../testing/tools.js';
import * as grpc from '@grpc/grpc-js';
import { authorizationService, externalProcessorService } from '../../../../authz/src/grpc/protos.js';
import { call, stopAll } from './helpers.js';

const run = promisify(execFile);
type Obj = Record<string, unknown>;

/** Walks a parsed config by keys / indexes, or named list items (`{ name }`). */
function at(node: unknown, ...path: Array<string | number | { name: string }>): unknown {
  let cur = node;
  for (const p of path) {
    if (typeof p === 'object') cur = (cur as Obj[]).find((x) => x.name === p.name);
    else cur = (cur as Obj)[p as string];
    if (cur === undefined) throw new Error(`missing ${JSON.stringify(p)}`);
  }
  return cur;
}

const hcm = (cfg: unknown): Obj => at(cfg, 'static_resources', 'listeners', { name: 'mem0_edge' }, 'filter_chains', 0, 'filters', 0, 'typed_config') as Obj;
const extAuthz = (cfg: unknown): Obj => at(hcm(cfg), 'http_filters', { name: 'envoy.filters.http.ext_authz' }, 'typed_config') as Obj;

let work: string;
let certs: DevCerts;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mem0-gov-envoy-cfg-'));
  // The committed files name .state/certs/server.{crt,key} relative to Envoy's cwd.
  certs = await generateDevCerts(join(work, '.state', 'certs'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('envoy --mode validate', () => {
  for (const variant of ['grpc', 'http'] as const) {
    it(`accepts the committed ${variant} config unchanged`, async () => {
      const res = await validateEnvoyConfig(envoyConfigPath(variant), work);
      expect(res.output).toContain('OK');
      expect(res.output).not.toMatch(/deprecat/i);
      expect(res.ok).toBe(true);
    });

    it(`accepts the ${variant} config as rendered for tests and the stack`, async () => {
      const file = join(work, `rendered-${variant}.yaml`);
      await writeFile(file, renderEnvoyConfig({
        variant, listenPort: 19000, adminPort: 19901, authzGrpcPort: 19191, authzHttpPort: 19192, mem0Port: 19006,
        certFile: certs.certFile, keyFile: certs.keyFile,
      }));
      const res = await validateEnvoyConfig(file, work);
      expect(res.ok, res.output).toBe(true);
    });
  }

  for (const variant of ['grpc', 'http'] as const) {
    it(`accepts the ${variant} config rendered for an https Mem0 by DNS name without a port`, async () => {
      const up = mem0UpstreamFromUrl('https://mem0.example.com');
      const text = renderEnvoyConfig({
        variant, listenPort: 19000, adminPort: 19901, authzGrpcPort: 19191, authzHttpPort: 19192,
        mem0Host: up.host, mem0Port: up.port, mem0Tls: up.tls, certFile: certs.certFile, keyFile: certs.keyFile,
      });
      const mem0 = (parse(text) as { static_resources: { clusters: Obj[] } }).static_resources.clusters.find((c) => c.name === 'mem0');
      expect(at(mem0, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address')).toEqual({ address: 'mem0.example.com', port_value: 443 });
      expect(at(mem0, 'transport_socket', 'typed_config', 'sni')).toBe('mem0.example.com');
      const file = join(work, `rendered-${variant}-https.yaml`);
      await writeFile(file, text);
      const res = await validateEnvoyConfig(file, work);
      expect(res.output).not.toMatch(/deprecat/i);
      expect(res.ok, res.output).toBe(true);
    });
  }

  it('accepts a rendering of the edge whose ext_proc filter has a cluster of its own next to ext_authz', async () => {
    const cfg = parse(await readFile(envoyConfigPath('grpc'), 'utf8')) as Obj;
    // Ours replaces whatever ext_proc filter the committed file may already have.
    const filters = (hcm(cfg).http_filters as Obj[]).filter((f) => f.name !== 'envoy.filters.http.ext_proc');
    hcm(cfg).http_filters = filters;
    filters.splice(filters.findIndex((f) => f.name === 'envoy.filters.http.router'), 0, {
      name: 'envoy.filters.http.ext_proc',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
        grpc_service: { envoy_grpc: { cluster_name: 'mem0_gov_ext_proc' }, timeout: '0.25s' },
        failure_mode_allow: false,
        processing_mode: { request_header_mode: 'SKIP', response_header_mode: 'SEND', response_body_mode: 'BUFFERED' },
      },
    });
    const clusters = at(cfg, 'static_resources', 'clusters') as Obj[];
    const extProc = structuredClone(clusters.find((c) => c.name === 'mem0_gov_authz')) as Obj;
    extProc.name = 'mem0_gov_ext_proc';
    (extProc.load_assignment as Obj).cluster_name = 'mem0_gov_ext_proc';
    clusters.push(extProc);
    const text = renderEnvoyConfig({
      listenPort: 19000, adminPort: 19901, authzGrpcPort: 19191, mem0Port: 19006, certFile: certs.certFile, keyFile: certs.keyFile,
      template: stringify(cfg),
    });
    const rendered = parse(text) as Obj;
    expect(at(rendered, 'static_resources', 'clusters', { name: 'mem0_gov_ext_proc' }, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'port_value')).toBe(19191);
    const file = join(work, 'rendered-ext-proc.yaml');
    await writeFile(file, text);
    const res = await validateEnvoyConfig(file, work);
    expect(res.ok, res.output).toBe(true);
  });

  it('rejects a config Envoy cannot load (so the checks above can fail)', async () => {
    const file = join(work, 'broken.yaml');
    const text = (await readFile(envoyConfigPath('grpc'), 'utf8')).replace('TLSv1_2', 'TLSv9_9');
    await writeFile(file, text);
    const res = await validateEnvoyConfig(file, work);
    expect(res.ok).toBe(false);
  });
});

describe('edge security settings (committed files)', () => {
  const load = async (variant: 'grpc' | 'http'): Promise<unknown> => parse(await readFile(envoyConfigPath(variant), 'utf8'));

  it('gRPC ext_authz fails closed with the whole body, 1 MiB, 250 ms', async () => {
    const cfg = await load('grpc');
    const ea = extAuthz(cfg);
    expect(ea.failure_mode_allow).toBe(false);
    expect(ea.transport_api_version).toBe('V3');
    expect(at(ea, 'status_on_error', 'code')).toBe('ServiceUnavailable');
    expect(at(ea, 'grpc_service', 'envoy_grpc', 'cluster_name')).toBe('mem0_gov_authz');
    expect(at(ea, 'grpc_service', 'timeout')).toBe('0.25s');
    expect(ea.with_request_body).toEqual({ max_request_bytes: 1048576, allow_partial_message: false, pack_as_bytes: true });
    const authzCluster = at(cfg, 'static_resources', 'clusters', { name: 'mem0_gov_authz' }) as Obj;
    expect(at(authzCluster, 'typed_extension_protocol_options', 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions', 'explicit_http_config')).toHaveProperty('http2_protocol_options');
  });

  it('admin listens on loopback only and the edge defaults match DESIGN ports', async () => {
    for (const variant of ['grpc', 'http'] as const) {
      const cfg = await load(variant);
      expect(at(cfg, 'admin', 'address', 'socket_address')).toEqual({ address: '127.0.0.1', port_value: 9901 });
      expect(at(cfg, 'static_resources', 'listeners', { name: 'mem0_edge' }, 'address', 'socket_address', 'port_value')).toBe(9000);
      expect(at(cfg, 'static_resources', 'clusters', { name: 'mem0' }, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address'))
        .toEqual({ address: '127.0.0.1', port_value: 9006 });
    }
  });

  it('the HTTP variant differs from the gRPC one only in how it asks authz', async () => {
    const strip = (cfg: unknown): unknown => {
      const c = structuredClone(cfg) as Obj;
      const filters = hcm(c).http_filters as Obj[];
      filters.splice(filters.findIndex((f) => f.name === 'envoy.filters.http.ext_authz'), 1);
      const clusters = at(c, 'static_resources', 'clusters') as Obj[];
      (c.static_resources as Obj).clusters = clusters.filter((x) => x.name === 'mem0');
      return c;
    };
    const grpc = await load('grpc');
    const http = await load('http');
    expect(strip(http)).toEqual(strip(grpc));
    const ea = extAuthz(http);
    expect(ea.failure_mode_allow).toBe(false);
    expect(at(ea, 'status_on_error', 'code')).toBe('ServiceUnavailable');
    expect(at(ea, 'http_service', 'path_prefix')).toBe('/check');
    expect(at(ea, 'with_request_body')).toEqual({ max_request_bytes: 1048576, allow_partial_message: false });
  });

  it('renders only ports, hosts and cert paths', async () => {
    const rendered = parse(renderEnvoyConfig({
      listenPort: 1, adminPort: 2, authzGrpcPort: 3, mem0Port: 4, certFile: '/c.crt', keyFile: '/c.key',
      listenAddress: '127.0.0.1', authzHost: 'authz', mem0Host: 'mem0',
    })) as Obj;
    const original = await load('grpc');
    const sock = (cfg: unknown, cluster: string): unknown => at(cfg, 'static_resources', 'clusters', { name: cluster }, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address');
    expect(sock(rendered, 'mem0_gov_authz')).toEqual({ address: 'authz', port_value: 3 });
    expect(sock(rendered, 'mem0_gov_response')).toEqual({ address: 'authz', port_value: 3 });
    expect(sock(rendered, 'mem0')).toEqual({ address: 'mem0', port_value: 4 });
    const tls = at(rendered, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'transport_socket', 'typed_config', 'common_tls_context', 'tls_certificates', 0);
    expect(tls).toEqual({ certificate_chain: { filename: '/c.crt' }, private_key: { filename: '/c.key' } });
    // Put the defaults back: nothing else may differ.
    const back = structuredClone(rendered);
    (at(back, 'admin', 'address', 'socket_address') as Obj).port_value = 9901;
    Object.assign(at(back, 'static_resources', 'listeners', 0, 'address', 'socket_address') as Obj, { address: '0.0.0.0', port_value: 9000 });
    Object.assign(sock(back, 'mem0_gov_authz') as Obj, { address: '127.0.0.1', port_value: 9191 });
    Object.assign(sock(back, 'mem0_gov_response') as Obj, { address: '127.0.0.1', port_value: 9191 });
    Object.assign(sock(back, 'mem0_gov_authz_http') as Obj, { address: '127.0.0.1', port_value: 9192 });
    Object.assign(sock(back, 'mem0') as Obj, { address: '127.0.0.1', port_value: 9006 });
    const backTls = at(back, 'static_resources', 'listeners', 0, 'filter_chains', 0, 'transport_socket', 'typed_config', 'common_tls_context', 'tls_certificates', 0) as Obj;
    backTls.certificate_chain = { filename: '.state/certs/server.crt' };
    backTls.private_key = { filename: '.state/certs/server.key' };
    expect(back).toEqual(original);
  });

  it('the HTTP variant renders the authz HTTP port into both the cluster and server_uri', () => {
    const rendered = parse(renderEnvoyConfig({
      variant: 'http', listenPort: 1, adminPort: 2, authzGrpcPort: 3, authzHttpPort: 5, mem0Port: 4, certFile: '/c', keyFile: '/k',
    }));
    expect(at(extAuthz(rendered), 'http_service', 'server_uri', 'uri')).toBe('http://127.0.0.1:5');
    expect(at(rendered, 'static_resources', 'clusters', { name: 'mem0_gov_authz_http' }, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'port_value')).toBe(5);
    expect(at(rendered, 'static_resources', 'clusters', { name: 'mem0_gov_check_http' }, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'port_value')).toBe(5);
    expect(at(rendered, 'static_resources', 'clusters', { name: 'mem0_gov_response' }, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'port_value')).toBe(3);
  });

  // Admission (docs/DESIGN.md "Availability"): checks in flight per Envoy are bounded by the check
  // cluster's circuit breaker; the response stage's long streams have a cluster of their own.
  const limits = (cfg: unknown, cluster: string): Obj => at(cfg, 'static_resources', 'clusters', { name: cluster }, 'circuit_breakers', 'thresholds', 0) as Obj;
  const checkClusterOf = { grpc: 'mem0_gov_authz', http: 'mem0_gov_check_http' } as const;
  for (const variant of ['grpc', 'http'] as const) {
    it(`${variant}: at most 64 checks in flight per Envoy; the response stage on its own cluster with generous bounds`, async () => {
      const cfg = await load(variant);
      const cluster = variant === 'grpc' ? at(extAuthz(cfg), 'grpc_service', 'envoy_grpc', 'cluster_name') : at(extAuthz(cfg), 'http_service', 'server_uri', 'cluster');
      expect(cluster).toBe(checkClusterOf[variant]);
      expect(limits(cfg, checkClusterOf[variant])).toMatchObject({ max_requests: 64, max_pending_requests: 64 });
      const extProc = (hcm(cfg).http_filters as Obj[]).find((f) => f.name === 'envoy.filters.http.ext_proc')!;
      expect(at(extProc, 'typed_config', 'grpc_service', 'envoy_grpc', 'cluster_name')).toBe('mem0_gov_response');
      expect(limits(cfg, 'mem0_gov_response')).toMatchObject({ max_requests: 10000 });
      // Nothing else asks authz through the check cluster.
      const text = await readFile(envoyConfigPath(variant), 'utf8');
      expect(text.match(new RegExp(`(cluster|cluster_name): ${checkClusterOf[variant]}\\b`, 'g'))).toHaveLength(2);
    });

    it(`${variant}: Envoy's own answer when authz gives none is the deny body with reason authz_unavailable and Retry-After`, async () => {
      const mappers = at(hcm(await load(variant)), 'local_reply_config', 'mappers') as Obj[];
      const m = mappers.find((x) => at(x, 'filter', 'extension_filter', 'typed_config', 'expression') === "response.code_details == 'ext_authz_error'");
      expect(m).toBeDefined();
      expect(at(m, 'body_format_override', 'json_format')).toEqual({ error: 'error', reason: 'authz_unavailable', request_id: '%REQ(X-REQUEST-ID)%', decision_id: '' });
      expect(at(m, 'headers_to_add', 0, 'header')).toEqual({ key: 'retry-after', value: '1' });
    });

    it(`${variant}: checksInFlight renders the bound, nothing else`, async () => {
      const base = { variant, listenPort: 1, adminPort: 2, authzGrpcPort: 3, mem0Port: 4, certFile: '/c', keyFile: '/k' };
      const sized = parse(renderEnvoyConfig({ ...base, checksInFlight: 96 }));
      expect(limits(sized, checkClusterOf[variant])).toMatchObject({ max_requests: 96, max_pending_requests: 96 });
      Object.assign(limits(sized, checkClusterOf[variant]), { max_requests: 64, max_pending_requests: 64 });
      expect(sized).toEqual(parse(renderEnvoyConfig(base)));
    });
  }
});

describe('an https Mem0 through the real Envoy', () => {
  // authz for these tests: allows every Check and lets every response-stage (ext_proc) phase
  // continue unchanged — the subject here is only the upstream TLS to Mem0.
  const startPassThroughAuthz = async (): Promise<{ port: number; checks: () => number; stop(): Promise<void> }> => {
    let checks = 0;
    const server = new grpc.Server();
    server.addService(authorizationService().service, {
      Check(_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) {
        checks += 1;
        cb(null, { status: { code: 0 }, ok_response: {} });
      },
    });
    server.addService(externalProcessorService().service, {
      Process(stream: grpc.ServerDuplexStream<Record<string, unknown>, unknown>) {
        stream.on('data', (msg: Record<string, unknown>) => {
          const phase = ['request_headers', 'response_headers', 'request_body', 'response_body'].find((p) => msg[p]);
          if (phase !== undefined) stream.write({ [phase]: { response: { status: 'CONTINUE' } } });
        });
        stream.on('end', () => stream.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    return { port, checks: () => checks, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
  };

  // A TLS "Mem0" for localhost (the dev server certificate), recording the SNI and Host it saw.
  const startTlsMem0 = async (): Promise<{ port: number; seen: Array<{ sni: string | false | null; host: string | undefined; path: string }>; stop(): Promise<void> }> => {
    const seen: Array<{ sni: string | false | null; host: string | undefined; path: string }> = [];
    const server = createHttpsServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, (req, res) => {
      seen.push({ sni: (req.socket as TLSSocket).servername, host: req.headers.host, path: req.url ?? '' });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      seen,
      stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
  };

  it('connects with SNI and Host = the URL host and verifies the certificate against the configured CA', async () => {
    const mem0 = await startTlsMem0();
    const authz = await startPassThroughAuthz();
    const up = mem0UpstreamFromUrl(`https://localhost:${mem0.port}`);
    const envoy = await startEnvoy({
      authzGrpcPort: authz.port, mem0Host: up.host, mem0Port: up.port, mem0Tls: up.tls, mem0CaFile: certs.caFile,
    }).catch(async (err: unknown) => { await stopAll(authz, mem0); throw err; });
    try {
      const res = await call(envoy.baseUrl, envoy.caFile, 'GET', '/memories?user_id=acme:alice');
      expect(res.status, res.body).toBe(200);
      expect(res.body).toBe('{"results":[]}');
      expect(mem0.seen).toEqual([{ sni: 'localhost', host: `localhost:${mem0.port}`, path: '/memories?user_id=acme:alice' }]);
    } finally {
      await stopAll(envoy, authz, mem0);
    }
  });

  it('refuses a Mem0 whose certificate the CA bundle does not vouch for: 503, Mem0 sees nothing', async () => {
    const mem0 = await startTlsMem0();
    const authz = await startPassThroughAuthz();
    // The default bundle (the system CAs) does not contain the throwaway dev CA.
    const envoy = await startEnvoy({ authzGrpcPort: authz.port, mem0Host: 'localhost', mem0Port: mem0.port, mem0Tls: true })
      .catch(async (err: unknown) => { await stopAll(authz, mem0); throw err; });
    try {
      const res = await call(envoy.baseUrl, envoy.caFile, 'GET', '/memories?user_id=acme:alice');
      expect(res.status).toBe(503);
      expect(authz.checks()).toBe(1);
      expect(mem0.seen).toEqual([]);
    } finally {
      await stopAll(envoy, authz, mem0);
    }
  });
});

describe('dev certificates', () => {
  it('are an EC P-256 server cert for localhost and 127.0.0.1, signed by the dev CA, key private', async () => {
    const { stdout } = await run('openssl', ['x509', '-in', certs.certFile, '-noout', '-text']);
    expect(stdout).toContain('DNS:localhost');
    expect(stdout).toContain('IP Address:127.0.0.1');
    expect(stdout).toContain('prime256v1');
    expect(stdout).toContain('TLS Web Server Authentication');
    const verify = await run('openssl', ['verify', '-CAfile', certs.caFile, certs.certFile]);
    expect(verify.stdout).toContain('OK');
    expect((await stat(certs.keyFile)).mode & 0o077).toBe(0);
  });

  it('are reused while valid and never land in the repository', async () => {
    const before = await readFile(certs.certFile, 'utf8');
    await generateDevCerts(join(work, '.state', 'certs'));
    expect(await readFile(certs.certFile, 'utf8')).toBe(before);
    const { stdout } = await run('git', ['ls-files', '--', '*.crt', '*.key', '*.pem'], { cwd: ROOT });
    expect(stdout.trim()).toBe('');
  });
});

describe('Istio example', () => {
  const istio = (f: string): string => join(ROOT, 'envoy', 'istio', f);

  it('meshConfig registers mem0-gov authz as a fail-closed gRPC ext_authz provider with the body', async () => {
    const doc = parse(await readFile(istio('mesh-config.yaml'), 'utf8')) as Obj;
    expect(doc.kind).toBe('IstioOperator');
    const providers = at(doc, 'spec', 'meshConfig', 'extensionProviders') as Obj[];
    const p = providers.find((x) => x.name === 'mem0-gov-authz') as Obj;
    expect(p.envoyExtAuthzGrpc).toMatchObject({
      service: 'mem0-gov-authz.mem0-gov.svc.cluster.local', port: 9191, failOpen: false, statusOnError: '503',
      includeRequestBodyInCheck: { maxRequestBytes: 1048576, allowPartialMessage: false },
    });
  });

  it('AuthorizationPolicy sends every request of the Mem0 workload to that provider (CUSTOM)', async () => {
    const docs = parseAllDocuments(await readFile(istio('authorization-policy.yaml'), 'utf8'));
    for (const d of docs) expect(d.errors).toEqual([]);
    const objs = docs.map((d) => d.toJS() as Obj);
    const policy = objs.find((o) => o.kind === 'AuthorizationPolicy') as Obj;
    expect(policy.apiVersion).toBe('security.istio.io/v1');
    expect(policy.spec).toEqual({
      selector: { matchLabels: { app: 'mem0' } }, action: 'CUSTOM', provider: { name: 'mem0-gov-authz' }, rules: [{}],
    });
    const peer = objs.find((o) => o.kind === 'PeerAuthentication') as Obj;
    expect(at(peer, 'spec', 'mtls', 'mode')).toBe('STRICT');
  });
});

// envoy/render.ts without running Envoy: MEM0_GOV_MEM0_URL → the mem0 cluster's endpoint (host,
// port, TLS), and a renderer that keeps working when the committed files grow filters/clusters.
// (authz/test/integration/envoy/configs.test.ts loads the same renderings in the real Envoy.)
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { envoyConfigPath, mem0UpstreamFromUrl, renderEnvoyConfig, SYSTEM_CA_FILE, type RenderEnvoyOptions } from '../../../../envoy/render.js';

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

const committed = (variant: 'grpc' | 'http' = 'grpc'): Obj => parse(readFileSync(envoyConfigPath(variant), 'utf8')) as Obj;
const cluster = (cfg: unknown, name: string): Obj => at(cfg, 'static_resources', 'clusters', { name }) as Obj;
const sock = (cfg: unknown, name: string): unknown => at(cluster(cfg, name), 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address');
const hcm = (cfg: unknown): Obj => at(cfg, 'static_resources', 'listeners', { name: 'mem0_edge' }, 'filter_chains', 0, 'filters', 0, 'typed_config') as Obj;
const mem0Routes = (cfg: unknown): Obj[] => ((at(hcm(cfg), 'route_config', 'virtual_hosts') as Obj[])
  .flatMap((vh) => vh.routes as Obj[]).filter((r) => (r.route as Obj | undefined)?.cluster === 'mem0')).map((r) => r.route as Obj);

const base = { listenPort: 1, adminPort: 2, authzGrpcPort: 3, authzHttpPort: 5, certFile: '/c.crt', keyFile: '/c.key' };
/** Renders for a Mem0 URL the way testing/stack.ts does. */
function renderFor(url: string, extra: Partial<RenderEnvoyOptions> = {}): Obj {
  const up = mem0UpstreamFromUrl(url);
  return parse(renderEnvoyConfig({ ...base, mem0Host: up.host, mem0Port: up.port, mem0Tls: up.tls, ...extra })) as Obj;
}

describe('mem0UpstreamFromUrl', () => {
  it.each([
    ['http://127.0.0.1:8000', { host: '127.0.0.1', port: 8000, tls: false }],
    ['http://127.0.0.1:8000/', { host: '127.0.0.1', port: 8000, tls: false }],
    ['http://mem0', { host: 'mem0', port: 80, tls: false }],
    ['http://mem0:80', { host: 'mem0', port: 80, tls: false }],
    ['http://mem0:8000', { host: 'mem0', port: 8000, tls: false }],
    ['https://mem0.example.com', { host: 'mem0.example.com', port: 443, tls: true }],
    ['https://mem0.example.com:443/', { host: 'mem0.example.com', port: 443, tls: true }],
    ['https://mem0.example.com:8443', { host: 'mem0.example.com', port: 8443, tls: true }],
    ['HTTPS://Mem0.Example.COM', { host: 'mem0.example.com', port: 443, tls: true }],
    ['https://10.1.2.3', { host: '10.1.2.3', port: 443, tls: true }],
    ['http://[::1]:9006', { host: '::1', port: 9006, tls: false }],
  ])('%s', (url, want) => {
    expect(mem0UpstreamFromUrl(url)).toEqual(want);
  });

  it.each([
    ['not a url', /is not a URL/],
    ['ftp://mem0:21', /only http and https/],
    ['http://user:secret@mem0:8000', /credentials belong in MEM0_GOV_MEM0_API_KEY/],
    ['http://mem0:8000/mem0', /served at the root/],
    ['http://mem0:8000/?x=1', /served at the root/],
  ])('refuses %s', (url, msg) => {
    expect(() => mem0UpstreamFromUrl(url)).toThrow(msg);
  });

  it('never echoes URL credentials in its error', () => {
    expect(() => mem0UpstreamFromUrl('http://user:secret@mem0:8000')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('secret') }));
  });
});

describe('renderEnvoyConfig: the mem0 cluster from MEM0_GOV_MEM0_URL', () => {
  it('http with a DNS name and no port: that host, port 80, plain text, Host unchanged', () => {
    const cfg = renderFor('http://mem0');
    expect(sock(cfg, 'mem0')).toEqual({ address: 'mem0', port_value: 80 });
    expect(cluster(cfg, 'mem0')).not.toHaveProperty('transport_socket');
    for (const r of mem0Routes(cfg)) expect(r).not.toHaveProperty('host_rewrite_literal');
  });

  it('never renders port 0', () => {
    for (const url of ['http://mem0', 'https://mem0.example.com', 'http://127.0.0.1:8000']) {
      expect((sock(renderFor(url), 'mem0') as Obj).port_value).toBeGreaterThan(0);
    }
  });

  it('https with a DNS name and no port: port 443, TLS with SNI = host, certificate verified for that name, Host = host', () => {
    const cfg = renderFor('https://mem0.example.com');
    expect(sock(cfg, 'mem0')).toEqual({ address: 'mem0.example.com', port_value: 443 });
    expect(cluster(cfg, 'mem0').transport_socket).toEqual({
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'mem0.example.com',
        common_tls_context: {
          tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
          validation_context: {
            trusted_ca: { filename: SYSTEM_CA_FILE },
            match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'mem0.example.com' } }],
          },
        },
      },
    });
    const routes = mem0Routes(cfg);
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) expect(r.host_rewrite_literal).toBe('mem0.example.com');
  });

  it('https on another port or an IPv6 literal: the Host names the port / brackets the address', () => {
    for (const r of mem0Routes(renderFor('https://mem0.example.com:8443'))) expect(r.host_rewrite_literal).toBe('mem0.example.com:8443');
    for (const r of mem0Routes(renderFor('https://[fd00::5]'))) expect(r.host_rewrite_literal).toBe('[fd00::5]');
  });

  it('https with an IP literal: no SNI (RFC 6066), the IP checked against the IP SANs; a CA file of our choice', () => {
    const cfg = renderFor('https://10.1.2.3:8443', { mem0CaFile: '/etc/mem0-ca.pem' });
    expect(sock(cfg, 'mem0')).toEqual({ address: '10.1.2.3', port_value: 8443 });
    const tls = at(cluster(cfg, 'mem0'), 'transport_socket', 'typed_config') as Obj;
    expect(tls).not.toHaveProperty('sni');
    expect(at(tls, 'common_tls_context', 'validation_context')).toEqual({
      trusted_ca: { filename: '/etc/mem0-ca.pem' },
      match_typed_subject_alt_names: [{ san_type: 'IP_ADDRESS', matcher: { exact: '10.1.2.3' } }],
    });
  });

  it('https changes nothing else: with the mem0 endpoint, TLS and Host rewrite put back, the rest is the committed file', () => {
    for (const variant of ['grpc', 'http'] as const) {
      const cfg = renderFor('https://mem0.example.com', { variant });
      const c = cluster(cfg, 'mem0');
      delete c.transport_socket;
      Object.assign(sock(cfg, 'mem0') as Obj, { address: '127.0.0.1', port_value: 9006 });
      for (const r of mem0Routes(cfg)) delete r.host_rewrite_literal;
      // What the base options render anyway (ports, listener, certs) is compared through a plain http render.
      const plain = parse(renderEnvoyConfig({ ...base, variant, mem0Port: 9006 })) as Obj;
      expect(cfg).toEqual(plain);
      expect(cluster(committed(variant), 'mem0')).not.toHaveProperty('transport_socket');
    }
  });

  it('refuses TLS without a host to name', () => {
    expect(() => renderEnvoyConfig({ ...base, mem0Port: 443, mem0Tls: true })).toThrow(/mem0Tls needs mem0Host/);
  });
});

describe('renderEnvoyConfig keeps working when the committed files grow', () => {
  const withExtProc = (variant: 'grpc' | 'http', clusterName: string, addCluster: boolean): string => {
    const cfg = committed(variant);
    // Ours replaces whatever ext_proc filter the committed file may already have.
    const filters = (hcm(cfg).http_filters as Obj[]).filter((f) => f.name !== 'envoy.filters.http.ext_proc');
    hcm(cfg).http_filters = filters;
    const router = filters.findIndex((f) => f.name === 'envoy.filters.http.router');
    filters.splice(router, 0, {
      name: 'envoy.filters.http.ext_proc',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
        grpc_service: { envoy_grpc: { cluster_name: clusterName }, timeout: '0.25s' },
        failure_mode_allow: false,
        processing_mode: { request_header_mode: 'SKIP', response_header_mode: 'SEND', response_body_mode: 'BUFFERED' },
      },
    });
    if (addCluster) {
      const clusters = at(cfg, 'static_resources', 'clusters') as Obj[];
      const authz = structuredClone(clusters.find((c) => c.name === (variant === 'grpc' ? 'mem0_gov_authz' : 'mem0_gov_authz_http'))) as Obj;
      authz.name = clusterName;
      (authz.load_assignment as Obj).cluster_name = clusterName;
      // The response stage lives in the same gRPC service as ext_authz (DESIGN: :9191).
      Object.assign(sock({ static_resources: { clusters: [authz] } }, clusterName) as Obj, { address: '127.0.0.1', port_value: 9191 });
      authz.typed_extension_protocol_options = {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      };
      clusters.push(authz);
    }
    return stringify(cfg);
  };

  it('an ext_proc filter on the authz cluster: ext_authz is still found and its timeout set, ext_proc untouched', () => {
    const template = withExtProc('grpc', 'mem0_gov_authz', false);
    const cfg = parse(renderEnvoyConfig({ ...base, mem0Port: 4, authzHost: 'authz', authzTimeout: '2s', template })) as Obj;
    const filters = hcm(cfg).http_filters as Obj[];
    expect(at(filters, { name: 'envoy.filters.http.ext_authz' }, 'typed_config', 'grpc_service', 'timeout')).toBe('2s');
    expect(at(filters, { name: 'envoy.filters.http.ext_proc' }, 'typed_config', 'grpc_service')).toEqual({ envoy_grpc: { cluster_name: 'mem0_gov_authz' }, timeout: '0.25s' });
    expect(sock(cfg, 'mem0_gov_authz')).toEqual({ address: 'authz', port_value: 3 });
  });

  it('a separate ext_proc cluster at the committed authz address follows authz to its rendered host and port', () => {
    const cfg = parse(renderEnvoyConfig({ ...base, mem0Port: 4, authzHost: 'authz', template: withExtProc('grpc', 'mem0_gov_ext_proc', true) })) as Obj;
    expect(sock(cfg, 'mem0_gov_authz')).toEqual({ address: 'authz', port_value: 3 });
    expect(sock(cfg, 'mem0_gov_ext_proc')).toEqual({ address: 'authz', port_value: 3 });
    expect(sock(cfg, 'mem0')).toEqual({ address: '127.0.0.1', port_value: 4 });
  });

  it('the HTTP variant with a gRPC cluster for ext_proc: that cluster gets the gRPC port, ext_authz the HTTP one', () => {
    const cfg = parse(renderEnvoyConfig({ ...base, variant: 'http', mem0Port: 4, template: withExtProc('http', 'mem0_gov_authz', true) })) as Obj;
    expect(sock(cfg, 'mem0_gov_authz')).toEqual({ address: '127.0.0.1', port_value: 3 });
    expect(sock(cfg, 'mem0_gov_authz_http')).toEqual({ address: '127.0.0.1', port_value: 5 });
  });

  it('still fails loudly when ext_authz itself is gone', () => {
    const cfg = committed('grpc');
    const filters = hcm(cfg).http_filters as Obj[];
    filters.splice(filters.findIndex((f) => f.name === 'envoy.filters.http.ext_authz'), 1);
    expect(() => renderEnvoyConfig({ ...base, mem0Port: 4, template: stringify(cfg) })).toThrow(/no envoy.filters.http.ext_authz/);
  });
});

describe('renderEnvoyConfig withoutResponseStage (bench/test only)', () => {
  const EXT_PROC = 'envoy.filters.http.ext_proc';
  const routesOf = (cfg: unknown): Obj[] => (at(hcm(cfg), 'route_config', 'virtual_hosts') as Obj[]).flatMap((vh) => vh.routes as Obj[]);
  /** The response stage taken out of a parsed config by hand: the filter, its per-route configs. */
  const stripByHand = (cfg: Obj): Obj => {
    const h = hcm(cfg);
    h.http_filters = (h.http_filters as Obj[]).filter((f) => f.name !== EXT_PROC);
    for (const r of routesOf(cfg)) {
      const per = r.typed_per_filter_config as Obj | undefined;
      if (per === undefined) continue;
      delete per[EXT_PROC];
      if (Object.keys(per).length === 0) delete r.typed_per_filter_config;
    }
    return cfg;
  };
  /** Whether `small`'s lines are `big`'s lines with some lines left out (nothing rewritten). */
  const onlyLinesRemoved = (big: string, small: string): boolean => {
    const b = big.split('\n');
    let i = 0;
    for (const line of small.split('\n')) {
      while (i < b.length && b[i] !== line) i++;
      if (i === b.length) return false;
      i++;
    }
    return true;
  };

  for (const variant of ['grpc', 'http'] as const) {
    it(`${variant}: removes exactly the ext_proc filter and its per-route configs, and leaves every other line as it was`, () => {
      const opts = { ...base, variant, mem0Port: 4, authzTimeout: '2s' };
      const withText = renderEnvoyConfig(opts);
      const withoutText = renderEnvoyConfig({ ...opts, withoutResponseStage: true });
      const withCfg = parse(withText) as Obj;
      const without = parse(withoutText) as Obj;
      // The committed file has the stage (else this test proves nothing).
      expect((hcm(withCfg).http_filters as Obj[]).map((f) => f.name)).toContain(EXT_PROC);
      expect(routesOf(withCfg).filter((r) => (r.typed_per_filter_config as Obj | undefined)?.[EXT_PROC] !== undefined).length).toBeGreaterThanOrEqual(5);
      // Gone: the filter and every per-route config for it.
      expect((hcm(without).http_filters as Obj[]).map((f) => f.name)).not.toContain(EXT_PROC);
      expect(withoutText).not.toContain(EXT_PROC);
      // Nothing else changed: the same config once the stage is taken out by hand, and the text
      // is the rendered text with lines left out (no line rewritten or reformatted).
      expect(without).toEqual(stripByHand(withCfg));
      expect(onlyLinesRemoved(withText, withoutText)).toBe(true);
      expect(withoutText.split('\n').length).toBeLessThan(withText.split('\n').length);
      // The other filters keep their order.
      expect((hcm(without).http_filters as Obj[]).map((f) => f.name)).toEqual(
        (hcm(withCfg).http_filters as Obj[]).map((f) => f.name).filter((n) => n !== EXT_PROC));
    });
  }

  it("keeps another filter's per-route config on the same route", () => {
    const cfg = committed('grpc');
    const search = routesOf(cfg).find((r) => (r.match as Obj).path === '/search')!;
    const authzPerRoute = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute', check_settings: {} };
    (search.typed_per_filter_config as Obj)['envoy.filters.http.ext_authz'] = authzPerRoute;
    const out = parse(renderEnvoyConfig({ ...base, mem0Port: 4, template: stringify(cfg), withoutResponseStage: true })) as Obj;
    const after = routesOf(out).find((r) => (r.match as Obj).path === '/search')!;
    expect(after.typed_per_filter_config).toEqual({ 'envoy.filters.http.ext_authz': authzPerRoute });
  });

  it('is off by default and fails loudly when there is no ext_proc filter to remove', () => {
    expect(renderEnvoyConfig({ ...base, mem0Port: 4 })).toContain(EXT_PROC);
    const cfg = stripByHand(committed('grpc'));
    expect(() => renderEnvoyConfig({ ...base, mem0Port: 4, template: stringify(cfg), withoutResponseStage: true })).toThrow(/no envoy.filters.http.ext_proc/);
  });
});

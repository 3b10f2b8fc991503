// envoy/render.ts's opt-in tracing (RenderEnvoyOptions.tracing): Envoy's OpenTelemetry tracer on
// the edge connection manager, an OTLP/HTTP collector cluster and a short flush interval; nothing
// else changes, and without the option nothing is traced. (authz/test/e2e/tracing.test.ts runs
// this rendering in the real Envoy.)
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OTLP_CLUSTER, renderEnvoyConfig } from '../../../../envoy/render.js';

type Obj = Record<string, any>; // parsed YAML, walked freely in the test

const base = { listenPort: 1, adminPort: 2, authzGrpcPort: 3, authzHttpPort: 5, mem0Port: 6, certFile: '/c.crt', keyFile: '/c.key' };
const hcm = (cfg: Obj): Obj => cfg.static_resources.listeners.find((l: Obj) => l.name === 'mem0_edge').filter_chains[0].filters[0].typed_config;

describe('renderEnvoyConfig tracing', () => {
  it('adds the OpenTelemetry tracer, its collector cluster and the flush settings', () => {
    const cfg = parse(renderEnvoyConfig({ ...base, tracing: { otlpPort: 4318 } })) as Obj;
    expect(hcm(cfg).tracing).toEqual({
      random_sampling: { value: 100 },
      provider: {
        name: 'envoy.tracers.opentelemetry',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
          service_name: 'mem0-gov-envoy',
          http_service: { http_uri: { uri: 'http://127.0.0.1:4318/v1/traces', cluster: OTLP_CLUSTER, timeout: '1s' } },
        },
      },
    });
    const cluster = cfg.static_resources.clusters.find((c: Obj) => c.name === OTLP_CLUSTER);
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 4318 });
    const layer = cfg.layered_runtime.layers.find((l: Obj) => l.name === 'static').static_layer;
    expect(layer['tracing.opentelemetry.flush_interval_ms']).toBe(200);
    expect(layer['tracing.opentelemetry.min_flush_spans']).toBe(1);
  });

  it('everything else is as without it; without it there is no tracing', () => {
    const plain = parse(renderEnvoyConfig(base)) as Obj;
    const traced = parse(renderEnvoyConfig({ ...base, tracing: { otlpPort: 4318, otlpHost: 'collector', serviceName: 'edge', flushMs: 1000 } })) as Obj;
    expect(hcm(plain).tracing).toBeUndefined();
    expect(plain.static_resources.clusters.some((c: Obj) => c.name === OTLP_CLUSTER)).toBe(false);
    expect(hcm(traced).tracing.provider.typed_config.service_name).toBe('edge');
    expect(hcm(traced).tracing.provider.typed_config.http_service.http_uri.uri).toBe('http://collector:4318/v1/traces');
    delete hcm(traced).tracing;
    traced.static_resources.clusters = traced.static_resources.clusters.filter((c: Obj) => c.name !== OTLP_CLUSTER);
    const layer = traced.layered_runtime.layers.find((l: Obj) => l.name === 'static').static_layer;
    expect(layer['tracing.opentelemetry.flush_interval_ms']).toBe(1000);
    delete layer['tracing.opentelemetry.flush_interval_ms'];
    delete layer['tracing.opentelemetry.min_flush_spans'];
    expect(traced).toEqual(plain);
  });
});

// The OTEL_* variables as config/otel.ts reads them: off unless asked, the spec's endpoint
// rules, and every bad value refused at start with the variable's name.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/env.js';
import { DEFAULT_OTLP_TRACES_URL, loadOtelConfig, type OtelOn } from '../../../src/config/otel.js';

const on = (env: Record<string, string>): OtelOn => {
  const c = loadOtelConfig({ OTEL_TRACES_EXPORTER: 'otlp', ...env });
  if (!c.enabled) throw new Error('expected tracing on');
  return c;
};

describe('loadOtelConfig', () => {
  it('is off by default, with exporter none, and whenever OTEL_SDK_DISABLED=true', () => {
    expect(loadOtelConfig({})).toEqual({ enabled: false });
    expect(loadOtelConfig({ OTEL_TRACES_EXPORTER: 'none' })).toEqual({ enabled: false });
    expect(loadOtelConfig({ OTEL_TRACES_EXPORTER: '' })).toEqual({ enabled: false });
    expect(loadOtelConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' })).toEqual({ enabled: false });
    expect(loadOtelConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'false' }).enabled).toBe(true);
  });

  it('otlp: the defaults (localhost:4318, service mem0-gov, parent-based always-on, 5 s batches)', () => {
    expect(on({})).toEqual({
      enabled: true, url: DEFAULT_OTLP_TRACES_URL, headers: {}, timeoutMs: 10_000, scheduleDelayMs: 5_000,
      serviceName: 'mem0-gov', resourceAttributes: {}, sampler: 'parentbased_always_on', samplerRatio: 1,
    });
  });

  it('the general endpoint gets /v1/traces appended; the traces endpoint is used as is and wins', () => {
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).url).toBe('http://collector:4318/v1/traces');
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector/otlp/' }).url).toBe('https://collector/otlp/v1/traces');
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9/custom' }).url).toBe('http://b:9/custom');
  });

  it('headers, timeouts, resource attributes, service name, samplers', () => {
    const c = on({
      OTEL_EXPORTER_OTLP_HEADERS: 'x-a=1,x-key=general', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-key=traces%20key',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=from-attrs',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    expect(c.headers).toEqual({ 'x-a': '1', 'x-key': 'traces key' });
    expect(c.timeoutMs).toBe(2000);
    expect(c.scheduleDelayMs).toBe(100);
    expect(c.resourceAttributes).toEqual({ 'deployment.environment': 'prod', 'service.name': 'from-attrs' });
    expect(c.serviceName).toBe('from-attrs');
    expect(on({ OTEL_SERVICE_NAME: 'svc', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x' }).serviceName).toBe('svc');
    expect(c).toMatchObject({ sampler: 'parentbased_traceidratio', samplerRatio: 0.25 });
    expect(on({ OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '300' }).timeoutMs).toBe(300);
  });

  it('refuses what it cannot honour, naming the variable', () => {
    const cases: [Record<string, string>, string][] = [
      [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TIMEOUT: '5s' }, 'OTEL_EXPORTER_OTLP_TIMEOUT'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_RESOURCE_ATTRIBUTES: 'novalue' }, 'OTEL_RESOURCE_ATTRIBUTES'],
      [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_HEADERS: 'k=%zz' }, 'OTEL_EXPORTER_OTLP_HEADERS'],
    ];
    for (const [env, variable] of cases) {
      let err: unknown;
      try {
        loadOtelConfig(env);
      } catch (e) {
        err = e;
      }
      expect(err, variable).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
    }
  });

  it('never echoes a header value (it may be an API key) in an error', () => {
    expect(() => loadOtelConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s3cr3t%zz' })).toThrow(/^(?!.*s3cr3t)/);
  });
});

// OpenTelemetry tracing settings, from the standard OTEL_* variables (not MEM0_GOV_*: operators
// and collectors already speak these; docs/tracing.md). Off unless OTEL_TRACES_EXPORTER=otlp, and
// OTEL_SDK_DISABLED=true wins over everything. Read here, once, from the env the entry point hands
// over (the SDK is then given every value explicitly), so config/ stays the only reader of the
// environment and an in-process service (tests) is configured by its env object alone.
import { ConfigError, type Env } from './env.js';

export type SamplerName =
  | 'always_on' | 'always_off' | 'traceidratio'
  | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';
const SAMPLERS: readonly SamplerName[] = [
  'always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio',
];

export interface OtelOn {
  enabled: true;
  /** Full OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  /** Sent with every export (e.g. a vendor's API key): never logged. */
  headers: Record<string, string>;
  timeoutMs: number;
  /** Delay between two batch exports (OTEL_BSP_SCHEDULE_DELAY). */
  scheduleDelayMs: number;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: SamplerName;
  /** traceidratio samplers: the ratio 0..1. */
  samplerRatio: number;
}
export type OtelConfig = { enabled: false } | OtelOn;

export const DEFAULT_SERVICE_NAME = 'mem0-gov';
export const DEFAULT_OTLP_TRACES_URL = 'http://localhost:4318/v1/traces';

function get(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** `k1=v1,k2=v2` with percent-encoded values (W3C Baggage style, as the spec defines both). */
export function parseKeyValues(name: string, text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(name, 'expected key=value pairs separated by commas');
    try {
      out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(name, 'a key or value is not valid percent-encoding');
    }
  }
  return out;
}

function httpUrl(name: string, v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `expected a URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(name, 'expected an http or https URL');
  return v;
}

function millis(env: Env, name: string, fallback: number): number {
  const v = get(env, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new ConfigError(name, `expected milliseconds (an integer), got ${JSON.stringify(v)}`);
  return Number(v);
}

/** The tracing settings; `{ enabled: false }` unless traces are to be exported. */
export function loadOtelConfig(env: Env): OtelConfig {
  const disabled = get(env, 'OTEL_SDK_DISABLED');
  if (disabled !== undefined && disabled.toLowerCase() === 'true') return { enabled: false };
  const exporter = get(env, 'OTEL_TRACES_EXPORTER')?.toLowerCase();
  if (exporter === undefined || exporter === 'none') return { enabled: false };
  if (exporter !== 'otlp') throw new ConfigError('OTEL_TRACES_EXPORTER', `only otlp or none are supported, got ${JSON.stringify(exporter)}`);

  // One protocol: OTLP/HTTP with protobuf, the spec's default, which every collector and vendor
  // accepts (docs/tracing.md says why not grpc or http/json).
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const p = get(env, name);
    if (p !== undefined && p !== 'http/protobuf') throw new ConfigError(name, `only http/protobuf is supported, got ${JSON.stringify(p)}`);
  }
  // The signal-specific endpoint is used as is; the general one gets the signal's path appended.
  const specific = get(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const general = get(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const url = specific !== undefined ? httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', specific)
    : general !== undefined ? `${httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', general).replace(/\/+$/, '')}/v1/traces`
      : DEFAULT_OTLP_TRACES_URL;

  const sampler = (get(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on') as SamplerName;
  if (!SAMPLERS.includes(sampler)) throw new ConfigError('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')}, got ${JSON.stringify(sampler)}`);
  const arg = get(env, 'OTEL_TRACES_SAMPLER_ARG');
  let samplerRatio = 1;
  if (arg !== undefined && sampler.endsWith('traceidratio')) {
    samplerRatio = Number(arg);
    if (!/^\d*\.?\d+$/.test(arg) || samplerRatio > 1) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', `expected a ratio between 0 and 1, got ${JSON.stringify(arg)}`);
  }

  const resourceAttributes = parseKeyValues('OTEL_RESOURCE_ATTRIBUTES', get(env, 'OTEL_RESOURCE_ATTRIBUTES'));
  return {
    enabled: true,
    url,
    headers: {
      ...parseKeyValues('OTEL_EXPORTER_OTLP_HEADERS', get(env, 'OTEL_EXPORTER_OTLP_HEADERS')),
      ...parseKeyValues('OTEL_EXPORTER_OTLP_TRACES_HEADERS', get(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS')),
    },
    timeoutMs: millis(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', millis(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000)),
    scheduleDelayMs: millis(env, 'OTEL_BSP_SCHEDULE_DELAY', 5_000),
    // OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (the spec's order).
    serviceName: get(env, 'OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? DEFAULT_SERVICE_NAME,
    resourceAttributes,
    sampler,
    samplerRatio,
  };
}

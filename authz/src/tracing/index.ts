// Turns tracing on or leaves it off (config/otel.ts). Off — the default — returns undefined and
// never imports the OpenTelemetry SDK: callers then take exactly the path they take without
// tracing (a check costs one `undefined` test per stage). On, the SDK is loaded here, once, by a
// dynamic import of ./sdk.js.
import type { OtelConfig, OtelOn } from '../config/otel.js';
import type { Logger } from '../logger.js';
import type { Tracing } from './types.js';

export type { SpanAttributes, TraceScope, Tracing } from './types.js';
export { parseTraceparent, pickTraceparent } from './traceparent.js';

/** How the SDK side is loaded; tests pass their own to see it is never called when off. */
export type LoadSdk = () => Promise<{ startSdkTracing(cfg: OtelOn, logger: Logger): Tracing }>;

const loadSdk: LoadSdk = () => import('./sdk.js');

export async function loadTracing(cfg: OtelConfig, logger: Logger, load: LoadSdk = loadSdk): Promise<Tracing | undefined> {
  if (!cfg.enabled) return undefined;
  const { startSdkTracing } = await load();
  // Where to, without credentials: OTLP headers (and a URL's user part) may hold an API key.
  const where = new URL(cfg.url);
  where.username = '';
  where.password = '';
  logger.info({ otlpUrl: where.toString(), serviceName: cfg.serviceName, sampler: cfg.sampler }, 'tracing on: exporting spans over OTLP/HTTP');
  return startSdkTracing(cfg, logger);
}

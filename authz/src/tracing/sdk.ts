// The OpenTelemetry SDK side of tracing/types.ts, loaded only when tracing is on (index.ts).
// Spans are parented explicitly (the check span under Envoy's traceparent, each stage under the
// check span): no global provider, propagator or context manager is registered, so no
// AsyncLocalStorage cost on unrelated work and several services in one process (tests) keep
// their own providers. Export: batched OTLP/HTTP protobuf (docs/tracing.md).
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type Sampler,
} from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { OtelOn, SamplerName } from '../config/otel.js';
import type { Logger } from '../logger.js';
import type { SpanAttributes, TraceScope, Tracing } from './types.js';

export const TRACER_NAME = 'mem0-gov';

function sampler(name: SamplerName, ratio: number): Sampler {
  const root = name.endsWith('always_off') ? new AlwaysOffSampler()
    : name.endsWith('traceidratio') ? new TraceIdRatioBasedSampler(ratio) : new AlwaysOnSampler();
  return name.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

function clean(attrs: SpanAttributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out[k] = v;
  return out;
}

/** The stable reason of a PipelineStop (or anything carrying one); never an error's message. */
function reasonOf(err: unknown): string {
  const r = (err as { reason?: unknown } | null)?.reason;
  return typeof r === 'string' ? r : 'error';
}

function failed(span: Span, err: unknown): void {
  const reason = reasonOf(err);
  span.setAttribute('mem0_gov.reason', reason);
  span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
}

function scope(tracer: Tracer, span: Span, parentTraceId: string | undefined): TraceScope {
  const ctx: Context = trace.setSpan(ROOT_CONTEXT, span);
  let ended = false;
  return {
    traceId: span.isRecording() ? span.spanContext().traceId : parentTraceId,
    stage<T>(name: string, fn: () => T): T {
      const child = tracer.startSpan(name, { kind: SpanKind.INTERNAL }, ctx);
      let out: T;
      try {
        out = fn();
      } catch (err) {
        failed(child, err);
        child.end();
        throw err;
      }
      if (!(out instanceof Promise)) {
        child.end();
        return out;
      }
      return out.then(
        (v: unknown) => {
          child.end();
          return v;
        },
        (err: unknown) => {
          failed(child, err);
          child.end();
          throw err;
        },
      ) as T;
    },
    set(attrs) {
      span.setAttributes(clean(attrs));
    },
    end(isFailed = false) {
      if (ended) return;
      ended = true;
      if (isFailed) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}

export function startSdkTracing(cfg: OtelOn, logger: Logger): Tracing {
  const exporter = new OTLPTraceExporter({ url: cfg.url, headers: cfg.headers, timeoutMillis: cfg.timeoutMs });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ ...cfg.resourceAttributes, 'service.name': cfg.serviceName }),
    sampler: sampler(cfg.sampler, cfg.samplerRatio),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: cfg.scheduleDelayMs })],
  });
  const tracer = provider.getTracer(TRACER_NAME);
  const propagator = new W3CTraceContextPropagator();
  return {
    start(name, traceparent, attrs) {
      const parent = traceparent === undefined ? ROOT_CONTEXT
        : propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: clean(attrs) }, parent);
      return scope(tracer, span, trace.getSpanContext(parent)?.traceId);
    },
    async shutdown() {
      await provider.shutdown().catch((err: unknown) => {
        logger.warn({ err: { message: (err as Error).message } }, 'tracing: spans not exported at shutdown');
      });
    },
  };
}

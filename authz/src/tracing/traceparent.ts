// The W3C Trace Context `traceparent` header (https://www.w3.org/TR/trace-context/), read without
// the SDK: the audit row and the logs carry the trace id whether or not traces are exported, and
// tracing off must not load OpenTelemetry. The rule is @opentelemetry/core's parseTraceParent,
// character for character (authz/test/unit/tracing/traceparent.test.ts compares the two).
const TRACEPARENT = /^\s?((?!ff)[\da-f]{2})-((?![0]{32})[\da-f]{32})-((?![0]{16})[\da-f]{16})-([\da-f]{2})(-.*)?\s?$/;

export interface ParentContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

export function parseTraceparent(value: string | undefined): ParentContext | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value);
  // Version 00 has exactly four fields; later versions may append more.
  if (!m || (m[1] === '00' && m[5] !== undefined)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) };
}

/** The first valid traceparent of the candidates (most specific first), else undefined. */
export function pickTraceparent(...candidates: (string | undefined)[]): string | undefined {
  return candidates.find((c) => parseTraceparent(c) !== undefined);
}

// The tracing seam the pipeline and the response stage call: no OpenTelemetry type crosses it,
// so nothing outside tracing/sdk.ts loads the SDK (off = not loaded at all; docs/tracing.md).

/** Span attributes: ids, names, counts and reasons only — never a token or memory content. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** One traced unit of work (a check, a response-stage stream) and its span. */
export interface TraceScope {
  /** The trace this scope belongs to (32 hex), when it is recorded or had a valid parent. */
  readonly traceId: string | undefined;
  /** Runs `fn` in a child span named `name`, ended when `fn` returns or its promise settles; a
   * throw or rejection marks the child failed (with the stop's reason when it has one). */
  stage<T>(name: string, fn: () => T): T;
  /** Attributes on the scope's own span. */
  set(attrs: SpanAttributes): void;
  /** Ends the span (`failed`: status ERROR). Later calls do nothing. */
  end(failed?: boolean): void;
}

export interface Tracing {
  /** A SERVER span `name`, child of the W3C `traceparent` (a new trace without a valid one). */
  start(name: string, traceparent: string | undefined, attrs: SpanAttributes): TraceScope;
  /** Exports what is still buffered, then stops exporting. */
  shutdown(): Promise<void>;
}

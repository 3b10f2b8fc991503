// Load through the real Envoy for fault tests and benches: HTTP/2 over TLS on a few kept-alive
// sessions, requests sent on a fixed schedule (open loop: a slow answer never delays the next
// request), every answer classified by who gave it (Mem0 via authz's allow, authz's denial, or
// Envoy on its own) and kept with its request id, decision id and latency, so a test can check
// availability and compare what clients saw with the audit trail.
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

export interface LoadRequest {
  method: string;
  path: string;
  token?: string;
  body?: unknown;
  /** The caller's label for this request (e.g. `allow`, `deny`): kept on the result. */
  tag: string;
}

/** Who answered: Mem0 (allowed by authz), authz (a denial with its JSON body), Envoy on its own
 * (a 5xx without a decision: ext_authz timeout, no healthy authz, reset), or nobody (client error). */
export type Answerer = 'mem0' | 'authz' | 'envoy' | 'none';

export interface LoadResult {
  i: number;
  tag: string;
  requestId: string;
  /** ms since the run started, when the request was sent. */
  sentAt: number;
  /** send → end of the answer, ms. */
  ms: number;
  status: number;
  by: Answerer;
  /** authz's reason (denials), if the body carried one. */
  reason?: string;
  decisionId?: string;
  retryAfter?: string;
  error?: string;
}

export interface LoadClient {
  send(req: LoadRequest, i?: number, t0?: number): Promise<LoadResult>;
  close(): Promise<void>;
}

/** `sessions` HTTP/2 connections to Envoy (each carries ≤ 100 concurrent streams: Envoy's limit). */
export function loadClient(baseUrl: string, caFile: string, opts: { sessions?: number; timeoutMs?: number } = {}): LoadClient {
  const ca = readFileSync(caFile, 'utf8');
  const n = Math.max(1, opts.sessions ?? 4);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const sessions: (ClientHttp2Session | undefined)[] = new Array(n).fill(undefined);
  let turn = 0;
  const session = (): ClientHttp2Session => {
    const k = turn++ % n;
    let s = sessions[k];
    if (s === undefined || s.closed || s.destroyed) {
      s = connect(baseUrl, { ca, servername: 'localhost' });
      s.on('error', () => undefined);
      s.setMaxListeners(0);
      sessions[k] = s;
    }
    return s;
  };
  let seq = 0;
  return {
    send(req, i = seq++, t0 = performance.now()) {
      const requestId = `load-${randomUUID()}`;
      const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
      const headers: Record<string, string | number> = {
        [constants.HTTP2_HEADER_METHOD]: req.method,
        [constants.HTTP2_HEADER_PATH]: req.path,
        'x-request-id': requestId,
      };
      if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const started = performance.now();
      const base = { i, tag: req.tag, requestId, sentAt: started - t0 };
      return new Promise<LoadResult>((resolve) => {
        let status = 0;
        let responseHeaders: Record<string, unknown> = {};
        const chunks: Buffer[] = [];
        let done = false;
        const finish = (error?: string): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const ms = performance.now() - started;
          if (error !== undefined && status === 0) {
            resolve({ ...base, ms, status: 0, by: 'none', error });
            return;
          }
          const text = Buffer.concat(chunks).toString('utf8');
          const decisionHeader = responseHeaders['x-mem0-gov-decision-id'];
          let reason: string | undefined;
          let decisionId = typeof decisionHeader === 'string' && decisionHeader !== '' ? decisionHeader : undefined;
          if (text.startsWith('{') && status >= 400) {
            try {
              const b = JSON.parse(text) as { reason?: unknown; decision_id?: unknown };
              if (typeof b.reason === 'string') reason = b.reason;
              if (typeof b.decision_id === 'string' && b.decision_id !== '') decisionId ??= b.decision_id;
            } catch { /* not ours */ }
          }
          const by: Answerer = status >= 200 && status < 300 ? 'mem0' : reason !== undefined && decisionId !== undefined ? 'authz' : 'envoy';
          const r: LoadResult = { ...base, ms, status, by };
          if (reason !== undefined) r.reason = reason;
          if (decisionId !== undefined) r.decisionId = decisionId;
          const ra = responseHeaders['retry-after'];
          if (typeof ra === 'string') r.retryAfter = ra;
          if (error !== undefined) r.error = error;
          resolve(r);
        };
        const timer = setTimeout(() => { stream?.close(constants.NGHTTP2_CANCEL); finish('client timeout'); }, timeoutMs);
        let stream: ReturnType<ClientHttp2Session['request']> | undefined;
        try {
          stream = session().request(headers, { endStream: payload === undefined });
        } catch (err) {
          finish((err as Error).message);
          return;
        }
        stream.on('response', (h) => {
          status = Number(h[constants.HTTP2_HEADER_STATUS] ?? 0);
          responseHeaders = h as Record<string, unknown>;
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => finish());
        stream.on('close', () => finish(status === 0 ? 'stream closed' : undefined));
        stream.on('error', (err) => finish(err.message));
        if (payload) stream.end(payload);
      });
    },
    async close() {
      await Promise.all(sessions.map((s) => new Promise<void>((r) => {
        if (s === undefined || s.closed || s.destroyed) { r(); return; }
        s.close(() => r());
        setTimeout(() => { s.destroy(); r(); }, 2000).unref();
      })));
    },
  };
}

/**
 * Sends `make(i)` at `rate` requests/s for `durationMs` on the schedule t0 + i/rate, whatever the
 * answers do (open loop). Resolves with every result once the last answer is in. `onTick` runs
 * every ~100 ms with the elapsed time (to inject faults on time).
 */
export async function openLoop(client: LoadClient, o: {
  rate: number;
  durationMs: number;
  make: (i: number) => LoadRequest;
  onTick?: (elapsedMs: number) => void;
  /** performance.now() that `sentAt` counts from (several runs on one time axis); default: now. */
  epoch?: number;
}): Promise<LoadResult[]> {
  const t0 = performance.now();
  const epoch = o.epoch ?? t0;
  const total = Math.floor((o.rate * o.durationMs) / 1000);
  const pending: Promise<LoadResult>[] = [];
  let next = 0;
  let lastTick = 0;
  while (next < total) {
    const elapsed = performance.now() - t0;
    const due = Math.min(total, Math.floor((elapsed * o.rate) / 1000) + 1);
    for (; next < due; next++) pending.push(client.send(o.make(next), next, epoch));
    if (o.onTick && elapsed - lastTick >= 100) {
      lastTick = elapsed;
      o.onTick(elapsed);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return Promise.all(pending);
}

export interface LatencySummary { n: number; p50: number; p90: number; p99: number; max: number }

/** Nearest-rank percentiles of a sample (ms). */
export function latency(xs: readonly number[]): LatencySummary {
  if (xs.length === 0) return { n: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { n: s.length, p50: rank(50), p90: rank(90), p99: rank(99), max: s[s.length - 1]! };
}

/** Counts of results by who answered and status, e.g. `{ 'mem0 200': 120, 'authz 403 cross_tenant': 118 }`. */
export function tally(results: readonly LoadResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    const k = `${r.by} ${r.status}${r.reason ? ` ${r.reason}` : ''}${r.by === 'none' ? ` ${r.error ?? ''}` : ''}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The usual mix: half allowed reads of the caller's tenant (Mem0 answers, an outcome row), half
 * cross-tenant reads (403 `cross_tenant`), round-robin over the given tokens (tenant `acme`). */
export function mixed(tokens: readonly string[]): (i: number) => LoadRequest {
  return (i) => {
    const token = tokens[i % tokens.length]!;
    return i % 2 === 0
      ? { tag: 'allow', method: 'GET', path: `/memories?user_id=acme:u${i % 97}`, token }
      : { tag: 'deny', method: 'GET', path: '/memories?user_id=globex:intruder', token };
  };
}

/** A load client in a worker thread of its own (load-worker.ts) that keeps its connections and
 * its compiled code between runs: a measurement after a fault starts with a warm client. */
export interface LoadWorker {
  /** openLoop with the usual mix (mixed). `epoch`: the caller's performance.now() that
   * results' sentAt count from (default: this run's start). */
  run(o: { rate: number; durationMs: number; epoch?: number }): Promise<LoadResult[]>;
  close(): Promise<void>;
}

export function startLoadWorker(o: { baseUrl: string; caFile: string; sessions?: number; tokens: readonly string[] }): LoadWorker {
  // tsx registers its loader per thread: the worker registers it, then loads the .ts module.
  const entry = new URL('./load-worker.ts', import.meta.url).href;
  const w = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, {
    eval: true,
    workerData: { baseUrl: o.baseUrl, caFile: o.caFile, sessions: o.sessions ?? 16, tokens: [...o.tokens] },
  });
  let failed: Error | undefined;
  w.on('error', (err) => { failed = err; });
  return {
    run(r) {
      const start = performance.now();
      return new Promise((resolve, reject) => {
        if (failed !== undefined) { reject(failed); return; }
        const onError = (err: Error): void => reject(err);
        w.once('error', onError);
        w.once('message', (results: LoadResult[]) => { w.off('error', onError); resolve(results); });
        w.postMessage({ rate: r.rate, durationMs: r.durationMs, epochOffset: start - (r.epoch ?? start) });
      });
    },
    async close() {
      w.postMessage('close');
      await new Promise<void>((resolve) => w.once('exit', () => resolve()));
    },
  };
}

/**
 * One openLoop with the usual mix in a worker of its own (startLoadWorker), for floods, where the
 * client's own work would otherwise delay what it measures.
 */
export async function openLoopInWorker(o: { baseUrl: string; caFile: string; sessions?: number; rate: number; durationMs: number; tokens: readonly string[]; epoch?: number }): Promise<LoadResult[]> {
  const w = startLoadWorker(o);
  try {
    return await w.run({ rate: o.rate, durationMs: o.durationMs, ...(o.epoch !== undefined ? { epoch: o.epoch } : {}) });
  } finally {
    await w.close();
  }
}

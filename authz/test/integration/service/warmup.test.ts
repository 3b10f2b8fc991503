// Warm before SERVING: a starting service answers on its ports at once but reports NOT_SERVING
// (`/serving`, gRPC health) until its hot paths ran — Envoy's traffic imitated through a loopback
// gRPC server of its own, Check calls and response-stage streams; the warm-up leaves no trace —
// no audit row, no request to Mem0, no decision or outcome in the metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startStack, type Stack } from '../../../../testing/stack.js';
import { freePort } from '../../../../testing/tools.js';
import { startService, type ServiceHandle } from '../../../src/service.js';
import * as metrics from '../../../src/metrics.js';

let stack: Stack;
let svc: ServiceHandle | undefined;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await svc?.stop(0);
  await stack?.stop();
});

async function decisionsCounted(): Promise<number> {
  return (await metrics.decisions.get()).values.reduce((n, v) => n + v.value, 0);
}

async function outcomesCounted(): Promise<number> {
  return (await metrics.outcomes.get()).values.reduce((n, v) => n + v.value, 0);
}

describe('warm-up', () => {
  it('NOT_SERVING until warm, then SERVING; nothing recorded, nothing sent to Mem0', async () => {
    const httpPort = await freePort();
    const chain = `warmup-${process.pid}`;
    const mem0Before = stack.mem0!.requests.length;
    const decisionsBefore = await decisionsCounted();
    const outcomesBefore = await outcomesCounted();
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); done(); } });
    const seen: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const r = await fetch(`http://127.0.0.1:${httpPort}/serving`);
          if (seen[seen.length - 1] !== r.status) seen.push(r.status);
        } catch { /* not listening yet */ }
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    svc = await startService({ ...stack.env, MEM0_GOV_GRPC_PORT: String(await freePort()), MEM0_GOV_HTTP_PORT: String(httpPort), MEM0_GOV_AUDIT_CHAIN_ID: chain },
      { logger: pino({ level: 'info' }, sink) });
    await new Promise((res) => setTimeout(res, 50));
    polling = false;
    await poller;
    // Listening before warm, NOT_SERVING while warming; SERVING once startService resolved.
    expect(seen).toEqual([503, 200]);
    const ready = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).json() as { checks: Record<string, boolean> };
    expect(ready.checks.serving).toBe(true);

    const c = new pg.Client(stack.pgOwnerUrl);
    await c.connect();
    try {
      const rows = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM audit.events WHERE chain_id = $1 OR chain_id LIKE $2', [chain, 'warmup:%']);
      expect(rows.rows[0]!.n).toBe(0);
    } finally {
      await c.end();
    }
    expect(stack.mem0!.requests.length).toBe(mem0Before);
    expect(await decisionsCounted()).toBe(decisionsBefore);
    expect(await outcomesCounted()).toBe(outcomesBefore);
    // It went through the loopback server: every decision a Check call, the allowed ones
    // followed by a response-stage stream, nothing failed.
    expect(lines.filter((l) => l.msg === 'warm-up incomplete; serving anyway (the first requests may be slower)')).toEqual([]);
    const readyLine = lines.find((l) => l.msg === 'mem0-gov authz ready') as { warmup: { decisions: number; streams: number } } | undefined;
    // (At most 800 decisions, fewer when the 5 s cap comes first on a busy machine.)
    const w = readyLine!.warmup;
    expect(w.decisions).toBeGreaterThanOrEqual(100);
    expect(w.streams).toBeGreaterThan(w.decisions / 4);
    expect(w.streams).toBeLessThan(w.decisions); // denials (no token, another tenant, …) have none
  });
});

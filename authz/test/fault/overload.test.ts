// A flood through the real Envoy, against each of the three bounds (docs/DESIGN.md "Availability"):
// Envoy's admission bucket (envoy.filters.http.local_ratelimit) sheds beyond its rate with 503
// `overloaded`; Envoy's bound on checks in flight (the check cluster's circuit breaker, 64 as
// shipped) refuses beyond it at once with 503 `authz_unavailable`, so authz never has more to do
// than it can answer in time; authz itself decides at most MEM0_GOV_MAX_IN_FLIGHT checks at once
// and refuses the rest at once — 503 `overloaded`, each refusal audited (for several Envoys in
// front of one replica). All with Retry-After, none left to Envoy's timeout. Envoy's ext_authz timeout is the test stacks' 2 s: this is about who answers and
// how, not about latency on a loaded CI machine (bench/soak/faults.ts measures the flood against
// the shipped budget).
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startStack, type Stack } from '../../../testing/stack.js';
import { loadClient, mixed, openLoop, type LoadResult } from '../../../testing/load.js';
import { CHECK_COUNTERS, counted } from '../../../testing/envoy.js';
import { FAULT_ENV, expectConsistent, settledAudit, tokens } from './helpers.js';

const stacks: Stack[] = [];
afterAll(async () => {
  for (const s of stacks) await s.stop();
});

/** `n` requests sent as fast as the client can (a burst far above any in-flight bound); `deniedOnly`:
 * cross-tenant reads only, so no answer waits on the response stage (Mem0 and ext_proc). */
async function burst(stack: Stack, toks: string[], n: number, deniedOnly = false): Promise<LoadResult[]> {
  const client = loadClient(stack.envoy.baseUrl, stack.envoy.caFile, { sessions: 16 });
  const all = mixed(toks);
  try {
    return await openLoop(client, { rate: n * 10, durationMs: 100, make: deniedOnly ? (i) => all(2 * i + 1) : all });
  } finally {
    await client.close();
  }
}

describe('a flood', () => {
  it('authz refuses what it cannot take at once: 503 overloaded with Retry-After, audited; nothing times out; it recovers', async () => {
    // Envoy's own bound out of the way: this is about authz's.
    const stack = await startStack({ authzProcesses: 1, checksInFlight: 10_000, env: { ...FAULT_ENV, MEM0_GOV_MAX_IN_FLIGHT: '8' } });
    stacks.push(stack);
    const toks = await tokens(stack);
    const results = await burst(stack, toks, 600);
    expect(results).toHaveLength(600);
    const refused = results.filter((r) => r.reason === 'overloaded');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(r).toMatchObject({ by: 'authz', status: 503, retryAfter: '1' });
    // Every answer is Mem0's (allowed), authz's denial or authz's refusal: none is Envoy's timeout.
    expect(results.filter((r) => r.by === 'envoy' || r.by === 'none')).toEqual([]);
    expect(results.filter((r) => r.status >= 500 && r.reason !== 'overloaded')).toEqual([]);
    // Refusals are in the trail like any decision, with their reason.
    const a = await settledAudit(stack, results);
    expectConsistent(a, results);
    const c = new pg.Client(stack.pgOwnerUrl);
    await c.connect();
    try {
      const rows = await c.query<{ n: number }>("SELECT count(*)::int AS n FROM audit.events WHERE kind = 'decision' AND reasons[1] = 'overloaded' AND request_id = ANY($1::text[])",
        [refused.map((r) => r.requestId)]);
      expect(rows.rows[0]!.n).toBe(refused.length);
    } finally {
      await c.end();
    }
    // Back to normal once the flood is over.
    const after = await burst(stack, toks, 4);
    expect(after.filter((r) => r.tag === 'allow').every((r) => r.status === 200)).toBe(true);
  });

  it("Envoy's admission bucket sheds beyond its rate before authz: 503 overloaded, Retry-After, the deny body's shape", async () => {
    const stack = await startStack({ admissionRate: 20, checksInFlight: 10_000, env: FAULT_ENV });
    stacks.push(stack);
    const toks = await tokens(stack);
    const results = await burst(stack, toks, 120);
    const shed = results.filter((r) => r.by === 'envoy');
    expect(shed.length).toBeGreaterThan(0);
    for (const r of shed) expect(r).toMatchObject({ status: 503, reason: 'overloaded', retryAfter: '1' });
    expect(results.filter((r) => r.status >= 500 && r.reason !== 'overloaded')).toEqual([]);
    // Shed ones never reached authz: no row for them; the others are consistent as ever.
    const a = await settledAudit(stack, results);
    expectConsistent(a, results);
    expect(a.decisionRows).toBe(results.length - shed.length);
  });

  it("Envoy's bound on checks in flight refuses beyond it at once: 503 authz_unavailable, Retry-After, never sent to authz", async () => {
    // As shipped (64 per Envoy); authz's own bound is set above it, so any refusal is Envoy's.
    // Without the response stage: Envoy runs even a denial's local reply through ext_proc, and in
    // a burst like this, on a loaded CI machine, a few of those streams passed their 1 s timeout
    // (504 for a denied request). That is the response stage's behaviour under a burst, not the
    // check bound's, which is this test's subject.
    const stack = await startStack({ authzProcesses: 1, withoutResponseStage: true, env: { ...FAULT_ENV, MEM0_GOV_MAX_IN_FLIGHT: '1000' } });
    stacks.push(stack);
    const toks = await tokens(stack);
    const before = await stack.envoy.stats();
    // Denied requests only: this is about who answers the checks.
    const results = await burst(stack, toks, 600, true);
    const after = await stack.envoy.stats();
    const delta = (k: string): number => counted(before, after, [k]);
    const refused = results.filter((r) => r.reason === 'authz_unavailable');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(r).toMatchObject({ by: 'envoy', status: 503, retryAfter: '1' });
    // Refused over the bound, not timed out; authz never needed to refuse anything itself.
    const overflow = counted(before, after, CHECK_COUNTERS.overBound);
    expect(overflow, JSON.stringify(Object.fromEntries(Object.keys(after).filter((k) => k.startsWith('cluster.mem0_gov_authz.') && delta(k) !== 0).map((k) => [k, delta(k)])))).toBeGreaterThanOrEqual(refused.length);
    expect(counted(before, after, CHECK_COUNTERS.timeouts)).toBe(0);
    expect(results.filter((r) => r.reason === 'overloaded')).toEqual([]);
    expect(results.filter((r) => r.status >= 500 && r.reason !== 'authz_unavailable')).toEqual([]);
    // What authz answered is in the trail as ever; the refused ones have no row.
    const a = await settledAudit(stack, results);
    expectConsistent(a, results);
    expect(a.decisionRows).toBe(results.length - refused.length);
  });
});

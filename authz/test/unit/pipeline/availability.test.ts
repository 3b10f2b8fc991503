// The pipeline's availability hooks, with in-memory stand-ins: admission (a bounded number of
// checks decided at once, the rest refused at once with an audited 503 `overloaded`) and the
// caller's deadline (a check nobody waits for is not charged to limits and never recorded as
// answered). No timing: deadlines are set already passed, or passed while a stage is held.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createPipeline, OVERLOADED_RETRY_AFTER_S } from '../../../src/pipeline.js';
import type { PipelineDeps } from '../../../src/pipeline.js';
import type { RawCheck } from '../../../src/request/parse.js';
import type { AuditEvent, GateResult, Identity } from '../../../src/types.js';
import { REASONS } from '../../../src/reasons.js';

const alice: Identity = { subject: 'alice', issuer: 'i', tenant: 'acme', roles: ['agent-writer'] };
const PASS: GateResult = { ok: true, clientHeaders: {}, notes: [] };

/** A stage that waits until released. */
function hold(): { wait: Promise<void>; release(): void } {
  let release!: () => void;
  const wait = new Promise<void>((r) => { release = r; });
  return { wait, release };
}

function deps(over: Partial<PipelineDeps> = {}): PipelineDeps & { calls: string[]; events: AuditEvent[] } {
  const calls: string[] = [];
  const events: AuditEvent[] = [];
  return {
    parse: { phiLabels: ['phi'] },
    logger: pino({ level: 'silent' }),
    authenticator: { authenticate: async () => { calls.push('authenticate'); return alice; } },
    gate: { check: async () => { calls.push('gate'); return PASS; }, close: async () => undefined },
    owners: { lookup: async () => ({ exists: true, user_id: 'acme:alice', phi: false }), evict: async () => undefined, tombstone: async () => undefined },
    policy: { evaluate: () => { calls.push('policy'); return { allow: true, reasons: [], answer: { tenant_prefixes: ['acme:'], phi_allowed: false } }; }, revision: () => 'rev-1' },
    audit: { append: async (e) => { calls.push(`audit:${e.kind}`); events.push(e); }, close: async () => undefined },
    ...over,
    calls,
    events,
  };
}

const get = (path = '/memories?user_id=acme:a'): RawCheck => ({ method: 'GET', path, headers: { authorization: 'Bearer t' }, sourceIp: '192.0.2.1', requestId: 'rid' });

describe('admission', () => {
  it('beyond maxInFlight a check is refused at once: 503 overloaded with Retry-After, audited, no authentication or Redis', async () => {
    const gateHeld = hold();
    const d = deps({ maxInFlight: 2 });
    d.gate = { check: async () => { d.calls.push('gate'); await gateHeld.wait; return PASS; }, close: async () => undefined };
    const decide = createPipeline(d);
    const first = decide(get());
    const second = decide(get());
    await new Promise((r) => setImmediate(r));
    expect(decide.inFlight()).toBe(2);
    const refused = await decide(get());
    expect(refused).toMatchObject({ decision: 'error', reason: 'overloaded', status: 503, delivered: true });
    if (refused.verdict.allowed) throw new Error('expected a refusal');
    expect(refused.verdict.headers['retry-after']).toBe(String(OVERLOADED_RETRY_AFTER_S));
    expect(refused.verdict.body).toMatchObject({ error: 'error', reason: 'overloaded', decision_id: refused.decisionId });
    expect(d.calls.filter((c) => c === 'authenticate')).toHaveLength(2);
    expect(d.calls.filter((c) => c === 'gate')).toHaveLength(2);
    expect(d.events).toHaveLength(1);
    expect(d.events[0]).toMatchObject({ event_id: refused.decisionId, decision: 'error', reasons: ['overloaded'], status: 503, actor_sub: null, path: '/memories' });
    gateHeld.release();
    expect(await first).toMatchObject({ decision: 'allow' });
    expect(await second).toMatchObject({ decision: 'allow' });
    expect(decide.inFlight()).toBe(0);
    // Room again: admitted.
    expect(await decide(get())).toMatchObject({ decision: 'allow' });
  });

  it('the reasons are in the table with their status', () => {
    expect(REASONS.overloaded).toMatchObject({ decision: 'error', status: 503 });
    expect(REASONS.deadline_exceeded).toMatchObject({ decision: 'error', status: 503 });
    expect(REASONS.answer_not_delivered).toMatchObject({ auditOnly: true });
  });
});

describe("the caller's deadline", () => {
  it('already passed on arrival: nothing decided, no limit charged, nothing recorded (Envoy answered and logged it)', async () => {
    const d = deps();
    const out = await createPipeline(d)(get(), { deadline: performance.now() - 1 });
    expect(out).toMatchObject({ decision: 'error', reason: 'deadline_exceeded', status: 503, delivered: false });
    expect(out.verdict.allowed).toBe(false);
    expect(d.calls).toEqual([]);
    expect(d.events).toEqual([]);
  });

  it('cancelled on arrival, even with room for it: the same', async () => {
    const d = deps({ maxInFlight: 1 });
    const out = await createPipeline(d)(get(), { cancelled: () => true });
    expect(out).toMatchObject({ reason: 'deadline_exceeded', delivered: false });
    expect(d.events).toEqual([]);
  });

  it('cancelled by the caller before the gate: not charged to limits', async () => {
    const d = deps();
    let cancelled = false;
    d.authenticator = { authenticate: async () => { d.calls.push('authenticate'); cancelled = true; return alice; } };
    const out = await createPipeline(d)(get(), { cancelled: () => cancelled });
    expect(out).toMatchObject({ reason: 'deadline_exceeded', delivered: false });
    expect(d.calls).toEqual(['authenticate', 'audit:decision']);
    expect(d.events[0]!.actor_sub).toBe('alice');
  });

  it('passed while the gate answered: the row says deadline_exceeded and keeps what would have been answered', async () => {
    const d = deps();
    let cancelled = false;
    d.gate = { check: async () => { d.calls.push('gate'); cancelled = true; return PASS; }, close: async () => undefined };
    const out = await createPipeline(d)(get(), { cancelled: () => cancelled });
    expect(out).toMatchObject({ reason: 'deadline_exceeded', delivered: false });
    expect(d.events).toHaveLength(1);
    expect(d.events[0]).toMatchObject({ decision: 'error', reasons: ['deadline_exceeded'], status: 503 });
    // policy_input: what `policy replay` rebuilds the policy's input from (policy ran).
    expect(JSON.parse(d.events[0]!.detail!)).toEqual({ undelivered: { decision: 'allow', reason: 'allowed', status: 200 }, policy_input: expect.any(Object) });
  });

  it('passed while the row was made durable: the row stays, an outcome row says the answer was not delivered, a 503 goes out instead', async () => {
    const d = deps();
    let cancelled = false;
    d.audit = {
      append: async (e) => { d.calls.push(`audit:${e.kind}`); d.events.push(e); if (e.kind === 'decision') cancelled = true; },
      close: async () => undefined,
    };
    const out = await createPipeline(d)(get(), { cancelled: () => cancelled });
    // Never the allow: the caller (if still there) gets 503 deadline_exceeded.
    expect(out).toMatchObject({ decision: 'error', reason: 'deadline_exceeded', status: 503, delivered: false });
    expect(out.verdict.allowed).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(d.events.map((e) => [e.kind, e.decision, e.reasons, e.status])).toEqual([
      ['decision', 'allow', ['allowed'], 200],
      ['outcome', 'allow', ['outcome', 'answer_not_delivered'], 503],
    ]);
    expect(d.events[1]!.ref_event_id).toBe(out.decisionId);
    expect(JSON.parse(d.events[1]!.detail!)).toEqual({ error: 'deadline_exceeded' });
  });

  it('in time: answered and delivered, one row', async () => {
    const d = deps();
    const out = await createPipeline(d)(get(), { deadline: performance.now() + 60_000, cancelled: () => false });
    expect(out).toMatchObject({ decision: 'allow', delivered: true });
    expect(d.events).toHaveLength(1);
  });
});

// The pipeline's own contract, with in-memory stand-ins at each stage border: stage order,
// every outcome audited before the answer, fail closed when audit is not durable.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createPipeline } from '../../../src/pipeline.js';
import type { PipelineDeps } from '../../../src/pipeline.js';
import type { RawCheck } from '../../../src/request/parse.js';
import { unauthenticated } from '../../../src/identity/errors.js';
import type { AuditEvent, GateResult, Identity, PolicyDecision, PolicyInput } from '../../../src/types.js';

const alice: Identity = { subject: 'alice', issuer: 'i', tenant: 'acme', roles: ['agent-writer'], sessionId: 's1' };

function deps(over: Partial<PipelineDeps> & { calls?: string[]; events?: AuditEvent[]; gateResult?: GateResult; decision?: PolicyDecision } = {}): PipelineDeps & { calls: string[]; events: AuditEvent[]; inputs: PolicyInput[] } {
  const calls = over.calls ?? [];
  const events = over.events ?? [];
  const inputs: PolicyInput[] = [];
  return {
    parse: { phiLabels: ['phi'] },
    logger: pino({ level: 'silent' }),
    authenticator: { authenticate: async (h) => { calls.push('authenticate'); if (!h) throw unauthenticated('token_missing'); return alice; } },
    gate: { check: async () => { calls.push('gate'); return over.gateResult ?? { ok: true, clientHeaders: { 'ratelimit-limit': '5' }, notes: [] }; }, close: async () => undefined },
    owners: { lookup: async () => { calls.push('owner'); return { exists: true, user_id: 'acme:alice', phi: false }; }, evict: async () => undefined, tombstone: async () => undefined },
    policy: { evaluate: (i) => { calls.push('policy'); inputs.push(i); return over.decision ?? { allow: true, reasons: [], answer: { tenant_prefixes: ['acme:'], phi_allowed: false } }; }, revision: () => 'rev-1' },
    audit: { append: async (e) => { calls.push('audit'); events.push(e); }, close: async () => undefined },
    clock: () => 1_700_000_000_000,
    ...over,
    calls,
    events,
    inputs,
  };
}

const get = (path: string, auth = 'Bearer t'): RawCheck => ({ method: 'GET', path, headers: auth ? { authorization: auth } : {}, sourceIp: '192.0.2.1', requestId: 'rid' });

describe('pipeline', () => {
  it('runs the stages in DESIGN order and audits before answering', async () => {
    const d = deps();
    const out = await createPipeline(d)(get('/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc'));
    expect(d.calls).toEqual(['authenticate', 'gate', 'owner', 'policy', 'audit']);
    expect(out.decision).toBe('allow');
    expect(d.events[0]).toMatchObject({ decision: 'allow', actor_sub: 'alice', tenant: 'acme', memory_id: '0b6f2c1e-1111-4a4a-9c9c-123456789abc', route: 'memories.get', policy_revision: 'rev-1', event_id: out.decisionId, session: 's1' });
    expect(d.inputs[0]!.now_ms).toBe(1_700_000_000_000);
  });

  it('stops at the first failing stage and still audits it', async () => {
    const d = deps();
    const out = await createPipeline(d)(get('/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', ''));
    expect(d.calls).toEqual(['authenticate', 'audit']);
    expect(out).toMatchObject({ decision: 'unauthenticated', reason: 'token_missing', status: 401 });
    expect(d.events[0]).toMatchObject({ decision: 'unauthenticated', reasons: ['token_missing'], actor_sub: null });
  });

  it('rate-limited requests go no further than the gate', async () => {
    const d = deps({ gateResult: { ok: false, decision: 'rate_limited', reason: 'rate_limited', status: 429, clientHeaders: { 'retry-after': '2' } } });
    const out = await createPipeline(d)(get('/memories?user_id=acme:a'));
    expect(d.calls).toEqual(['authenticate', 'gate', 'audit']);
    if (out.verdict.allowed) throw new Error('expected deny');
    expect(out.verdict.status).toBe(429);
    expect(out.verdict.headers['retry-after']).toBe('2');
  });

  it('invalid requests are audited with their reason and, when the token verifies, the caller', async () => {
    const d = deps();
    const out = await createPipeline(d)({ ...get('/memories'), method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer t' }, body: new TextEncoder().encode('{oops') });
    expect(out).toMatchObject({ decision: 'invalid_request', reason: 'invalid_json', status: 400 });
    // authentication runs only to attribute the audit row, after the decision is made
    expect(d.calls).toEqual(['authenticate', 'audit']);
    expect(d.events[0]).toMatchObject({ decision: 'invalid_request', actor_sub: 'alice', tenant: 'acme' });
    expect(d.events[0]!.body_digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fails closed with 503 when the audit cannot be made durable', async () => {
    const d = deps();
    d.audit = { append: async () => { throw new Error('pg down and spool full'); }, close: async () => undefined };
    const out = await createPipeline(d)(get('/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc'));
    expect(out).toMatchObject({ decision: 'error', reason: 'audit_unavailable', status: 503 });
    expect(out.verdict.allowed).toBe(false);
  });

  it('an owner lookup failure is a 503 error, never an allow', async () => {
    const d = deps();
    d.owners = { ...d.owners, lookup: async () => { throw Object.assign(new Error('mem0 down'), { reason: 'owner_lookup_failed' }); } };
    const out = await createPipeline(d)(get('/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc'));
    expect(out).toMatchObject({ decision: 'error', reason: 'owner_lookup_failed', status: 503 });
    expect(d.events[0]!.decision).toBe('error');
  });

  it('policy denials carry the first reason and status; audit rows hold no token or memory content', async () => {
    const d = deps({ decision: { allow: false, reasons: ['cross_tenant', 'role_missing'], status: 403 } });
    const raw: RawCheck = {
      method: 'POST', path: '/memories', sourceIp: '192.0.2.1', requestId: 'rid',
      headers: { authorization: 'Bearer SECRET.TOKEN.VALUE', 'content-type': 'application/json' },
      body: new TextEncoder().encode(JSON.stringify({ user_id: 'globex:bob', messages: [{ role: 'user', content: 'my diagnosis is X' }] })),
    };
    const out = await createPipeline(d)(raw);
    expect(out).toMatchObject({ decision: 'deny', reason: 'cross_tenant', status: 403 });
    const row = JSON.stringify(d.events[0]);
    expect(row).not.toContain('SECRET');
    expect(row).not.toContain('diagnosis');
    expect(d.events[0]!.reasons).toEqual(['cross_tenant', 'role_missing']);
    expect(d.events[0]!.entity_ids).toEqual(['user_id=globex:bob']);
  });

  it('logs each decision without the token or the memory content', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    const d = deps({ decision: { allow: false, reasons: ['cross_tenant'], status: 403 } });
    d.logger = logger;
    d.owners = { ...d.owners, lookup: async () => { throw new Error('boom with Bearer SECRET.TOKEN.VALUE'); } };
    const body = new TextEncoder().encode(JSON.stringify({ user_id: 'acme:a', messages: [{ role: 'user', content: 'my diagnosis is X' }] }));
    await createPipeline(d)({ method: 'POST', path: '/memories', sourceIp: '192.0.2.1', requestId: 'rid', headers: { authorization: 'Bearer SECRET.TOKEN.VALUE', 'content-type': 'application/json' }, body });
    await createPipeline(d)({ ...get('/memories/0b6f2c1e-1111-4a4a-9c9c-123456789abc', 'Bearer SECRET.TOKEN.VALUE') });
    const all = lines.join('');
    expect(all).toContain('"decision"');
    expect(all).not.toContain('SECRET.TOKEN');
    expect(all).not.toContain('diagnosis');
  });

  it('a request refused while parsing is still described for the auditor: route, entity ids, memory id', async () => {
    const d = deps();
    const bulk = await createPipeline(d)({ ...get('/memories?user_id=acme:alice&memory_ids=x'), method: 'DELETE' });
    expect(bulk).toMatchObject({ decision: 'invalid_request', reason: 'unsupported_parameter' });
    expect(d.events[0]).toMatchObject({ route: 'memories.bulk_delete', entity_ids: ['user_id=acme:alice'], actor_sub: 'alice' });
    const id = '0b6f2c1e-1111-4a4a-9c9c-123456789abc';
    const put = await createPipeline(d)({ ...get(`/memories/${id}`), method: 'PUT', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: new TextEncoder().encode('{"data":"x"}') });
    expect(put).toMatchObject({ reason: 'update_field_required' });
    expect(d.events[1]).toMatchObject({ route: 'memories.update', memory_id: id });
  });
});

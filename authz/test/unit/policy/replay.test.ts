// Replay's pure parts: the policy input rebuilt from a decision row written by the real row
// builder (record.ts), the recorded outcome, skips, and grouping of changes.
import { describe, expect, it } from 'vitest';
import { decisionRow, type DecisionContext } from '../../../src/record.js';
import { buildPolicyInput } from '../../../src/policy/input.js';
import { inputFromRow, policyInputDigest } from '../../../src/policy/replay-input.js';
import { recordedOutcome, replayRow, ReplayTally, formatReport } from '../../../src/policy/replay.js';
import type { LoadedBundle } from '../../../src/policy/bundle.js';
import type { EngineDecision } from '../../../src/policy/bundle.js';
import type { AuditEvent, BreakGlassGrant, Identity, Mem0Request, MemoryOwner, PolicyInput } from '../../../src/types.js';

const req: Mem0Request = {
  requestId: 'r-1', method: 'PUT', path: '/memories/m-1', route: 'memories.update', action: 'write', memoryId: 'm-1',
  entities: [{ kind: 'user_id', id: 'acme:alice', source: 'body' }, { kind: 'agent_id', id: 'acme:bot=1', source: 'filters' }],
  options: { infer: false, custom_prompt: true }, query: {}, body: { text: 'secret memory content', metadata: { phi: true } },
  bodyDigest: 'abc', phiInBody: true, sourceIp: '10.0.0.1',
};
const id: Identity = { subject: 'alice', issuer: 'https://idp', tenant: 'acme', roles: ['agent-writer', 'phi-reader'], agent: 'bot', jti: 'j', sessionId: 's' };
const owner: MemoryOwner = { exists: true, user_id: 'acme:alice', run_id: 'acme:r1', phi: true };
const grant: BreakGlassGrant = { grantId: 'bg-1', subject: 'alice', tenant: 'acme', role: 'admin', justification: 'incident 42', grantedBy: 'bob', grantedAt: 1, expiresAt: 5000 };
const answer = { tenant_prefixes: ['acme:'], phi_allowed: true };

function row(over: Partial<DecisionContext> = {}, result = { decision: 'allow' as const, reason: 'allowed', status: 200 }, input?: PolicyInput): AuditEvent {
  const policyInput = input ?? buildPolicyInput(req, id, owner, grant, 1_700_000_000_123);
  const r = over.req ?? req;
  const ctx: DecisionContext = {
    // As the parser reads it: the request's method, path and source address come from the raw check.
    raw: { method: r.method.toLowerCase(), path: r.path, headers: {}, sourceIp: r.sourceIp, requestId: 'r-1' },
    decisionId: 'd-1', nowMs: 1_700_000_000_100, req, identity: id, notes: [], owner,
    policy: { allow: true, reasons: [], answer, revision: 'rev-1' }, policyInput, policyRevision: 'rev-1', ...over,
  };
  return decisionRow(ctx, result, 1.5);
}

describe('policy input digest', () => {
  it('the input is rebuilt exactly from a row the real row builder wrote', () => {
    const input = buildPolicyInput(req, id, owner, grant, 1_700_000_000_123);
    const r = row({}, undefined, input);
    expect(inputFromRow(r)).toEqual({ input });
  });

  it('also without owner, grant, agent, options or source address', () => {
    const bare: Mem0Request = { ...req, route: 'memories.list', action: 'read', method: 'GET', path: '/memories', memoryId: undefined as never, options: {}, phiInBody: false, sourceIp: '' };
    delete (bare as Partial<Mem0Request>).memoryId;
    const ident: Identity = { subject: 'bob', issuer: 'i', tenant: 'acme', roles: [] };
    const input = buildPolicyInput(bare, ident, undefined, undefined, 42);
    const r = row({ req: bare, identity: ident, owner: undefined }, undefined, input);
    expect(inputFromRow(r)).toEqual({ input });
  });

  it('a deleted owner (tombstone) keeps its flag', () => {
    const input = buildPolicyInput(req, id, { exists: false, deleted: true, user_id: 'acme:alice', phi: false }, undefined, 7);
    const r = row({ owner: { exists: false, deleted: true, user_id: 'acme:alice', phi: false } }, undefined, input);
    expect(inputFromRow(r)).toEqual({ input });
  });

  it('holds flags, times, ids and a role name: no memory content, no token', () => {
    const text = JSON.stringify(policyInputDigest(buildPolicyInput(req, id, owner, grant, 1)));
    expect(text).not.toContain('secret memory content');
    expect(text).not.toContain('incident 42');
    expect(JSON.parse(row().detail!).policy_input).toEqual({
      now_ms: 1_700_000_000_123, sources: ['body', 'filters'], phi_in_body: true,
      owner: { exists: true, phi: true }, break_glass: { role: 'admin', expires_at_ms: 5000, grant_id: 'bg-1' },
    });
  });

  it('rows without a digest, or that do not add up, are not rebuilt', () => {
    const r = row({ policyInput: undefined });
    expect(inputFromRow(r)).toEqual({ unreplayable: 'no_input_digest' });
    const broken = { ...row(), entity_ids: ['user_id=acme:alice'] };
    expect(inputFromRow(broken)).toEqual({ unreplayable: 'malformed_row' });
    expect(inputFromRow({ ...row(), entity_ids: ['nonsense', 'user_id=x'] })).toEqual({ unreplayable: 'malformed_row' });
  });
});

describe('recorded outcome', () => {
  it('allow, deny, content rules after an allow, and an undelivered answer', () => {
    expect(recordedOutcome(row())).toEqual({ allow: true, reason: 'allowed', status: 200 });
    expect(recordedOutcome(row({}, { decision: 'deny' as never, reason: 'memory_not_found', status: 404 }))).toEqual({ allow: false, reason: 'memory_not_found', status: 404 });
    expect(recordedOutcome(row({}, { decision: 'deny' as never, reason: 'content_blocked', status: 422 }))).toEqual({ allow: true, reason: 'allowed', status: 200 });
    const late = row({ undelivered: { decision: 'deny', reason: 'role_missing', status: 403 } }, { decision: 'error' as never, reason: 'deadline_exceeded', status: 503 });
    expect(recordedOutcome(late)).toEqual({ allow: false, reason: 'role_missing', status: 403 });
  });
});

function bundle(revision: string, decide: (i: PolicyInput) => Partial<EngineDecision>): LoadedBundle {
  return { revision, evaluate: (i) => ({ allow: true, reasons: [], audit_reasons: [], revision, answer, ...decide(i) }) as EngineDecision };
}
const same = bundle('enforced', () => ({}));

describe('replayRow', () => {
  it('skips decisions made before policy ran, counts policy decisions without a digest apart', () => {
    const limited = row({ policyInput: undefined, policy: undefined }, { decision: 'rate_limited' as never, reason: 'rate_limited', status: 429 });
    expect(replayRow(limited, { candidate: same, enforced: same })).toEqual({ skipped: 'not_policy' });
    const revoked = row({ policyInput: undefined, policy: undefined }, { decision: 'deny' as never, reason: 'token_revoked', status: 401 });
    expect(replayRow(revoked, { candidate: same, enforced: same })).toEqual({ skipped: 'not_policy' });
    expect(replayRow(row({ policyInput: undefined }), { candidate: same, enforced: same })).toEqual({ skipped: 'no_input_digest' });
  });

  it('unchanged, changed, answer-only change, drift, and a candidate that fails to evaluate', () => {
    const denyDelete = bundle('cand', () => ({ allow: false, reasons: ['role_missing'], status: 403 }));
    expect(replayRow(row(), { candidate: same, enforced: same })).toEqual({});
    expect(replayRow(row(), { candidate: denyDelete, enforced: same })).toEqual({
      changed: { from: { allow: true, reason: 'allowed', status: 200 }, to: { allow: false, reason: 'role_missing', status: 403 }, differs: ['allow', 'status', 'reason'] },
    });
    const noPhi = bundle('cand', () => ({ answer: { ...answer, phi_allowed: false } }));
    expect(replayRow(row(), { candidate: noPhi, enforced: same }).changed?.differs).toEqual(['answer']);
    // The enforced bundle today denies what was allowed: drift, and the candidate (same as recorded) changes nothing.
    expect(replayRow(row(), { candidate: same, enforced: denyDelete })).toEqual({
      drift: { from: { allow: true, reason: 'allowed', status: 200 }, to: { allow: false, reason: 'role_missing', status: 403 }, differs: ['allow', 'status', 'reason'] },
    });
    const throws: LoadedBundle = { revision: 'bad', evaluate: () => { throw new Error('boom'); } };
    expect(replayRow(row(), { candidate: throws, enforced: same })).toMatchObject({ candidateError: true, changed: { to: { reason: 'policy_eval_failed', status: 503 } } });
  });
});

describe('ReplayTally', () => {
  it('groups by route, roles and recorded → candidate, keeps a few examples, counts skips', () => {
    const t = new ReplayTally(2);
    const changed = { changed: { from: { allow: true, reason: 'allowed', status: 200 }, to: { allow: false, reason: 'role_missing', status: 403 }, differs: ['allow', 'status', 'reason'] } };
    for (const [i, roles] of [['agent-writer'], ['agent-writer'], ['agent-writer'], ['phi-reader', 'agent-writer']].entries()) {
      t.add({ ...row(), event_id: `e${i}`, roles, route: 'memories.delete' }, changed);
    }
    t.add(row(), {});
    t.add(row(), { skipped: 'not_policy' });
    const r = t.result();
    expect(r).toMatchObject({ rows: 6, replayed: 5, changed: 4, unchanged: 1, skipped: { not_policy: 1, no_input_digest: 0 } });
    expect(r.changes).toEqual([
      { route: 'memories.delete', roles: 'agent-writer', from: 'allowed', to: 'role_missing (403)', differs: ['allow', 'status', 'reason'], count: 3, examples: ['e0', 'e1'] },
      { route: 'memories.delete', roles: 'agent-writer+phi-reader', from: 'allowed', to: 'role_missing (403)', differs: ['allow', 'status', 'reason'], count: 1, examples: ['e3'] },
    ]);
    const text = formatReport(r, { candidate: 'c', enforced: 'e', since: 's', until: 'u', tenant: null }).join('\n');
    expect(text).toContain('memories.delete  agent-writer  allowed -> role_missing (403)  3  e.g. e0 e1');
    expect(text).toContain('changed 4, unchanged 1');
  });
});

// Shadow policy comparison (policy/shadow.ts): what counts as a disagreement, what the audit row
// and the metric get. Pure.
import { describe, expect, it } from 'vitest';
import { differences, disagreementLabels, failedSummary, outcomeOf, shadowDetail, summarize } from '../../../src/policy/shadow.js';
import type { PolicyDecision } from '../../../src/types.js';

const answer = { tenant_prefixes: ['acme:'], phi_allowed: false };
const allow: PolicyDecision = { allow: true, reasons: [], answer, content: null };
const deny = (reason: string, status = 403): PolicyDecision => ({ allow: false, reasons: [reason, 'later_reason'], status });

describe('outcomeOf', () => {
  it('allow is `allowed` 200; deny takes the first reason and status; an allow without answer rules fails closed', () => {
    expect(outcomeOf(allow)).toEqual({ allow: true, reason: 'allowed', status: 200 });
    expect(outcomeOf(deny('memory_not_found', 404))).toEqual({ allow: false, reason: 'memory_not_found', status: 404 });
    expect(outcomeOf({ allow: true, reasons: [] })).toEqual({ allow: false, reason: 'policy_eval_failed', status: 503 });
    expect(outcomeOf({ allow: false, reasons: ['role_missing'] })).toEqual({ allow: false, reason: 'role_missing', status: 403 });
  });
});

describe('differences', () => {
  it('agree on the same outcome, whatever the later and audit-only reasons', () => {
    expect(differences(allow, { ...allow, audit_reasons: ['memory_deleted'] })).toEqual([]);
    expect(differences(deny('cross_tenant'), { allow: false, reasons: ['cross_tenant'], status: 403, audit_reasons: ['x'] })).toEqual([]);
  });

  it('allow vs deny, the first reason, the status', () => {
    expect(differences(allow, deny('role_missing'))).toEqual(['allow', 'status', 'reason']);
    expect(differences(deny('role_missing'), deny('cross_tenant'))).toEqual(['reason']);
    expect(differences(deny('memory_not_found', 404), deny('memory_not_found', 403))).toEqual(['status']);
  });

  it('both allow: the answer rules (PHI, tenant prefixes) and the content rules', () => {
    expect(differences(allow, { ...allow, answer: { ...answer, phi_allowed: true } })).toEqual(['answer']);
    expect(differences(allow, { ...allow, answer: { tenant_prefixes: ['acme:', 'acme-'], phi_allowed: false } })).toEqual(['answer']);
    expect(differences(allow, { ...allow, content: { mode: 'mask', detectors: ['email'], custom: [] } })).toEqual(['content']);
    expect(differences({ ...allow, content: undefined }, allow)).toEqual([]);
  });
});

describe('summary, audit detail, metric labels', () => {
  it('a disagreeing shadow: summary, detail.shadow and the counter labels', () => {
    const s = summarize(allow, deny('role_missing'), 'rev-c');
    expect(s).toEqual({ revision: 'rev-c', allow: false, status: 403, reasons: ['role_missing', 'later_reason'], agree: false, differs: ['allow', 'status', 'reason'] });
    expect(shadowDetail(s)).toEqual({ revision: 'rev-c', decision: 'deny', reason: 'role_missing', status: 403, differs: ['allow', 'status', 'reason'] });
    expect(disagreementLabels({ ...allow, shadow: s }, 'memories.delete')).toEqual({ enforced_reason: 'allowed', shadow_reason: 'role_missing', route: 'memories.delete' });
  });

  it('an agreeing shadow: no detail, no count', () => {
    const s = summarize(deny('cross_tenant'), deny('cross_tenant'), 'rev-c');
    expect(s.agree).toBe(true);
    expect(shadowDetail(s)).toBeUndefined();
    expect(disagreementLabels({ ...deny('cross_tenant'), shadow: s }, 'search')).toBeUndefined();
    expect(disagreementLabels(allow, 'search')).toBeUndefined();
  });

  it('answer-only disagreement is counted with both reasons `allowed`', () => {
    const s = summarize(allow, { ...allow, answer: { ...answer, phi_allowed: true } }, 'rev-c');
    expect(shadowDetail(s)).toEqual({ revision: 'rev-c', decision: 'allow', reason: 'allowed', status: 200, differs: ['answer'] });
    expect(disagreementLabels({ ...allow, shadow: s }, 'search')).toEqual({ enforced_reason: 'allowed', shadow_reason: 'allowed', route: 'search' });
  });

  it('a shadow that failed to evaluate would have failed closed: a disagreement unless the enforced one failed too', () => {
    const s = failedSummary(allow, 'rev-c');
    expect(s).toEqual({ revision: 'rev-c', allow: false, status: 503, reasons: ['policy_eval_failed'], agree: false, differs: ['allow', 'status', 'reason'] });
    expect(failedSummary(deny('role_missing'), 'rev-c').differs).toEqual(['status', 'reason']);
    expect(failedSummary({ allow: true, reasons: [] }, 'rev-c').agree).toBe(true);
  });
});

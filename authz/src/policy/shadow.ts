// Shadow policy (docs/policy-rollout.md): how a candidate bundle's decision compares with the
// enforced one on the same input. Pure: the engine evaluates both, this says whether they agree,
// and what the audit row and the metric record when they do not. The enforced decision alone is
// ever answered.
import { isDeepStrictEqual } from 'node:util';
import type { PolicyDecision, ShadowSummary } from '../types.js';

/** What a decision would have answered: allow → `allowed`/200; an allow without answer rules or
 * an evaluation failure fails closed like the pipeline does (503 `policy_eval_failed`). */
export interface Outcome {
  allow: boolean;
  reason: string;
  status: number;
}

export const EVAL_FAILED: Outcome = { allow: false, reason: 'policy_eval_failed', status: 503 };

export function outcomeOf(d: PolicyDecision): Outcome {
  if (d.allow) return d.answer === undefined ? EVAL_FAILED : { allow: true, reason: 'allowed', status: 200 };
  return { allow: false, reason: d.reasons[0] ?? 'policy_error', status: d.status ?? 403 };
}

/**
 * What differs between two decisions on one input: `allow`, `status`, `reason` (the first,
 * client-facing one) and, when both allow, `answer` (what the response stage enforces: tenant
 * prefixes, PHI) and `content` (the tenant's content rules on writes). Audit-only reasons and
 * the order of later reasons are not compared: they change nothing the caller gets.
 */
export function differences(enforced: PolicyDecision, candidate: PolicyDecision): string[] {
  const a = outcomeOf(enforced);
  const b = outcomeOf(candidate);
  const out: string[] = [];
  if (a.allow !== b.allow) out.push('allow');
  if (a.status !== b.status) out.push('status');
  if (a.reason !== b.reason) out.push('reason');
  if (a.allow && b.allow) {
    if (!isDeepStrictEqual(enforced.answer, candidate.answer)) out.push('answer');
    if (!isDeepStrictEqual(enforced.content ?? null, candidate.content ?? null)) out.push('content');
  }
  return out;
}

/** The shadow's decision, compared with the enforced one. */
export function summarize(enforced: PolicyDecision, shadow: PolicyDecision, revision: string): ShadowSummary {
  const o = outcomeOf(shadow);
  const differs = differences(enforced, shadow);
  const reasons = o.allow ? [] : shadow.allow || shadow.reasons.length === 0 ? [o.reason] : [...shadow.reasons];
  return { revision, allow: o.allow, status: o.status, reasons, agree: differs.length === 0, differs };
}

/** The shadow failed to evaluate: enforced, it would have failed closed. */
export function failedSummary(enforced: PolicyDecision, revision: string): ShadowSummary {
  const a = outcomeOf(enforced);
  const differs = a.allow ? ['allow', 'status', 'reason'] : [...(a.status !== 503 ? ['status'] : []), ...(a.reason !== EVAL_FAILED.reason ? ['reason'] : [])];
  return { revision, allow: false, status: EVAL_FAILED.status, reasons: [EVAL_FAILED.reason], agree: differs.length === 0, differs };
}

/** `detail.shadow` of a decision row: only when the shadow disagreed (ids and reasons, no content). */
export function shadowDetail(s: ShadowSummary | undefined): Record<string, unknown> | undefined {
  if (s === undefined || s.agree) return undefined;
  return { revision: s.revision, decision: s.allow ? 'allow' : 'deny', reason: s.allow ? 'allowed' : s.reasons[0], status: s.status, differs: s.differs };
}

/** Labels of mem0gov_policy_shadow_disagreements_total for a disagreeing decision, else undefined. */
export function disagreementLabels(pd: PolicyDecision | undefined, route: string | undefined):
  { enforced_reason: string; shadow_reason: string; route: string } | undefined {
  const s = pd?.shadow;
  if (pd === undefined || s === undefined || s.agree) return undefined;
  return { enforced_reason: outcomeOf(pd).reason, shadow_reason: s.allow ? 'allowed' : s.reasons[0] ?? 'policy_error', route: route ?? 'unknown' };
}

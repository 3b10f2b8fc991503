// `mem0-gov policy replay` (docs/policy-rollout.md): recorded decisions re-evaluated with a
// candidate bundle. For each decision row: rebuild the policy input (replay-input.ts), evaluate the
// candidate and the current enforced bundle, and compare both with what was recorded. Pure: rows
// come in, a report goes out (replay-source.ts reads the rows, cli/policy.ts prints the report).
//
// What "changed" means: the candidate's outcome (allow, first reason, status) differs from the
// recorded one — or both allow and the candidate's answer or content rules differ from the current
// enforced bundle's (the row does not record those, so today's enforced bundle stands in).
// "Drift": the current enforced bundle itself no longer gives the recorded outcome (policy or data
// changed since, or the rows predate a change): those rows are listed apart, so a candidate's
// changes are not confused with changes already made.
import { REASONS } from '../reasons.js';
import type { PolicyDecision } from '../types.js';
import type { LoadedBundle } from './bundle.js';
import { detailOf, inputFromRow, type RecordedDecision, type Unreplayable } from './replay-input.js';
import { differences, EVAL_FAILED, outcomeOf, type Outcome } from './shadow.js';

/** Rows left out, and why. */
export type SkipReason =
  /** Decided before policy ran (parse, authentication, gate, owner lookup, overload): not a policy decision. */
  | 'not_policy'
  /** A policy decision whose input cannot be rebuilt (replay-input.ts). */
  | Unreplayable
  /** An error recorded after policy ran that says nothing of the policy's decision. */
  | 'error_after_policy';

export const SKIP_REASONS: readonly SkipReason[] = ['not_policy', 'no_input_digest', 'malformed_row', 'error_after_policy'];

// Recorded after the policy allowed: the content rules refused the write, not the policy.
const AFTER_POLICY_ALLOW: ReadonlySet<string> = new Set(['content_blocked', 'content_rules_invalid']);

/** What the policy decided for this row, as recorded; undefined when the row does not say. */
export function recordedOutcome(row: RecordedDecision): Outcome | undefined {
  const u = detailOf(row).undelivered as { decision?: unknown; reason?: unknown; status?: unknown } | undefined;
  // A decision whose caller had gone: the row keeps what would have been answered.
  const decision = typeof u?.decision === 'string' ? u.decision : row.decision;
  const reason = typeof u?.reason === 'string' ? u.reason : row.reasons[0];
  const status = typeof u?.status === 'number' ? u.status : row.status;
  if (decision === 'allow') return { allow: true, reason: 'allowed', status: 200 };
  if (reason !== undefined && AFTER_POLICY_ALLOW.has(reason)) return { allow: true, reason: 'allowed', status: 200 };
  if (reason === EVAL_FAILED.reason) return EVAL_FAILED;
  if (decision === 'deny' && reason !== undefined) return { allow: false, reason, status };
  return undefined;
}

/** A row without an input digest: a policy decision recorded before digests, or no policy decision at all. */
function withoutDigest(row: RecordedDecision): SkipReason {
  const reason = row.reasons[0];
  const spec = reason !== undefined && Object.hasOwn(REASONS, reason) ? REASONS[reason as keyof typeof REASONS] : undefined;
  const policyMade = row.decision === 'allow' || spec?.stage === 'policy' || (reason !== undefined && AFTER_POLICY_ALLOW.has(reason));
  return policyMade ? 'no_input_digest' : 'not_policy';
}

function evaluate(bundle: LoadedBundle, input: Parameters<LoadedBundle['evaluate']>[0]): PolicyDecision | undefined {
  try {
    return bundle.evaluate(input);
  } catch {
    return undefined;
  }
}

function outcomeDiff(a: Outcome, b: Outcome): string[] {
  return [...(a.allow !== b.allow ? ['allow'] : []), ...(a.status !== b.status ? ['status'] : []), ...(a.reason !== b.reason ? ['reason'] : [])];
}

export interface RowVerdict {
  skipped?: SkipReason;
  /** The candidate would decide otherwise: what differs (allow, status, reason, answer, content). */
  changed?: { from: Outcome; to: Outcome; differs: string[] };
  /** The current enforced bundle no longer gives the recorded outcome. */
  drift?: { from: Outcome; to: Outcome; differs: string[] };
  /** The candidate failed to evaluate this input (counted as a change to 503 policy_eval_failed). */
  candidateError?: boolean;
}

/** One row: rebuilt, re-evaluated with both bundles, compared. */
export function replayRow(row: RecordedDecision, bundles: { candidate: LoadedBundle; enforced: LoadedBundle }): RowVerdict {
  const rebuilt = inputFromRow(row);
  if ('unreplayable' in rebuilt) return { skipped: rebuilt.unreplayable === 'no_input_digest' ? withoutDigest(row) : rebuilt.unreplayable };
  const recorded = recordedOutcome(row);
  if (recorded === undefined) return { skipped: 'error_after_policy' };
  const cand = evaluate(bundles.candidate, rebuilt.input);
  const now = evaluate(bundles.enforced, rebuilt.input);
  const to = cand === undefined ? EVAL_FAILED : outcomeOf(cand);
  const today = now === undefined ? EVAL_FAILED : outcomeOf(now);
  const v: RowVerdict = {};
  if (cand === undefined) v.candidateError = true;
  const differs = outcomeDiff(recorded, to);
  // The row records no answer or content rules: compare the candidate's with today's enforced ones.
  if (differs.length === 0 && cand !== undefined && now !== undefined && to.allow && today.allow) {
    differs.push(...differences(now, cand).filter((d) => d === 'answer' || d === 'content'));
  }
  if (differs.length > 0) v.changed = { from: recorded, to, differs };
  const drift = outcomeDiff(recorded, today);
  if (drift.length > 0) v.drift = { from: recorded, to: today, differs: drift };
  return v;
}

/** Changes of one route, role set and reason pair. */
export interface ChangeGroup {
  route: string;
  /** The caller's roles, sorted, joined with `+` (`-` for none). */
  roles: string;
  from: string;
  to: string;
  /** What differs: allow, status, reason, answer, content. */
  differs: string[];
  count: number;
  /** A few decision ids (event_id) to look up in the audit trail. */
  examples: string[];
}

export interface ReplayReport {
  rows: number;
  replayed: number;
  unchanged: number;
  changed: number;
  candidate_errors: number;
  skipped: Record<SkipReason, number>;
  changes: ChangeGroup[];
  drift: { rows: number; groups: ChangeGroup[] };
}

function label(o: Outcome): string {
  return o.allow ? 'allowed' : `${o.reason} (${o.status})`;
}

/** Accumulates row verdicts into the report's groups; memory grows with groups, not rows. */
export class ReplayTally {
  private readonly report: ReplayReport = {
    rows: 0, replayed: 0, unchanged: 0, changed: 0, candidate_errors: 0,
    skipped: { not_policy: 0, no_input_digest: 0, malformed_row: 0, error_after_policy: 0 },
    changes: [], drift: { rows: 0, groups: [] },
  };
  private readonly changeGroups = new Map<string, ChangeGroup>();
  private readonly driftGroups = new Map<string, ChangeGroup>();

  constructor(private readonly maxExamples = 3) {}

  add(row: RecordedDecision, v: RowVerdict): void {
    const r = this.report;
    r.rows++;
    if (v.skipped !== undefined) {
      r.skipped[v.skipped]++;
      return;
    }
    r.replayed++;
    if (v.candidateError) r.candidate_errors++;
    if (v.changed !== undefined) {
      r.changed++;
      this.group(this.changeGroups, row, v.changed);
    } else r.unchanged++;
    if (v.drift !== undefined) {
      r.drift.rows++;
      this.group(this.driftGroups, row, v.drift);
    }
  }

  private group(groups: Map<string, ChangeGroup>, row: RecordedDecision, c: NonNullable<RowVerdict['changed']>): void {
    const roles = row.roles.length === 0 ? '-' : [...row.roles].sort().join('+');
    const route = row.route ?? '-';
    const from = label(c.from);
    const to = label(c.to);
    const key = JSON.stringify([route, roles, from, to, c.differs]);
    let g = groups.get(key);
    if (g === undefined) {
      g = { route, roles, from, to, differs: c.differs, count: 0, examples: [] };
      groups.set(key, g);
    }
    g.count++;
    if (g.examples.length < this.maxExamples) g.examples.push(row.event_id);
  }

  /** The report: groups by count (largest first), then route, roles, reasons. */
  result(): ReplayReport {
    const order = (a: ChangeGroup, b: ChangeGroup): number => b.count - a.count
      || a.route.localeCompare(b.route) || a.roles.localeCompare(b.roles) || a.from.localeCompare(b.from) || a.to.localeCompare(b.to);
    return {
      ...this.report,
      skipped: { ...this.report.skipped },
      changes: [...this.changeGroups.values()].sort(order),
      drift: { rows: this.report.drift.rows, groups: [...this.driftGroups.values()].sort(order) },
    };
  }
}

/** The report as text: a summary line, the change table, drift apart. */
export function formatReport(r: ReplayReport, head: { candidate: string; enforced: string; since: string; until: string; tenant: string | null }): string[] {
  const lines = [
    `policy replay: candidate ${head.candidate} against decisions recorded ${head.since} .. ${head.until} (tenant: ${head.tenant ?? 'all'}); enforced now: ${head.enforced}`,
    `rows ${r.rows}: replayed ${r.replayed} (changed ${r.changed}, unchanged ${r.unchanged}, candidate errors ${r.candidate_errors}); skipped: ${SKIP_REASONS.map((s) => `${s} ${r.skipped[s]}`).join(', ')}`,
  ];
  const table = (groups: ChangeGroup[]): string[] => groups.map((g) =>
    `  ${g.route}  ${g.roles}  ${g.from} -> ${g.to}${g.differs.some((d) => d === 'answer' || d === 'content') ? ` [${g.differs.join(',')}]` : ''}  ${g.count}  e.g. ${g.examples.join(' ')}`);
  if (r.changes.length > 0) lines.push('decisions that would change (route  roles  recorded -> candidate  count  examples):', ...table(r.changes));
  else lines.push('no decision would change');
  if (r.drift.rows > 0) {
    lines.push(`drift: ${r.drift.rows} recorded decision(s) differ from what the current enforced bundle decides (route  roles  recorded -> enforced now  count  examples):`, ...table(r.drift.groups));
  }
  return lines;
}

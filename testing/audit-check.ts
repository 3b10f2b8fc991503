// What clients saw (testing/load.ts results) against what the audit trail says, for fault tests
// and benches. Each load request carries its own x-request-id, so every row of it is found by
// request id, whatever replica or chain wrote it:
//   - an answer from authz (a denial) or from Mem0 (an allow) names its decision id: that decision
//     row exists, for this request, with the status the client got (a decision marked not
//     delivered — `deadline_exceeded`, or followed by an `answer_not_delivered` outcome row — went
//     out as a 503); an allowed 2xx also has its outcome row and is not marked;
//   - an answer Envoy gave on its own (a timeout, no healthy authz) has no decision row that
//     claims it was answered: none at all, or one marked not delivered;
//   - no request has two decision rows (nothing audited twice), and every chain verifies.
import pg from 'pg';
import { verifyDatabase } from '../authz/src/audit/verify-db.js';
import type { LoadResult } from './load.js';

export interface AuditCheck {
  /** Decision rows of these requests. */
  decisionRows: number;
  /** Of them, marked not delivered (deadline_exceeded, or a follow-up answer_not_delivered row). */
  undelivered: number;
  outcomeRows: number;
  /** Every chain's first problem, if any (null = valid). */
  chains: { chain: string; rows: number; problem: string | null }[];
  /** Human-readable discrepancies; empty when the trail matches what the clients saw. */
  problems: string[];
  /**
   * Requests Envoy answered on its own (its timeout fired) whose decision row nevertheless reads
   * as answered: authz sent the answer just as Envoy gave up (the cancellation crossed it). The
   * inherent race of any deadline; kept apart from `problems` so a test can bound it.
   */
  lateUnflagged: string[];
}

interface Row {
  event_id: string;
  request_id: string;
  kind: string;
  decision: string;
  reasons: string[];
  status: number;
  ref_event_id: string | null;
}

/** Reasons that mark a decision whose answer never reached the caller. */
const UNDELIVERED = new Set(['deadline_exceeded', 'answer_not_delivered']);

export async function checkAudit(ownerUrl: string, results: readonly LoadResult[]): Promise<AuditCheck> {
  const c = new pg.Client(ownerUrl);
  await c.connect();
  try {
    const ids = results.map((r) => r.requestId);
    const rows: Row[] = [];
    for (let off = 0; off < ids.length; off += 5000) {
      const r = await c.query<Row>(
        'SELECT event_id, request_id, kind, decision, reasons, status, ref_event_id FROM audit.events WHERE request_id = ANY($1::text[])',
        [ids.slice(off, off + 5000)]);
      rows.push(...r.rows);
    }
    const decisions = new Map<string, Row[]>();
    const byId = new Map<string, Row>();
    const followUps = new Map<string, Row[]>();
    for (const row of rows) {
      byId.set(row.event_id, row);
      if (row.kind === 'decision') decisions.set(row.request_id, [...(decisions.get(row.request_id) ?? []), row]);
      else if (row.ref_event_id !== null) followUps.set(row.ref_event_id, [...(followUps.get(row.ref_event_id) ?? []), row]);
    }
    const undelivered = (d: Row): boolean =>
      d.reasons.some((x) => UNDELIVERED.has(x)) || (followUps.get(d.event_id) ?? []).some((f) => f.reasons.some((x) => UNDELIVERED.has(x)));
    const problems: string[] = [];
    const lateUnflagged: string[] = [];
    const note = (s: string): void => { if (problems.length < 50) problems.push(s); };
    let undeliveredCount = 0;
    for (const d of [...decisions.values()].flat()) if (undelivered(d)) undeliveredCount++;
    for (const r of results) {
      const ds = decisions.get(r.requestId) ?? [];
      if (ds.length > 1) note(`${r.requestId}: ${ds.length} decision rows`);
      if (r.by === 'authz' || r.by === 'mem0') {
        const d = r.decisionId !== undefined ? byId.get(r.decisionId) : undefined;
        if (d === undefined || d.kind !== 'decision') { note(`${r.requestId}: answered ${r.status} by ${r.by} (decision ${r.decisionId ?? '?'}) but no decision row`); continue; }
        if (d.request_id !== r.requestId) note(`${r.requestId}: decision ${d.event_id} belongs to ${d.request_id}`);
        // A decision marked not delivered: the caller got a 503 (authz's deadline_exceeded), never it.
        const effective = undelivered(d) ? 503 : d.status;
        if (r.by === 'authz' && effective !== r.status) note(`${r.requestId}: answered ${r.status}, the trail says ${effective}${undelivered(d) ? ' (not delivered)' : ''}`);
        if (r.by === 'mem0') {
          if (d.decision !== 'allow' || d.status !== 200 || undelivered(d)) note(`${r.requestId}: reached Mem0 but the decision row says ${d.decision}/${d.status}${undelivered(d) ? ', not delivered' : ''}`);
          const out = (followUps.get(d.event_id) ?? []).filter((f) => f.kind === 'outcome' && !f.reasons.includes('answer_not_delivered'));
          if (out.length !== 1) note(`${r.requestId}: ${out.length} outcome rows`);
          else if (out[0]!.status !== r.status) note(`${r.requestId}: got ${r.status}, outcome row says ${out[0]!.status}`);
        }
      } else {
        for (const d of ds) if (!undelivered(d)) lateUnflagged.push(`${r.requestId}: Envoy answered ${r.status} on its own, but decision ${d.event_id} says ${d.decision}/${d.status} and not undelivered`);
      }
    }
    const reports = await verifyDatabase(c, { keys: [] });
    return {
      decisionRows: [...decisions.values()].reduce((n, ds) => n + ds.length, 0),
      undelivered: undeliveredCount,
      outcomeRows: rows.filter((r) => r.kind === 'outcome' && !r.reasons.includes('answer_not_delivered')).length,
      chains: reports.map((rep) => ({ chain: rep.chain_id, rows: rep.rows, problem: rep.problem === null ? null : JSON.stringify(rep.problem) })),
      problems,
      lateUnflagged,
    };
  } finally {
    await c.end();
  }
}

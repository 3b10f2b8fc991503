// PostgreSQL slow, not down: a lock on the audit table, or the whole server frozen (SIGSTOP). With
// a durability deadline, append() keeps resolving from the fsynced spool while PostgreSQL does not
// answer; when it answers again the spool is replayed in bounded chunks beside new appends, and
// every acknowledged event is stored exactly once, in chain order. The deadline's size is the
// bench's business (bench/soak); these tests only need it to be far shorter than the fault.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../../testing/tools.js';
import { pausePostgres, resumePostgres } from '../../../../testing/signals.js';
import { createAuditSink, type AuditSinkHandle } from '../../../src/audit/index.js';
import { connect } from '../../../src/audit/pg.js';
import { verifyDatabase } from '../../../src/audit/verify-db.js';
import { auditCfg, event, silent, startAuditDb, type AuditDb } from './helpers.js';

let db: AuditDb;
beforeAll(async () => { db = await startAuditDb(); });
afterAll(async () => {
  resumePostgres(db.pg.dataDir);
  await db?.stop();
});

/** Far below the faults below (seconds), far above a commit on an idle machine. */
const DURABILITY_MS = 100;

async function stored(chain: string): Promise<{ rows: number; problem: unknown; ids: Set<string>; dupRequestIds: number }> {
  const c = await connect(db.ownerUrl, 'check');
  try {
    const rep = (await verifyDatabase(c, { chain, keys: [] }))[0]!;
    const ids = new Set((await c.query('SELECT event_id FROM audit.events WHERE chain_id = $1', [chain])).rows.map((r: { event_id: string }) => r.event_id));
    const dup = await c.query('SELECT count(*)::int AS n FROM (SELECT request_id FROM audit.events WHERE chain_id = $1 GROUP BY request_id HAVING count(*) > 1) d', [chain]);
    return { rows: rep.rows, problem: rep.problem, ids, dupRequestIds: (dup.rows[0] as { n: number }).n };
  } finally {
    await c.end();
  }
}

/** 8 workers appending as fast as the sink acknowledges; records when each ack came. */
function load(sink: AuditSinkHandle): { acked: { id: string; at: number }[]; rejected: () => number; stop(): Promise<void> } {
  const acked: { id: string; at: number }[] = [];
  let rejected = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const ev = event();
      try {
        await sink.append(ev);
        acked.push({ id: ev.event_id, at: Date.now() });
      } catch {
        rejected++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  return { acked, rejected: () => rejected, stop: async () => { stop = true; await Promise.all(workers); } };
}

async function settled(sink: AuditSinkHandle): Promise<void> {
  await waitFor('spool replayed', async () => sink.health().pg && sink.health().spoolDepth === 0, 30_000, 20);
}

describe('audit durability while PostgreSQL is slow', () => {
  it('a lock on audit.events: appends keep resolving (spool), then every one is stored once, chain valid', async () => {
    const sink = await createAuditSink(auditCfg(db, 'locked'), silent, { durabilityMs: DURABILITY_MS });
    const l = load(sink);
    await waitFor('traffic', async () => l.acked.length > 200, 10_000, 5);
    const locker = new pg.Client(db.ownerUrl);
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE audit.events IN ACCESS EXCLUSIVE MODE');
    const lockedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2_500));
    const ackedWhileLocked = l.acked.filter((a) => a.at > lockedAt + 500).length;
    const health = sink.health();
    await locker.query('COMMIT');
    await locker.end();
    await settled(sink);
    await l.stop();
    await sink.close();

    expect(ackedWhileLocked).toBeGreaterThan(0);
    expect(health.pg).toBe(false);
    expect(health.spoolDepth).toBeGreaterThan(0);
    expect(l.rejected()).toBe(0);
    const s = await stored('locked');
    expect(s.problem).toBeNull();
    expect(s.rows).toBe(l.acked.length);
    expect(s.dupRequestIds).toBe(0);
    for (const a of l.acked) expect(s.ids.has(a.id)).toBe(true);
  });

  it('PostgreSQL frozen (SIGSTOP): appends keep resolving; thawed, the spool drains beside new appends; exactly once', async () => {
    const sink = await createAuditSink(auditCfg(db, 'frozen'), silent, { durabilityMs: DURABILITY_MS });
    const l = load(sink);
    await waitFor('traffic', async () => l.acked.length > 200, 10_000, 5);
    pausePostgres(db.pg.dataDir);
    const frozenAt = Date.now();
    await new Promise((r) => setTimeout(r, 2_500));
    const ackedWhileFrozen = l.acked.filter((a) => a.at > frozenAt + 500).length;
    const depth = sink.health().spoolDepth;
    resumePostgres(db.pg.dataDir);
    // While the replay runs (PostgreSQL up, rows still spooled), new appends are acknowledged.
    let ackedDuringReplay = 0;
    let sawReplay = false;
    await waitFor('spool replayed', async () => {
      const h = sink.health();
      if (h.pg && h.spoolDepth > 0) {
        sawReplay = true;
        ackedDuringReplay = l.acked.length;
      }
      return h.pg && h.spoolDepth === 0;
    }, 30_000, 5);
    const afterReplay = l.acked.length;
    await waitFor('more traffic after the replay', async () => l.acked.length > afterReplay + 100, 10_000, 5);
    await l.stop();
    await sink.close();

    expect(ackedWhileFrozen).toBeGreaterThan(0);
    expect(depth).toBeGreaterThan(0);
    if (sawReplay) expect(ackedDuringReplay).toBeGreaterThan(0);
    expect(l.rejected()).toBe(0);
    const s = await stored('frozen');
    expect(s.problem).toBeNull();
    expect(s.rows).toBe(l.acked.length);
    expect(s.dupRequestIds).toBe(0);
    for (const a of l.acked) expect(s.ids.has(a.id)).toBe(true);
  });

  it('a large spool is replayed in bounded chunks while appends go on, then the writer writes PostgreSQL directly again', async () => {
    const cfg = auditCfg(db, 'backlog');
    const sink = await createAuditSink(cfg, silent, { durabilityMs: DURABILITY_MS });
    await Promise.all(Array.from({ length: 10 }, () => sink.append(event())));
    await db.pg.kill();
    const backlog = Array.from({ length: 12_000 }, () => event());
    for (let i = 0; i < backlog.length; i += 2000) await Promise.all(backlog.slice(i, i + 2000).map((e) => sink.append(e)));
    // (A backend the postmaster's kill left alive for a moment may still have committed a batch:
    // the rows are in PostgreSQL or in the spool, never both or neither — checked at the end.)
    expect(sink.health().pg).toBe(false);
    expect(sink.health().spoolDepth).toBeGreaterThan(10_000);
    await db.pg.restart();
    await db.reopenSu();
    // Appends while the backlog replays: each waits for a spool fsync, not for the backlog.
    const during: string[] = [];
    let depthSeen = 0;
    await waitFor('replaying', async () => sink.health().pg, 20_000, 5);
    while (sink.health().spoolDepth > 0) {
      const ev = event();
      await sink.append(ev);
      during.push(ev.event_id);
      depthSeen = Math.max(depthSeen, sink.health().spoolDepth);
    }
    const late = event();
    await sink.append(late);
    await settled(sink);
    await sink.close();
    const s = await stored('backlog');
    expect(s.problem).toBeNull();
    expect(s.rows).toBe(10 + 12_000 + during.length + 1);
    for (const id of [...backlog.map((e) => e.event_id), ...during, late.event_id]) expect(s.ids.has(id)).toBe(true);
    // The replay went on beside the appends: some were acknowledged while rows were still spooled.
    expect(during.length).toBeGreaterThan(0);
    expect(depthSeen).toBeGreaterThan(0);
  });
});

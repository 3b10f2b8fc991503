// PostgreSQL goes away under load: every acknowledged decision ends up stored exactly once, in
// chain order, via the fsynced spool; with neither PostgreSQL nor a spool, append() rejects.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../../testing/tools.js';
import { createAuditSink } from '../../../src/audit/index.js';
import { connect, insertRows } from '../../../src/audit/pg.js';
import { readSpoolFile, spoolPath } from '../../../src/audit/spool.js';
import { verifyDatabase } from '../../../src/audit/verify-db.js';
import type { AuditRow } from '../../../src/audit/row.js';
import { auditCfg, event, silent, startAuditDb, type AuditDb } from './helpers.js';

let db: AuditDb;
beforeAll(async () => { db = await startAuditDb(); });
afterAll(async () => { await db?.stop(); });

async function stored(chain: string): Promise<{ rows: number; problem: unknown; ids: Set<string> }> {
  const c = await connect(db.ownerUrl, 'check');
  try {
    const rep = (await verifyDatabase(c, { chain, keys: [] }))[0]!;
    const ids = new Set((await c.query('SELECT event_id FROM audit.events WHERE chain_id = $1', [chain])).rows.map((r: { event_id: string }) => r.event_id));
    return { rows: rep.rows, problem: rep.problem, ids };
  } finally {
    await c.end();
  }
}

describe('audit durability while PostgreSQL is down', () => {
  it('PostgreSQL killed under load and restarted: decisions made == rows stored, chain valid, spool drained', async () => {
    const sink = await createAuditSink(auditCfg(db, 'outage'), silent);
    const acked: string[] = [];
    let rejected = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const ev = event();
        try {
          await sink.append(ev);
          acked.push(ev.event_id);
        } catch {
          rejected++;
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await waitFor('some rows committed', async () => acked.length > 500, 10_000, 5);
    await db.pg.kill();
    await waitFor('events spooled while PostgreSQL is down', async () => sink.health().spoolDepth > 200, 10_000, 5);
    expect(sink.health().pg).toBe(false);
    await db.pg.restart();
    await waitFor('spool drained', async () => sink.health().pg && sink.health().spoolDepth === 0, 20_000, 20);
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(workers);
    await sink.close();
    await db.reopenSu();

    const s = await stored('outage');
    expect(rejected).toBe(0);
    expect(s.problem).toBeNull();
    expect(s.rows).toBe(acked.length);
    for (const id of acked) expect(s.ids.has(id)).toBe(true);
  });

  it('replays a spool left by a stopped process exactly once, even if part of it was already stored', async () => {
    const cfg = auditCfg(db, 'replay');
    const a = await createAuditSink(cfg, silent);
    await Promise.all(Array.from({ length: 20 }, () => a.append(event())));
    await db.pg.kill();
    const spooled = Array.from({ length: 30 }, () => event());
    await Promise.all(spooled.map((e) => a.append(e)));
    expect(a.health().spoolDepth).toBe(30);
    await a.close(); // PostgreSQL still down: the spool stays on disk
    const onDisk = readSpoolFile(spoolPath(cfg.spoolDir, 'replay'));
    expect(onDisk.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => 21 + i));
    // The spool starts the writer even without PostgreSQL: its last row is the head.
    const b = await createAuditSink(cfg, silent);
    const late = event();
    await b.append(late);
    expect(b.health()).toMatchObject({ pg: false, spoolDepth: 31 });
    await b.close();
    await db.pg.restart();
    await db.reopenSu();
    // Simulate a crash mid-replay: the first ten spooled rows already reached PostgreSQL.
    const partial = new pg.Client(db.ownerUrl);
    await partial.connect();
    await insertRows(partial, JSON.parse(`[${readFileSync(spoolPath(cfg.spoolDir, 'replay'), 'utf8').trim().split('\n').slice(0, 10).join(',')}]`) as AuditRow[]);
    await partial.end();
    const c = await createAuditSink(cfg, silent);
    expect(c.health()).toMatchObject({ pg: true, spoolDepth: 0 });
    await c.append(event());
    await c.close();
    const s = await stored('replay');
    expect(s.problem).toBeNull();
    expect(s.rows).toBe(20 + 30 + 1 + 1);
    expect(s.ids.has(late.event_id)).toBe(true);
    for (const e of spooled) expect(s.ids.has(e.event_id)).toBe(true);
  });

  it('rejects append() when neither PostgreSQL nor a spool can take the event (fail closed)', async () => {
    const sink = await createAuditSink(auditCfg(db, 'nospool', { spool: false }), silent);
    await sink.append(event());
    await db.pg.kill();
    await expect(sink.append(event())).rejects.toMatchObject({ reason: 'audit_unavailable' });
    expect(sink.health()).toMatchObject({ pg: false, spoolWritable: false });
    await db.pg.restart();
    await waitFor('writer back', async () => {
      await sink.append(event()).catch(() => undefined);
      return sink.health().pg;
    }, 10_000, 50);
    await sink.close();
    await db.reopenSu();
    const s = await stored('nospool');
    // The rejected event left no gap: its seq was reused.
    expect(s.problem).toBeNull();
  });

  it('an idle writer notices PostgreSQL going away (health for readiness) and comes back on its own', async () => {
    const sink = await createAuditSink(auditCfg(db, 'idle'), silent);
    await sink.append(event());
    await db.pg.kill();
    await waitFor('pg down noticed while idle', async () => !sink.health().pg, 10_000, 50);
    await db.pg.restart();
    await waitFor('pg back while idle', async () => sink.health().pg, 10_000, 50);
    await sink.append(event());
    await sink.close();
    await db.reopenSu();
    expect((await stored('idle')).rows).toBe(2);
  });
});

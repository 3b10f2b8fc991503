// Append-only is enforced by PostgreSQL itself: triggers for everyone, INSERT/SELECT-only writer role.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../../src/audit/index.js';
import { migrate } from '../../../src/audit/migrate.js';
import { auditCfg, event, silent, startAuditDb, type AuditDb } from './helpers.js';

let db: AuditDb;
let writer: pg.Client;
beforeAll(async () => {
  db = await startAuditDb();
  const sink = await createAuditSink(auditCfg(db, 'ao'), silent);
  await Promise.all([sink.append(event()), sink.append(event()), sink.append(event())]);
  await sink.close();
  await db.su.query("INSERT INTO audit.checkpoints (chain_id, seq, hash, signature, key_id) VALUES ('ao', 3, repeat('a', 64), 'sig', 'k')");
  writer = new pg.Client(db.writerUrl);
  await writer.connect();
});
afterAll(async () => {
  await writer?.end();
  await db?.stop();
});

describe('append-only audit tables', () => {
  const forbidden = [
    ['UPDATE', "UPDATE audit.events SET decision = 'allow' WHERE chain_id = 'ao'"],
    ['DELETE', "DELETE FROM audit.events WHERE chain_id = 'ao'"],
    ['TRUNCATE', 'TRUNCATE audit.events'],
    ['UPDATE checkpoint', "UPDATE audit.checkpoints SET hash = repeat('b', 64)"],
    ['DELETE checkpoint', 'DELETE FROM audit.checkpoints'],
    ['TRUNCATE checkpoint', 'TRUNCATE audit.checkpoints'],
  ] as const;

  for (const [what, sql] of forbidden) {
    it(`the writer role cannot ${what}`, async () => {
      await expect(writer.query(sql)).rejects.toThrow(/permission denied|append-only/);
    });
    it(`even the owner/superuser is stopped by the trigger on ${what}`, async () => {
      await expect(db.su.query(sql)).rejects.toThrow(/append-only/);
    });
  }

  it('the writer role cannot disable the triggers, alter or drop the table, or create objects', async () => {
    await expect(writer.query('ALTER TABLE audit.events DISABLE TRIGGER ALL')).rejects.toThrow(/must be owner|permission denied/);
    await expect(writer.query('DROP TABLE audit.events')).rejects.toThrow(/must be owner|permission denied/);
    await expect(writer.query('CREATE TABLE audit.x (a int)')).rejects.toThrow(/permission denied/);
    await expect(writer.query('SET session_replication_role = replica')).rejects.toThrow(/permission denied/);
  });

  it('the writer role can INSERT and SELECT', async () => {
    const r = await writer.query("SELECT count(*)::int AS n FROM audit.events WHERE chain_id = 'ao'");
    expect(r.rows[0].n).toBe(3);
    const privs = await db.su.query(
      "SELECT privilege_type FROM information_schema.role_table_grants WHERE grantee = 'mem0gov_writer' AND table_name = 'events' ORDER BY 1");
    expect(privs.rows.map((p: { privilege_type: string }) => p.privilege_type)).toEqual(['INSERT', 'SELECT']);
  });

  it('rows are unchanged after every attempt', async () => {
    const r = await db.su.query("SELECT count(*)::int AS n FROM audit.events WHERE chain_id = 'ao'");
    expect(r.rows[0].n).toBe(3);
  });

  it('migrate is idempotent and the writer alone cannot migrate', async () => {
    expect(await migrate(db.ownerUrl)).toEqual([]);
    await expect(migrate(db.writerUrl)).rejects.toThrow();
  });
});

// Monthly partitions of audit.events against real PostgreSQL: created ahead by a function the
// writer may call (and nothing else), rows routed by their own ts, and event_id and (chain_id,
// seq) unique across partitions — for INSERT and COPY alike — while a spool replay of stored rows
// stays idempotent.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCopyRows } from '../../../src/audit/copy-text.js';
import { connect, copyEncodedRows, ensurePartitions, insertRows, insertValues, listPartitions, selectRows } from '../../../src/audit/pg.js';
import { GENESIS_HASH, seal, type AuditRow } from '../../../src/audit/row.js';
import { event, startAuditDb, type AuditDb } from './helpers.js';

let db: AuditDb;
let writer: pg.Client;
beforeAll(async () => {
  db = await startAuditDb();
  writer = await connect(db.writerUrl, 'partitions-test');
});
afterAll(async () => {
  await writer?.end();
  await db?.stop();
});

const month = (offset: number): string => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1)).toISOString().slice(0, 7).replace('-', '_');
};

function chain(id: string, ts: readonly string[]): AuditRow[] {
  let head = { seq: 0, hash: GENESIS_HASH };
  return ts.map((t) => {
    const r = seal(id, head, event({ ts: t }));
    head = { seq: r.seq, hash: r.hash };
    return r;
  });
}

describe('audit partitions', () => {
  it('a fresh schema has this month and the next three, and a default partition', async () => {
    const names = (await listPartitions(db.su)).map((p) => p.name);
    expect(names).toEqual([0, 1, 2, 3].map((i) => `events_p${month(i)}`).concat('events_default'));
  });

  it('the writer role keeps them ahead through ensure_partitions, and can do nothing else to them', async () => {
    expect(await ensurePartitions(writer, 5)).toEqual([`events_p${month(4)}`, `events_p${month(5)}`]);
    expect(await ensurePartitions(writer, 5)).toEqual([]);
    await expect(writer.query("SELECT audit.create_month_partition('2020-01-01')")).rejects.toThrow(/permission denied/);
    await expect(writer.query(`ALTER TABLE audit.events DETACH PARTITION audit.events_p${month(5)}`)).rejects.toThrow(/must be owner/);
    await expect(writer.query(`DROP TABLE audit.events_p${month(5)}`)).rejects.toThrow(/must be owner/);
    await expect(writer.query('CREATE TABLE audit.events_p2099_01 (LIKE audit.events)')).rejects.toThrow(/permission denied/);
  });

  it('a row lands in the partition of its own ts; a month without one goes to the default partition, which ensure_partitions then leaves alone', async () => {
    const now = new Date().toISOString();
    const rows = chain('route', [now, '2019-03-04T05:06:07.000Z']);
    await insertRows(writer, rows);
    const r = await db.su.query("SELECT seq::int AS seq, tableoid::regclass::text AS part FROM audit.events WHERE chain_id = 'route' ORDER BY seq");
    expect(r.rows).toEqual([{ seq: 1, part: `audit.events_p${month(0)}` }, { seq: 2, part: 'audit.events_default' }]);
    expect((await db.su.query("SELECT audit.create_month_partition('2019-03-01') AS p")).rows[0].p).toBeNull();
    expect((await db.su.query("SELECT audit.create_month_partition('2019-04-01') AS p")).rows[0].p).toBe('events_p2019_04');
  });

  it('(chain_id, seq) and event_id stay unique across partitions, for INSERT (unnest and VALUES) and COPY', async () => {
    const rows = chain('uniq', [new Date().toISOString(), new Date().toISOString()]);
    await copyEncodedRows(writer, encodeCopyRows(rows));
    const other = `${new Date().getUTCFullYear() + 1}-01-15T00:00:00.000Z`; // another partition (next year's January, or the default)
    // Same chain and seq, another row in another month.
    const sameSeq = { ...chain('uniq', [other])[0]! };
    await expect(insertRows(writer, [sameSeq])).rejects.toMatchObject({ code: '23505', message: expect.stringMatching(/events_chain_seq_global/) });
    await expect(copyEncodedRows(writer, encodeCopyRows([sameSeq]))).rejects.toMatchObject({ code: '23505' });
    await expect(insertValues(writer, [sameSeq])).rejects.toMatchObject({ code: '23505', message: expect.stringMatching(/events_chain_seq_global/) });
    // The same event id under another ts (so in another partition), in another chain.
    const sameId = { ...chain('uniq-2', [other])[0]!, event_id: rows[0]!.event_id };
    await expect(insertRows(writer, [sameId])).rejects.toMatchObject({ code: '23505', message: expect.stringMatching(/events_event_id_global/) });
    await expect(copyEncodedRows(writer, encodeCopyRows([sameId]))).rejects.toMatchObject({ code: '23505' });
    await expect(insertValues(writer, [sameId])).rejects.toMatchObject({ code: '23505', message: expect.stringMatching(/events_event_id_global/) });
    // Within one partition the partition's own keys refuse it.
    const samePart = { ...chain('uniq', [new Date().toISOString()])[0]!, event_id: 'another-id' };
    await expect(insertRows(writer, [samePart])).rejects.toMatchObject({ code: '23505', message: expect.stringMatching(/_pkey/) });
    await expect(insertValues(writer, [samePart])).rejects.toMatchObject({ code: '23505', message: expect.stringMatching(/_pkey/) });
    expect((await db.su.query("SELECT count(*)::int AS n FROM audit.events WHERE chain_id LIKE 'uniq%'")).rows[0].n).toBe(2);
  });

  it('a batch across a month boundary is fine; a seq twice in it, in two months, is not', async () => {
    const d = new Date();
    const end = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - 1).toISOString();
    const next = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString();
    // Decision times are not in seq order near a boundary: seq 2 in next month, seq 3 in this one.
    const rows = chain('across', [end, next, end, next]);
    await insertRows(writer, rows);
    const r = await db.su.query("SELECT seq::int AS seq, tableoid::regclass::text AS part FROM audit.events WHERE chain_id = 'across' ORDER BY seq");
    expect(r.rows.map((x: { part: string }) => x.part)).toEqual([`audit.events_p${month(0)}`, `audit.events_p${month(1)}`, `audit.events_p${month(0)}`, `audit.events_p${month(1)}`]);
    const twice = chain('across-2', [end, next]);
    const dup = { ...twice[1]!, seq: 1, event_id: 'across-2-other' };
    await expect(copyEncodedRows(writer, encodeCopyRows([twice[0]!, dup]))).rejects.toMatchObject({ code: '23505', message: expect.stringMatching(/events_chain_seq_global/) });
  });

  it('outcome rows whose detail JSON holds what jsonb refuses (\\u0000, a lone surrogate) are stored, and their memory ids found', async () => {
    const id = '0b9a4c1e-2f3d-4e5a-8b6c-7d8e9f0a1b2c';
    const detail = JSON.stringify({ error: 'a\u0000b\ud800', returned_ids: [id.toUpperCase()] });
    let head = { seq: 0, hash: GENESIS_HASH };
    const r = seal('jsonb', head, event({ ts: new Date().toISOString(), kind: 'outcome', ref_event_id: 'd-1', detail }));
    head = { seq: r.seq, hash: r.hash };
    await copyEncodedRows(writer, encodeCopyRows([r]));
    const found = await selectRows(writer, "WHERE kind = 'outcome' AND detail IS NOT NULL AND audit.detail_ids(detail) @> ARRAY[$1]", [id]);
    expect(found.map((x) => x.event_id)).toEqual([r.event_id]);
  });

  it('a spool replay of rows already stored is idempotent (the same row is in the same partition)', async () => {
    const rows = chain('replay', [new Date().toISOString(), '2019-03-05T00:00:00.000Z', new Date().toISOString()]);
    await insertRows(writer, rows.slice(0, 2));
    // COPY (or the writer's VALUES insert) of a stored row fails; the writer then replays with
    // insertRows, which skips stored rows.
    await expect(copyEncodedRows(writer, encodeCopyRows(rows))).rejects.toMatchObject({ code: '23505' });
    await expect(insertValues(writer, rows)).rejects.toMatchObject({ code: '23505' });
    await insertRows(writer, rows);
    await insertRows(writer, rows);
    const stored = await selectRows(writer, "WHERE chain_id = 'replay' ORDER BY seq", []);
    expect(stored.map((r) => r.event_id)).toEqual(rows.map((r) => r.event_id));
  });
});

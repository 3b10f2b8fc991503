// The chain writer against real PostgreSQL: group commit, head recovery, one writer per chain,
// concurrent chains, and what a row may hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../../src/audit/index.js';
import { connect } from '../../../src/audit/pg.js';
import { verifyDatabase } from '../../../src/audit/verify-db.js';
import { ChainWriter } from '../../../src/audit/writer.js';
import { waitFor } from '../../../../testing/tools.js';
import { auditCfg, event, silent, startAuditDb, testKeyPem, type AuditDb } from './helpers.js';

let db: AuditDb;
beforeAll(async () => { db = await startAuditDb(); });
afterAll(async () => { await db?.stop(); });

async function verify(chain: string) {
  const c = await connect(db.writerUrl, 'test');
  try {
    return (await verifyDatabase(c, { chain, keys: [] }))[0]!;
  } finally {
    await c.end();
  }
}

describe('audit chain writer', () => {
  it('group-commits concurrent appends into one valid chain and recovers the head on restart', async () => {
    const cfg = auditCfg(db, 'chain-a');
    const sink = await createAuditSink(cfg, silent);
    await Promise.all(Array.from({ length: 1200 }, () => sink.append(event())));
    await sink.close();
    const again = await createAuditSink(cfg, silent);
    await Promise.all(Array.from({ length: 10 }, () => again.append(event())));
    await again.close();
    const rep = await verify('chain-a');
    expect(rep.problem).toBeNull();
    expect(rep.rows).toBe(1210);
    expect(rep.last_seq).toBe(1210);
    // Batched: far fewer transactions than rows would show as xact count; cheaper proxy: seqs are dense.
    const r = await db.su.query('SELECT count(DISTINCT seq)::int AS n, min(seq)::int AS lo FROM audit.events WHERE chain_id = $1', ['chain-a']);
    expect(r.rows[0]).toEqual({ n: 1210, lo: 1 });
  });

  it('starts at genesis: seq 1 has prev_hash of 64 zeros', async () => {
    const r = await db.su.query("SELECT prev_hash FROM audit.events WHERE chain_id = 'chain-a' AND seq = 1");
    expect(r.rows[0].prev_hash).toBe('0'.repeat(64));
  });

  it('refuses a second writer on the same chain id (advisory lock) with a clear error', async () => {
    const first = await createAuditSink(auditCfg(db, 'chain-locked'), silent);
    await expect(createAuditSink(auditCfg(db, 'chain-locked'), silent)).rejects.toMatchObject({ reason: 'chain_locked' });
    await expect(ChainWriter.open(auditCfg(db, 'chain-locked'), silent)).rejects.toThrow(/held by another writer/);
    await first.append(event());
    await first.close();
    // Released on close: a new writer may take it.
    const second = await createAuditSink(auditCfg(db, 'chain-locked'), silent);
    await second.append(event());
    await second.close();
    expect((await verify('chain-locked')).rows).toBe(2);
  });

  it('keeps a valid chain per instance when two sinks write concurrently', async () => {
    const [a, b] = await Promise.all([createAuditSink(auditCfg(db, 'inst-1'), silent), createAuditSink(auditCfg(db, 'inst-2'), silent)]);
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 600; i++) jobs.push(a.append(event()), b.append(event()));
    await Promise.all(jobs);
    await Promise.all([a.close(), b.close()]);
    for (const id of ['inst-1', 'inst-2']) {
      const rep = await verify(id);
      expect(rep.problem).toBeNull();
      expect(rep.rows).toBe(600);
    }
  });

  it('stores a body digest and never a token or body: the row has no such column and keeps the digest', async () => {
    const cols = await db.su.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'audit' AND table_name = 'events'");
    const names = cols.rows.map((r: { column_name: string }) => r.column_name);
    expect(names).toContain('body_digest');
    for (const forbidden of ['body', 'token', 'authorization', 'content', 'memory', 'headers']) expect(names).not.toContain(forbidden);
    const sink = await createAuditSink(auditCfg(db, 'digest'), silent);
    const ev = event({ body_digest: 'c'.repeat(64) });
    // Extra properties (as a careless caller might pass) are not stored.
    await sink.append({ ...ev, token: 'eyJhbGciOi.secret', body: { text: 'memory content' } } as typeof ev);
    await sink.close();
    const row = await db.su.query('SELECT row_to_json(e)::text AS j FROM audit.events e WHERE event_id = $1', [ev.event_id]);
    expect(row.rows[0].j).toContain('c'.repeat(64));
    expect(row.rows[0].j).not.toContain('secret');
    expect(row.rows[0].j).not.toContain('memory content');
  });

  it('rejects an invalid event without poisoning the batch', async () => {
    const sink = await createAuditSink(auditCfg(db, 'invalid'), silent);
    const good = sink.append(event());
    await expect(sink.append(event({ decision: 'maybe' as never }))).rejects.toMatchObject({ reason: 'invalid_event' });
    await good;
    await sink.close();
    expect((await verify('invalid')).rows).toBe(1);
  });

  it('round-trips awkward values exactly (quotes, backslashes, braces, NULL-looking strings, unicode, NUL)', async () => {
    const sink = await createAuditSink(auditCfg(db, 'awkward'), silent);
    const weird = ['', 'NULL', 'a"b', 'c\\d', '{x,y}', 'tab\tnl\n', '日本😀', '\u2028', ' lead', 'a,b'];
    const ev = event({ reasons: weird, roles: [], entity_ids: ['acme:"q"'], path: '/memories/{id}\\"', tenant: '', actor_sub: 'NULL', latency_ms: 1e-7 });
    await sink.append(ev);
    await sink.append(event({ path: 'nul\u0000byte' }));
    await sink.close();
    expect((await verify('awkward')).problem).toBeNull();
    const r = await db.su.query('SELECT reasons, roles, entity_ids, path, tenant, actor_sub, latency_ms FROM audit.events WHERE event_id = $1', [ev.event_id]);
    expect(r.rows[0]).toEqual({ reasons: weird, roles: [], entity_ids: ['acme:"q"'], path: ev.path, tenant: '', actor_sub: 'NULL', latency_ms: 1e-7 });
  });

  it('writes a signed checkpoint every N events and after T seconds (injected clock)', async () => {
    const key = testKeyPem();
    let now = Date.UTC(2026, 10, 23, 12);
    const sink = await createAuditSink(auditCfg(db, 'cp-timer', { checkpointKeyPem: key.privatePem, checkpointEvery: 50, checkpointSeconds: 60 }), silent, { clock: () => now });
    await Promise.all(Array.from({ length: 50 }, () => sink.append(event())));
    await sink.append(event());
    const seqs = async () => (await db.su.query("SELECT seq::int AS s FROM audit.checkpoints WHERE chain_id = 'cp-timer' ORDER BY seq")).rows.map((r: { s: number }) => r.s);
    expect(await seqs()).toEqual([50]);
    now += 61_000;
    await waitFor('time-based checkpoint', async () => (await seqs()).includes(51), 5_000, 20);
    await sink.close();
    const rep = await verify('cp-timer');
    expect(rep.problem).toBeNull();
  });
});

// The fast paths against real PostgreSQL: the writer's COPY (with its duplicate-event_id fallback)
// and verify's COPY stream + worker threads, which may only ever vouch for chains the reference
// verifier also accepts, and must hand anything else to it.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVerifier } from '../../../src/audit/checkpoint.js';
import { createAuditSink } from '../../../src/audit/index.js';
import { LineHasher } from '../../../src/audit/copy-bytes.js';
import { connect, copyChainBlocks, insertRows, readCheckpoints } from '../../../src/audit/pg.js';
import { canonicalHashedFast, GENESIS_HASH, seal } from '../../../src/audit/row.js';
import { verifyDatabase } from '../../../src/audit/verify-db.js';
import { fastVerifyChain } from '../../../src/audit/verify-fast.js';
import { VerifyPool } from '../../../src/audit/verify-pool.js';
import { auditCfg, event, silent, startAuditDb, testKeyPem, type AuditDb } from './helpers.js';

let db: AuditDb;
const key = testKeyPem();
const keys = [loadVerifier(key.publicPem)];

beforeAll(async () => { db = await startAuditDb(); });
afterAll(async () => { await db?.stop(); });

// Every kind of value the COPY text format or JSON has to escape, quote or normalize.
const WEIRD = ['', 'a"b', 'back\\slash', 'tab\there', 'nl\nx', 'cr\rx', '\u0001ctl', '\b\f\v', 'é', '日本', '😀', '\u2028', '\u007f',
  'NULL', 'null', '\\N', '{brace}', 'a,b', ' space ', 'nul\u0000x', 'lone\ud800', '"'];
const pick = (i: number): string => WEIRD[i % WEIRD.length]!;

function weirdEvent(i: number) {
  return event({
    reasons: i % 5 === 0 ? [] : [pick(i), pick(i + 1)], roles: [pick(i + 2)], entity_ids: i % 3 === 0 ? ['plain'] : [pick(i + 3), 'x'],
    actor_sub: i % 4 === 0 ? null : pick(i + 4), tenant: pick(i + 5), agent: i % 2 ? null : pick(i + 6), session: pick(i + 7),
    path: `/memories/${pick(i + 8)}`, memory_id: i % 2 ? pick(i + 9) : null, body_digest: null,
    latency_ms: [0, -0, 0.1, 1e-7, 1e21, 123.456, 2 ** 53, 5e-324][i % 8]!, status: [200, 403, 503, -1][i % 4]!,
  });
}

async function writeChain(chain: string, n: number, mk: (i: number) => ReturnType<typeof event>): Promise<void> {
  const sink = await createAuditSink(auditCfg(db, chain, { checkpointKeyPem: key.privatePem, checkpointEvery: 25, maxBatch: 40 }), silent);
  await Promise.all(Array.from({ length: n }, (_, i) => sink.append(mk(i))));
  await sink.close();
}

async function fast(chain: string, workers: number): Promise<Awaited<ReturnType<typeof fastVerifyChain>>> {
  const c = await connect(db.writerUrl, 'fast');
  const pool = new VerifyPool(workers);
  try {
    // With workers asked for, make sure they (not the inline fallback) do the hashing.
    expect(await pool.ready()).toBe(workers > 0);
    const hi = Number((await c.query('SELECT max(seq) AS hi FROM audit.events WHERE chain_id = $1', [chain])).rows[0].hi);
    const rep = await fastVerifyChain(c, chain, hi, await readCheckpoints(c, chain), keys, pool);
    expect(workers > 0 ? pool.stats.inline : pool.stats.worker).toBe(0);
    return rep;
  } finally {
    await pool.close();
    await c.end();
  }
}

async function verify(chain: string, opts: { workers?: number; fast?: boolean } = {}) {
  const c = await connect(db.writerUrl, 'verify');
  try {
    return (await verifyDatabase(c, { chain, keys, workerThreshold: 0, ...opts }))[0]!;
  } finally {
    await c.end();
  }
}

async function tamper(sql: string): Promise<void> {
  await db.su.query('SET session_replication_role = replica');
  try {
    await db.su.query(sql);
  } finally {
    await db.su.query('SET session_replication_role = DEFAULT');
  }
}

describe('audit fast paths', () => {
  it('rows with every awkward value go through COPY and are vouched for by the fast verifier, inline and in workers', async () => {
    await writeChain('weird', 200, weirdEvent);
    await writeChain('ordinary', 200, () => event()); // the plain-line fast canonicalizer
    for (const chain of ['weird', 'ordinary']) {
      for (const workers of [0, 2]) {
        const rep = await fast(chain, workers);
        expect(rep).not.toBeNull(); // the fast path itself accepted every row (no fallback)
        expect(rep).toMatchObject({ rows: 200, first_seq: 1, last_seq: 200, problem: null });
        expect(rep!.checkpoints_verified).toBeGreaterThanOrEqual(1);
      }
    }
    const ref = await verify('weird', { fast: false });
    expect(await verify('weird', { workers: 2 })).toEqual(ref);
  });

  it('the byte path verifies every ordinary line itself, numbers of every magnitude included', async () => {
    // Latencies from 1e-9 to 1e18 with up to 17 significant digits: PostgreSQL prints some in
    // exponent form or with more digits than the byte path copies as is; those lines go the string
    // way. The chain must verify either way, and the byte path must take the ordinary ones.
    let x = 42;
    const nextLatency = (): number => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const mag = 10 ** ((x % 28) - 9);
      return x % 3 === 0 ? Math.round((x / 2 ** 31) * 1e4) / 100 : (x / 2 ** 31) * mag;
    };
    await writeChain('numbers', 400, () => event({ latency_ms: nextLatency() }));
    for (const workers of [0, 2]) expect(await fast('numbers', workers)).toMatchObject({ rows: 400, problem: null });
    expect(await verify('numbers', { workers: 2 })).toEqual(await verify('numbers', { fast: false }));

    await writeChain('plain', 300, (i) => event({ latency_ms: (i % 1000) / 100 }));
    const c = await connect(db.writerUrl, 'lines');
    try {
      const h = new LineHasher('plain');
      let lines = 0;
      let byteLines = 0;
      for await (const block of copyChainBlocks(c, 'plain', 300)) {
        expect(block[block.length - 1]).toBe(10); // blocks end at a line end
        for (let start = 0; start < block.length; start = h.end + 1, lines++) if (h.check(block, start)) byteLines++;
      }
      expect(lines).toBe(300);
      expect(byteLines).toBe(300);
    } finally {
      await c.end();
    }
  });

  it('hands tampered chains to the reference verifier, which names the first bad row (workers on)', async () => {
    await writeChain('t-field', 120, (i) => event({ reasons: [`r${i}`] }));
    await tamper("UPDATE audit.events SET reasons = '{policy_allow}' WHERE chain_id = 't-field' AND seq = 77");
    await writeChain('t-gap', 120, () => event());
    await tamper("DELETE FROM audit.events WHERE chain_id = 't-gap' AND seq = 3");
    await writeChain('t-ts', 120, () => event());
    // Sub-millisecond tampering: the fast reader must not round it away.
    await tamper("UPDATE audit.events SET ts = ts + interval '1 microsecond' WHERE chain_id = 't-ts' AND seq = 118");
    await writeChain('t-null', 120, (i) => event({ reasons: ['a', i === 50 ? 'NULL' : 'b'] }));
    // The string "NULL" swapped for an SQL NULL element: looks the same in a naive text reading.
    await tamper("UPDATE audit.events SET reasons = ARRAY['a', NULL] WHERE chain_id = 't-null' AND seq = 51");
    await writeChain('t-tail', 120, () => event());
    await tamper("DELETE FROM audit.events WHERE chain_id = 't-tail' AND seq > 110");
    const expected = { 't-field': ['hash_mismatch', 77], 't-gap': ['rows_missing', 4], 't-ts': ['hash_mismatch', 118], 't-null': ['hash_mismatch', 51], 't-tail': ['checkpoint_beyond_head', 120] } as const;
    for (const [chain, [reason, seq]] of Object.entries(expected)) {
      expect(await fast(chain, 2)).toBeNull();
      const rep = await verify(chain, { workers: 2 });
      expect(rep.problem).toMatchObject({ reason, seq });
      expect(rep).toEqual(await verify(chain, { fast: false }));
    }
  });

  it('invalid UTF-8 stored by a superuser, with a hash forged over the raw bytes: judged by the reference, not vouched for', async () => {
    // The driver (reference) reads invalid sequences as U+FFFD; a path hashing raw bytes would
    // have accepted the forged hash.
    const chain = 't-utf8';
    // Latencies with few digits, so these lines are byte-path material (see the test above).
    const r1 = seal(chain, { seq: 0, hash: GENESIS_HASH }, event({ latency_ms: 1.25 }));
    const r2 = seal(chain, r1, event({ latency_ms: 2, path: '/mMARK' }));
    const [before, after] = canonicalHashedFast(r2).split('MARK') as [string, string];
    r2.hash = createHash('sha256').update(r2.prev_hash).update(Buffer.concat([Buffer.from(before), Buffer.from([0xff]), Buffer.from(after)])).digest('hex');
    await insertRows(db.su, [r1, r2]);
    await db.su.query('CREATE CAST (bytea AS text) WITHOUT FUNCTION');
    await tamper(`UPDATE audit.events SET path = '\\x2f6dff'::bytea::text WHERE chain_id = '${chain}' AND seq = 2`);
    expect((await db.su.query(`SELECT encode(path::bytea, 'hex') AS h FROM audit.events WHERE chain_id = '${chain}' AND seq = 2`)).rows[0].h).toBe('2f6dff');
    for (const workers of [0, 2]) expect(await fast(chain, workers)).toBeNull();
    const ref = await verify(chain, { fast: false });
    expect(ref.problem).toMatchObject({ reason: 'hash_mismatch', seq: 2 });
    expect(await verify(chain, { workers: 2 })).toEqual(ref);
  });

  it('NULL in a NOT NULL array (constraint dropped) and an infinite ts are named as bad rows, not crashes', async () => {
    await writeChain('t-nullarr', 60, () => event());
    await writeChain('t-inf', 60, () => event());
    await db.su.query('ALTER TABLE audit.events ALTER COLUMN roles DROP NOT NULL');
    await tamper("UPDATE audit.events SET roles = NULL WHERE chain_id = 't-nullarr' AND seq = 9");
    await tamper("UPDATE audit.events SET ts = 'infinity' WHERE chain_id = 't-inf' AND seq = 31");
    for (const [chain, seq] of [['t-nullarr', 9], ['t-inf', 31]] as const) {
      expect(await fast(chain, 2)).toBeNull();
      const ref = await verify(chain, { fast: false });
      expect(ref.problem).toMatchObject({ reason: 'hash_mismatch', seq });
      expect(await verify(chain, { workers: 2 })).toEqual(ref);
    }
  });

  it('readers get shortest round-trip floats even where the role defaults to extra_float_digits = 0', async () => {
    await writeChain('t-efd', 50, (i) => event({ latency_ms: 0.1 + 0.2 + i / 3 }));
    await db.su.query('ALTER ROLE mem0gov_writer SET extra_float_digits = 0');
    try {
      const c = await connect(db.writerUrl, 'efd');
      try {
        // The setting is there for a fresh session (connect() overrides it for its own).
        const raw = new pg.Client({ connectionString: db.writerUrl });
        await raw.connect();
        expect((await raw.query('SHOW extra_float_digits')).rows[0].extra_float_digits).toBe('0');
        await raw.end();
        expect((await c.query('SHOW extra_float_digits')).rows[0].extra_float_digits).toBe('1');
      } finally {
        await c.end();
      }
      expect(await verify('t-efd', { fast: false })).toMatchObject({ rows: 50, problem: null });
      expect(await verify('t-efd', { workers: 2 })).toMatchObject({ rows: 50, problem: null });
    } finally {
      await db.su.query('ALTER ROLE mem0gov_writer RESET extra_float_digits');
    }
  });

  it('a duplicate event_id fails the COPY; the batch falls back to INSERT … ON CONFLICT DO NOTHING on the same session', async () => {
    const sink = await createAuditSink(auditCfg(db, 'dup', { maxBatch: 50 }), silent);
    const first = event();
    await sink.append(first);
    const batch = [event(), { ...first }, event()];
    await Promise.all(batch.map((e) => sink.append(e)));
    expect(sink.health()).toMatchObject({ pg: true, spoolDepth: 0 });
    await sink.close();
    const ids = (await db.su.query("SELECT event_id FROM audit.events WHERE chain_id = 'dup' ORDER BY seq")).rows.map((r) => r.event_id);
    expect(ids).toEqual([first.event_id, batch[0]!.event_id, batch[2]!.event_id]);
  });
});

// copy-out.ts against a real PostgreSQL: it takes the socket from pg for a COPY TO and must give
// it back in every case — normal end, server error mid-stream, lost connection — with blocks of
// whole lines, whatever the row sizes and whatever messages the server intersperses.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_CAPACITY, copyOutBlocks } from '../../../src/audit/copy-out.js';
import { connect } from '../../../src/audit/pg.js';
import { startAuditDb, type AuditDb } from './helpers.js';

let db: AuditDb;
beforeAll(async () => { db = await startAuditDb(); });
afterAll(async () => { await db?.stop(); });

/** The promise's value, or 'hung' if it has not settled within `ms`. */
function within<T>(p: Promise<T>, ms = 10_000): Promise<T | 'hung'> {
  return Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms))]);
}

async function collect(gen: AsyncGenerator<Uint8Array>): Promise<{ text: string; blocks: number }> {
  const dec = new TextDecoder();
  let text = '';
  let blocks = 0;
  for await (const b of gen) {
    expect(b[b.length - 1]).toBe(10); // every block ends at a line end
    expect(b.byteOffset).toBe(0); // and owns its buffer from the start (transferable)
    text += dec.decode(b);
    blocks++;
  }
  return { text, blocks };
}

describe('COPY TO reader', () => {
  it('yields every line, in order, in blocks of whole lines; the session is usable after', async () => {
    const c = await connect(db.ownerUrl, 'copy-out');
    try {
      const { text, blocks } = await collect(copyOutBlocks(c,
        "COPY (SELECT x, repeat('y', x % 300), md5(x::text) FROM generate_series(1, 40000) x) TO STDOUT"));
      const lines = text.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines).toHaveLength(40_000);
      expect(lines[0]).toBe(`1\t${'y'.repeat(1)}\tc4ca4238a0b923820dcc509a6f75849b`);
      expect(lines[39_999]!.startsWith('40000\t')).toBe(true);
      expect(blocks).toBeGreaterThan(2); // several blocks, so lines and headers crossed chunk and block ends
      expect((await c.query('SELECT 42 AS x')).rows[0].x).toBe(42);
    } finally {
      await c.end();
    }
  });

  it('rows longer than a block, and notices between rows (RAISE NOTICE per row), come through intact', async () => {
    const c = await connect(db.ownerUrl, 'copy-out');
    try {
      await c.query(`CREATE OR REPLACE FUNCTION pg_temp.noisy(x int) RETURNS int LANGUAGE plpgsql AS
        $$ BEGIN RAISE NOTICE 'row %', x; RETURN x; END $$`);
      const big = BLOCK_CAPACITY * 2 + 123;
      const { text } = await collect(copyOutBlocks(c,
        `COPY (SELECT pg_temp.noisy(x), CASE WHEN x = 3 THEN repeat('z', ${big}) ELSE 'a' END FROM generate_series(1, 5) x) TO STDOUT`));
      expect(text).toBe(`1\ta\n2\ta\n3\t${'z'.repeat(big)}\n4\ta\n5\ta\n`);
      expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    } finally {
      await c.end();
    }
  });

  it('a server error mid-stream is thrown after the lines before it; the session stays usable', async () => {
    const c = await connect(db.ownerUrl, 'copy-out');
    try {
      let lines = 0;
      const err = await (async () => {
        try {
          for await (const b of copyOutBlocks(c, 'COPY (SELECT 1 / (x - 30000) FROM generate_series(1, 40000) x) TO STDOUT')) {
            lines += b.filter((x) => x === 10).length;
          }
          return null;
        } catch (e) {
          return e as Error & { code?: string };
        }
      })();
      expect(err?.code).toBe('22012'); // division_by_zero, from PostgreSQL
      expect(lines).toBeLessThan(30_000);
      expect((await c.query('SELECT 7 AS x')).rows[0].x).toBe(7);
    } finally {
      await c.end();
    }
  });

  it('a connection lost mid-COPY ends the reader with an error instead of a hang', async () => {
    const c = await connect(db.ownerUrl, 'copy-out-victim');
    try {
      const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const reading = (async () => {
        try {
          // Row 500 sleeps long enough for the backend to be terminated meanwhile.
          for await (const b of copyOutBlocks(c, 'COPY (SELECT x, pg_sleep(CASE WHEN x = 500 THEN 30 ELSE 0 END) FROM generate_series(1, 1000) x) TO STDOUT')) void b;
          return 'finished';
        } catch (e) {
          return (e as Error).message;
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      await db.su.query('SELECT pg_terminate_backend($1)', [pid]);
      const outcome = await within(reading);
      expect(outcome).not.toBe('finished');
      expect(outcome).not.toBe('hung');
    } finally {
      await c.end().catch(() => undefined);
    }
  });

  it('a consumer that leaves early (break) gets the session back once the rest is read and dropped', async () => {
    const c = await connect(db.ownerUrl, 'copy-out');
    try {
      await c.query('BEGIN');
      let blocks = 0;
      for await (const b of copyOutBlocks(c, "COPY (SELECT x, repeat('q', 200) FROM generate_series(1, 200000) x) TO STDOUT")) {
        void b;
        if (++blocks === 1) break;
      }
      const next = c.query('ROLLBACK').then(() => c.query('SELECT 5 AS x'));
      const outcome = await within(next.then((r) => r.rows[0].x as number));
      expect(outcome).toBe(5);
    } finally {
      await c.end().catch(() => undefined);
    }
  });

  it('a statement that is not COPY TO ends with a clear error; the session stays usable', async () => {
    const c = await connect(db.ownerUrl, 'copy-out');
    try {
      await expect(collect(copyOutBlocks(c, 'SELECT 1'))).rejects.toThrow(/unexpected message "T"/);
      await expect(collect(copyOutBlocks(c, 'COPY (SELECT * FROM no_such_table) TO STDOUT'))).rejects.toThrow(/no_such_table/);
      expect((await c.query('SELECT 3 AS x')).rows[0].x).toBe(3);
    } finally {
      await c.end();
    }
  });

  it('pg giving up mid-COPY (query_timeout) ends the reader; the socket goes back at a message boundary', async () => {
    const c = new pg.Client({ connectionString: db.ownerUrl, query_timeout: 300 });
    c.on('error', () => undefined);
    await c.connect();
    try {
      const err = await collect(copyOutBlocks(c, 'COPY (SELECT x, pg_sleep(CASE WHEN x = 200 THEN 1.5 ELSE 0 END) FROM generate_series(1, 400) x) TO STDOUT'))
        .then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/timeout/i);
      // The server ends the COPY (~1.5 s), pg finishes the timed-out query, then the session answers
      // (this query's own timeout is longer: pg counts the wait behind the COPY).
      const next = c.query({ text: 'SELECT 9 AS x', query_timeout: 10_000 } as pg.QueryConfig).then((r) => r.rows[0].x as number);
      const after = await within(next);
      expect(after).toBe(9);
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});

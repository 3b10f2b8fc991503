// PostgreSQL I/O for the audit chain: connection, per-chain advisory lock, head, batched INSERT,
// the chain bounds, the paged reader (export) and the COPY reader (verify), archives and
// partitions. Statements only; no chain logic here.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { ROW_COLUMNS, storedRowFormat, type AuditRow } from './row.js';
import type { Checkpoint } from './checkpoint.js';
import { arrayLiteral, ROW_SELECT_SQL, rowFromRaw, type RawRow } from './pg-text.js';

export { arrayLiteral, parseTextArray, ROW_SELECT_SQL, rowFromRaw } from './pg-text.js';

export type PgClient = pg.Client;

export async function connect(pgUrl: string, name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: pgUrl, application_name: name, connectionTimeoutMillis: 3000 });
  // An idle connection that dies (PG restart) must not crash the process; callers see the next query fail.
  client.on('error', () => undefined);
  await client.connect();
  // Readers take float8 as text: shortest round-trip digits whatever the server, database or role
  // default (extra_float_digits = 0 would round latency_ms and break the hash check).
  await client.query('SET extra_float_digits = 1');
  return client;
}

/** Advisory lock key of a chain: first 8 bytes of SHA-256("mem0gov-audit:" + chain_id), signed. */
export function chainLockKey(chainId: string): string {
  return createHash('sha256').update(`mem0gov-audit:${chainId}`).digest().readBigInt64BE(0).toString();
}

export async function tryLockChain(client: pg.Client, chainId: string): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [chainLockKey(chainId)]);
  return r.rows[0]?.ok === true;
}

export async function readHead(client: pg.Client, chainId: string): Promise<{ seq: number; hash: string } | null> {
  const r = await client.query<{ head_seq: string; hash: string }>(
    'SELECT e.seq::text AS head_seq, e.hash FROM audit.events e WHERE e.chain_id = $1 ORDER BY e.seq DESC LIMIT 1', [chainId]);
  const row = r.rows[0];
  return row === undefined ? null : { seq: Number(row.head_seq), hash: row.hash };
}

// Rows travel column-wise: one array parameter per column, expanded by unnest() in the server
// (one bind parameter per column per batch instead of per row; measurably faster than multi-row
// VALUES). text[] columns are passed as an array of PostgreSQL array literals and cast back per row.
const ARRAY_COLS = new Set<string>(['reasons', 'roles', 'entity_ids']);
const COL_TYPES: Record<string, string> = {
  seq: 'int8', ts: 'timestamptz', break_glass: 'bool', phi: 'bool', latency_ms: 'float8', status: 'int4', row_format: 'int2',
};

// Idempotent on the row: a row whose (event_id, ts) is stored is skipped (a spool replay of rows
// already committed). ts decides the partition, so the lookup reads one partition's event_id
// index; anything else that collides (same key, other row) is refused by the keys as before.
function insertSql(table: string): string {
  const cols = ROW_COLUMNS.join(', ');
  const select = ROW_COLUMNS.map((c) => (ARRAY_COLS.has(c) ? `u.${c}::text[]` : `u.${c}`)).join(', ');
  const params = ROW_COLUMNS.map((c, i) => `$${i + 1}::${COL_TYPES[c] ?? 'text'}[]`).join(', ');
  return `INSERT INTO ${table} (${cols}) SELECT ${select} FROM unnest(${params}) AS u(${cols})
    WHERE NOT EXISTS (SELECT 1 FROM ${table} e WHERE e.event_id = u.event_id AND e.ts = u.ts)`;
}
const INSERT_EVENTS = insertSql('audit.events');

/** Rows per INSERT statement (and so per transaction when no explicit one is open). */
export const MAX_ROWS_PER_INSERT = 5000;

/** One INSERT per ≤MAX_ROWS_PER_INSERT rows; idempotent on the row. Caller owns any wider transaction. */
export async function insertRows(client: pg.Client, rows: readonly AuditRow[], table = 'audit.events'): Promise<void> {
  const sql = table === 'audit.events' ? INSERT_EVENTS : insertSql(table);
  for (let off = 0; off < rows.length; off += MAX_ROWS_PER_INSERT) {
    const chunk = rows.slice(off, off + MAX_ROWS_PER_INSERT);
    const params = ROW_COLUMNS.map((c) => (ARRAY_COLS.has(c)
      ? chunk.map((r) => arrayLiteral(r[c] as string[]))
      : c === 'row_format' ? chunk.map((r) => storedRowFormat(r.row_format)) : chunk.map((r) => r[c])));
    await client.query(sql, params);
  }
}

/** Rows per prepared VALUES statement (one statement name per row count up to this). */
export const MAX_ROWS_PER_VALUES = 64;

// A batch of a few rows: `INSERT … VALUES (…), (…)` as a named prepared statement per row count
// (parsed and planned once per session). The unnest() form above is re-planned on every execution
// and costs PostgreSQL 3–4× the CPU for one row (~1.3 vs ~0.35 ms, bench figures in audit/README.md);
// under a steady trickle most batches are one or two rows. Not idempotent: a key already stored
// fails the statement (23505) and the caller falls back to insertRows.
const valuesSql = new Map<number, string>();
function valuesSqlFor(n: number): string {
  let sql = valuesSql.get(n);
  if (sql === undefined) {
    const w = ROW_COLUMNS.length;
    const tuples = Array.from({ length: n }, (_, r) => `(${ROW_COLUMNS.map((_c, i) => `$${r * w + i + 1}`).join(', ')})`);
    sql = `INSERT INTO audit.events (${ROW_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`;
    valuesSql.set(n, sql);
  }
  return sql;
}

/** One prepared INSERT … VALUES of up to MAX_ROWS_PER_VALUES rows into audit.events; a duplicate key fails it (23505). */
export async function insertValues(client: pg.Client, rows: readonly AuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  if (rows.length > MAX_ROWS_PER_VALUES) throw new Error(`insertValues: ${rows.length} rows, at most ${MAX_ROWS_PER_VALUES}`);
  const values: unknown[] = [];
  for (const r of rows) {
    for (const c of ROW_COLUMNS) values.push(ARRAY_COLS.has(c) ? arrayLiteral(r[c] as string[]) : c === 'row_format' ? storedRowFormat(r.row_format) : r[c]);
  }
  await client.query({ name: `mem0gov-insert-values-${rows.length}`, text: valuesSqlFor(rows.length), values });
}

const COPY_EVENTS = `COPY audit.events (${ROW_COLUMNS.join(', ')}) FROM STDIN`;

/**
 * Writes rows already encoded by encodeCopyRows (copy-text.ts) with one COPY FROM STDIN: one
 * statement, so one transaction when none is open; resolves after the server's CommandComplete,
 * i.e. after the commit (flushed: the writer's session forces synchronous_commit = on).
 * COPY has no ON CONFLICT: a duplicate key fails the whole statement (SQLSTATE 23505), and the
 * caller falls back to insertRows.
 */
export async function copyEncodedRows(client: pg.Client, encoded: string | Buffer, table = 'audit.events'): Promise<void> {
  const sql = table === 'audit.events' ? COPY_EVENTS : `COPY ${table} (${ROW_COLUMNS.join(', ')}) FROM STDIN`;
  const stream = client.query(copyFrom(sql));
  const done = once(stream, 'finish');
  stream.end(encoded);
  await done; // rejects on the stream's 'error' (the server's ErrorResponse)
}

export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

export async function insertCheckpoint(client: pg.Client, cp: Checkpoint): Promise<void> {
  await client.query(
    'INSERT INTO audit.checkpoints (chain_id, seq, hash, signature, key_id, ts) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING',
    [cp.chain_id, cp.seq, cp.hash, cp.signature, cp.key_id, cp.ts]);
}

export async function readCheckpoints(client: pg.Client, chainId: string): Promise<Checkpoint[]> {
  const r = await client.query<{ chain_id: string; seq: string; hash: string; signature: string; key_id: string; ts: Date }>(
    'SELECT c.chain_id, c.seq::text AS seq, c.hash, c.signature, c.key_id, c.ts FROM audit.checkpoints c WHERE c.chain_id = $1 ORDER BY c.seq',
    [chainId]);
  return r.rows.map((x) => ({ chain_id: x.chain_id, seq: Number(x.seq), hash: x.hash, signature: x.signature, key_id: x.key_id, ts: x.ts.toISOString() }));
}

/**
 * Every chain: those with rows (one index probe per chain and partition: a loose scan of the
 * primary keys, never a scan of the table), with checkpoints, or archived.
 */
export async function listChains(client: pg.Client): Promise<string[]> {
  const r = await client.query<{ chain_id: string }>(`
    WITH RECURSIVE c(chain_id) AS (
      SELECT min(chain_id) FROM audit.events
      UNION ALL
      SELECT (SELECT min(e.chain_id) FROM audit.events e WHERE e.chain_id > c.chain_id) FROM c WHERE c.chain_id IS NOT NULL)
    SELECT chain_id FROM c WHERE chain_id IS NOT NULL
    UNION SELECT chain_id FROM audit.checkpoints GROUP BY chain_id
    UNION SELECT chain_id FROM audit.archives GROUP BY chain_id ORDER BY 1`);
  return r.rows.map((x) => x.chain_id);
}

/** Every column arrives as text: no per-type parsing on the hot path. */
const RAW_TYPES = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/**
 * The lowest and highest seq of a chain, or null when it has no rows; with `ts`, of its rows
 * whose ts falls in [since, until) (export's segment).
 */
export async function chainBounds(client: pg.Client, chainId: string, ts?: { since: Date; until: Date }): Promise<{ lo: number; hi: number } | null> {
  const r = await client.query<{ lo: string | null; hi: string | null }>(
    `SELECT min(seq)::text AS lo, max(seq)::text AS hi FROM audit.events WHERE chain_id = $1${ts ? ' AND ts >= $2 AND ts < $3' : ''}`,
    ts ? [chainId, ts.since, ts.until] : [chainId]);
  const b = r.rows[0];
  return b?.lo == null || b.hi == null ? null : { lo: Number(b.lo), hi: Number(b.hi) };
}

/**
 * The one paged reader of a chain: rows with seq in [from, to] (optionally of one tenant), in
 * seq-range pages fetched over one or several connections at once (building each row's JSON costs
 * PostgreSQL CPU; two backends halve it), yielded strictly in seq order. Gaps and filtered-out
 * rows simply yield fewer rows (verify reports gaps). Bounds: chainBounds.
 */
export async function* readChain(pool: readonly pg.Client[], chainId: string, range: { from: number; to: number },
  opts: { tenant?: string; pageSize?: number } = {}): AsyncGenerator<AuditRow[]> {
  if (pool.length === 0) throw new Error('readChain needs a client');
  const pageSize = opts.pageSize ?? 5_000;
  const tenant = opts.tenant !== undefined ? ' AND tenant = $4' : '';
  const sql = `SELECT ${ROW_SELECT_SQL} FROM audit.events WHERE chain_id = $1 AND seq BETWEEN $2 AND $3${tenant} ORDER BY seq`;
  const pages: Promise<RawRow[]>[] = [];
  let nextStart = range.from;
  let turn = 0;
  const launch = (): void => {
    if (nextStart > range.to) return;
    const from = nextStart;
    const to = Math.min(range.to, from + pageSize - 1);
    nextStart = to + 1;
    const c = pool[turn++ % pool.length]!;
    const values = opts.tenant !== undefined ? [chainId, from, to, opts.tenant] : [chainId, from, to];
    const p = c.query<RawRow>({ text: sql, values, rowMode: 'array', types: RAW_TYPES }).then((r) => r.rows);
    p.catch(() => undefined); // surfaced when awaited in order
    pages.push(p);
  };
  for (let i = 0; i < pool.length + 1; i++) launch();
  while (pages.length > 0) {
    const raw = await pages.shift()!;
    launch();
    if (raw.length > 0) yield raw.map(rowFromRaw);
  }
}

/**
 * Rows of one chain with seq in (after, upTo], ascending, as COPY text lines of ROW_SELECT_SQL
 * (copy-text.ts decodeCopyLine reads them) through pg-copy-streams. Runs in one read-only
 * transaction with enable_sort off: an index scan in seq order (merged across partitions), never
 * a sort of the whole chain spilling to disk. `onStream` gets the stream to read to its end.
 */
export async function copyChainRows(client: pg.Client, chainId: string, after: number, upTo: number,
  onStream: (stream: Readable) => Promise<void>): Promise<void> {
  await client.query('BEGIN READ ONLY; SET LOCAL enable_sort TO off');
  let ok = false;
  try {
    const sql = `COPY (SELECT ${ROW_SELECT_SQL} FROM audit.events WHERE chain_id = ${client.escapeLiteral(chainId)}`
      + ` AND seq > ${Math.trunc(after)} AND seq <= ${Math.trunc(upTo)} ORDER BY seq) TO STDOUT`;
    const stream = client.query(copyTo(sql));
    await onStream(stream);
    ok = true;
  } finally {
    await client.query(ok ? 'COMMIT' : 'ROLLBACK').catch(() => undefined);
  }
}

/** Rows of a chain with seq ≤ upTo still stored (rows of an archived segment left in a partition that stays). */
export async function readRowsUpTo(client: pg.Client, chainId: string, upTo: number): Promise<AuditRow[]> {
  const r = await client.query<RawRow>({
    text: `SELECT ${ROW_SELECT_SQL} FROM audit.events WHERE chain_id = $1 AND seq <= $2 ORDER BY seq`,
    values: [chainId, upTo], rowMode: 'array', types: RAW_TYPES,
  });
  return r.rows.map(rowFromRaw);
}

/** The stored hash of one row, or null when the row is gone. */
export async function rowHash(client: pg.Client, chainId: string, seq: number): Promise<string | null> {
  const r = await client.query<{ hash: string }>('SELECT hash FROM audit.events WHERE chain_id = $1 AND seq = $2', [chainId, seq]);
  return r.rows[0]?.hash ?? null;
}

/** One archived segment's boundary (audit.archives): the chain's rows up to `seq` left the database. */
export interface ArchiveBoundary {
  chain_id: string;
  seq: number;
  hash: string;
  /** ISO: rows with ts before this were archived. */
  before: string;
  first_seq: number;
  rows: number;
  manifest_sha256: string;
  key_id: string;
  signature: string;
  archived_at: string;
}

/** Every archive boundary of a chain (or of all chains), ascending by seq. */
export async function readArchives(client: pg.Client, chainId?: string): Promise<ArchiveBoundary[]> {
  const r = await client.query<Record<string, string | Date>>(
    `SELECT chain_id, seq::text AS seq, hash, before, first_seq::text AS first_seq, rows::text AS rows, manifest_sha256, key_id, signature, archived_at
       FROM audit.archives ${chainId !== undefined ? 'WHERE chain_id = $1' : ''} ORDER BY chain_id, seq`, chainId !== undefined ? [chainId] : []);
  return r.rows.map((x) => ({
    chain_id: String(x.chain_id), seq: Number(x.seq), hash: String(x.hash), before: (x.before as Date).toISOString(),
    first_seq: Number(x.first_seq), rows: Number(x.rows), manifest_sha256: String(x.manifest_sha256), key_id: String(x.key_id),
    signature: String(x.signature), archived_at: (x.archived_at as Date).toISOString(),
  }));
}

export async function insertArchive(client: pg.Client, a: ArchiveBoundary): Promise<void> {
  await client.query(
    `INSERT INTO audit.archives (chain_id, seq, hash, before, first_seq, rows, manifest_sha256, key_id, signature, archived_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
    [a.chain_id, a.seq, a.hash, a.before, a.first_seq, a.rows, a.manifest_sha256, a.key_id, a.signature, a.archived_at]);
}

/** A partition of audit.events: bounds null for the default partition, lower null (unbounded) for the pre-003 one. */
export interface Partition { name: string; lower: Date | null; upper: Date | null }

export async function listPartitions(client: pg.Client): Promise<Partition[]> {
  const r = await client.query<{ name: string; lower_bound: unknown; upper_bound: unknown }>(
    'SELECT name, lower_bound, upper_bound FROM audit.partitions ORDER BY upper_bound NULLS LAST, name');
  const date = (v: unknown): Date | null => (v instanceof Date ? v : null);
  return r.rows.map((p) => ({ name: p.name, lower: date(p.lower_bound), upper: date(p.upper_bound) }));
}

/** Creates this month's partition and the next `monthsAhead` ones where missing (audit.ensure_partitions). */
export async function ensurePartitions(client: pg.Client, monthsAhead = 3): Promise<string[]> {
  const r = await client.query<{ name: string }>('SELECT audit.ensure_partitions($1) AS name', [monthsAhead]);
  return r.rows.map((x) => x.name);
}

/** A verification's outcome for one chain (audit.chain_status), as the audit API shows it. */
export interface ChainStatus {
  chain_id: string;
  verified_at: string;
  verifier: string;
  from_seq: number | null;
  head_seq: number | null;
  checkpoint_seq: number | null;
  checkpoint_hash: string | null;
  ok: boolean;
  problem: { reason: string; seq: number; event_id: string | null; detail: string } | null;
}

export async function saveChainStatus(client: pg.Client, s: ChainStatus): Promise<void> {
  await client.query(
    `INSERT INTO audit.chain_status (chain_id, verified_at, verifier, from_seq, head_seq, checkpoint_seq, checkpoint_hash, ok, problem)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
     ON CONFLICT (chain_id) DO UPDATE SET verified_at = EXCLUDED.verified_at, verifier = EXCLUDED.verifier, from_seq = EXCLUDED.from_seq,
       head_seq = EXCLUDED.head_seq, ok = EXCLUDED.ok, problem = EXCLUDED.problem,
       checkpoint_seq = coalesce(EXCLUDED.checkpoint_seq, audit.chain_status.checkpoint_seq),
       checkpoint_hash = coalesce(EXCLUDED.checkpoint_hash, audit.chain_status.checkpoint_hash)`,
    [s.chain_id, s.verified_at, s.verifier, s.from_seq, s.head_seq, s.checkpoint_seq, s.checkpoint_hash, s.ok, s.problem === null ? null : JSON.stringify(s.problem)]);
}

export async function readChainStatus(client: pg.Client): Promise<ChainStatus[]> {
  const r = await client.query<{ chain_id: string; verified_at: Date; verifier: string; from_seq: string | null; head_seq: string | null;
    checkpoint_seq: string | null; checkpoint_hash: string | null; ok: boolean; problem: ChainStatus['problem'] }>(
    'SELECT chain_id, verified_at, verifier, from_seq::text AS from_seq, head_seq::text AS head_seq, checkpoint_seq::text AS checkpoint_seq, checkpoint_hash, ok, problem FROM audit.chain_status ORDER BY chain_id');
  const n = (v: string | null): number | null => (v === null ? null : Number(v));
  return r.rows.map((x) => ({ ...x, verified_at: x.verified_at.toISOString(), from_seq: n(x.from_seq), head_seq: n(x.head_seq), checkpoint_seq: n(x.checkpoint_seq) }));
}

/** Rows of `SELECT ROW_SELECT_SQL FROM audit.events <tail>` (WHERE … ORDER BY … LIMIT …), as stored. */
export async function selectRows(client: pg.Client, tail: string, params: unknown[]): Promise<AuditRow[]> {
  const r = await client.query<RawRow>({ text: `SELECT ${ROW_SELECT_SQL} FROM audit.events ${tail}`, values: params, rowMode: 'array', types: RAW_TYPES });
  return r.rows.map(rowFromRaw);
}

// PostgreSQL I/O for the audit chain: connection, per-chain advisory lock, head, batched INSERT,
// the chain bounds and the one paged reader (verify, export). Statements only; no chain logic here.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyOutBlocks, type BlockAllocator } from './copy-out.js';
import { ROW_COLUMNS, rowFormatFromText, storedRowFormat, type AuditRow } from './row.js';
import type { Checkpoint } from './checkpoint.js';
import { arrayLiteral, parseTextArray } from './pg-text.js';

export { arrayLiteral, parseTextArray } from './pg-text.js';

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

function insertSql(table: string): string {
  const cols = ROW_COLUMNS.join(', ');
  const select = ROW_COLUMNS.map((c) => (ARRAY_COLS.has(c) ? `${c}::text[]` : c)).join(', ');
  const params = ROW_COLUMNS.map((c, i) => `$${i + 1}::${COL_TYPES[c] ?? 'text'}[]`).join(', ');
  return `INSERT INTO ${table} (${cols}) SELECT ${select} FROM unnest(${params}) AS u(${cols}) ON CONFLICT (event_id) DO NOTHING`;
}
const INSERT_EVENTS = insertSql('audit.events');

/** Rows per INSERT statement (and so per transaction when no explicit one is open). */
export const MAX_ROWS_PER_INSERT = 5000;

/** One INSERT per ≤MAX_ROWS_PER_INSERT rows; idempotent on event_id. Caller owns any wider transaction. */
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

const COPY_EVENTS = `COPY audit.events (${ROW_COLUMNS.join(', ')}) FROM STDIN`;

/**
 * Writes rows already encoded by encodeCopyRows (copy-text.ts) with one COPY FROM STDIN: one
 * statement, so one transaction when none is open; resolves after the server's CommandComplete,
 * i.e. after the commit (flushed: the writer's session forces synchronous_commit = on).
 * COPY has no ON CONFLICT: a duplicate event_id fails the whole statement (SQLSTATE 23505),
 * and the caller falls back to insertRows.
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

/** Columns for COPY TO: as stored, ts printed by the session's DateStyle/TimeZone (set to ISO/UTC by copyChainBlocks). */
const COPY_SELECT_SQL = ROW_COLUMNS.join(', ');

/**
 * Streams one chain (seq <= upTo, ascending) as COPY text in blocks of whole lines
 * (copy-out.ts), in one read-only transaction whose settings fix the text forms the fast
 * verifier parses (ISO UTC timestamps, shortest round-trip floats; enable_sort off: an index
 * scan in seq order even before ANALYZE, never a sort of the whole chain spilling to disk).
 */
export async function* copyChainBlocks(client: pg.Client, chainId: string, upTo: number, alloc?: BlockAllocator): AsyncGenerator<Uint8Array> {
  await client.query("BEGIN READ ONLY; SET LOCAL TimeZone TO 'UTC'; SET LOCAL DateStyle TO 'ISO, YMD'; SET LOCAL extra_float_digits TO 1; SET LOCAL enable_sort TO off");
  let ok = false;
  try {
    yield* copyOutBlocks(client,
      `COPY (SELECT ${COPY_SELECT_SQL} FROM audit.events WHERE chain_id = ${client.escapeLiteral(chainId)} AND seq <= ${Math.trunc(upTo)} ORDER BY seq) TO STDOUT`,
      alloc);
    ok = true;
  } finally {
    await client.query(ok ? 'COMMIT' : 'ROLLBACK').catch(() => undefined);
  }
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

export async function listChains(client: pg.Client): Promise<string[]> {
  const r = await client.query<{ chain_id: string }>(
    'SELECT chain_id FROM audit.events GROUP BY chain_id UNION SELECT chain_id FROM audit.checkpoints GROUP BY chain_id ORDER BY 1');
  return r.rows.map((x) => x.chain_id);
}

/**
 * Columns for reading rows back, every value as PostgreSQL's text output (no per-type parsing in
 * the driver): ts as epoch milliseconds (numeric, so sub-millisecond tampering stays visible),
 * float8 in its shortest round-trip form (PostgreSQL ≥ 12), text[] as array literals.
 */
export const ROW_SELECT_SQL = ROW_COLUMNS.map((c) => (c === 'ts' ? 'extract(epoch from ts) * 1000' : c)).join(', ');

// A ts with sub-millisecond digits was never written by the service (it hashes ms precision):
// render it so that it cannot match the hash instead of rounding the tampering away. The same for
// ±infinity, which has no ISO form.
function msToIso(text: string): string {
  const ms = Number(text);
  if (!Number.isFinite(ms)) return `${text}ms`;
  return Number.isInteger(ms) ? new Date(ms).toISOString() : `${new Date(Math.floor(ms)).toISOString()}+${text}ms`;
}

type RawRow = (string | null)[];

// SQL NULL stays null in every column, so it hashes as JSON null: never like a stored value, and
// never a crash. The schema forbids NULL in most columns; a superuser who drops that constraint
// still gets the row named, not a default value in its place.
const orNull = <T>(v: string | null, f: (x: string) => T): T | null => (v === null ? null : f(v));
const bool = (v: string): boolean => v === 't';

// rowFromRaw reads columns by position.
if (ROW_COLUMNS[24] !== 'status' || ROW_COLUMNS[25] !== 'row_format' || ROW_COLUMNS[28] !== 'detail' || ROW_COLUMNS[30] !== 'hash') {
  throw new Error('pg.ts: ROW_COLUMNS changed, update rowFromRaw');
}

export function rowFromRaw(a: RawRow): AuditRow {
  // A literal in one fixed shape: fast property access in the verifier's hot loop.
  return {
    chain_id: a[0], seq: Number(a[1]), event_id: a[2], ts: orNull(a[3] ?? null, msToIso), decision: a[4], reasons: orNull(a[5] ?? null, parseTextArray),
    actor_sub: a[6], roles: orNull(a[7] ?? null, parseTextArray), tenant: a[8], agent: a[9], session: a[10], action: a[11], route: a[12],
    method: a[13], path: a[14], entity_ids: orNull(a[15] ?? null, parseTextArray), memory_id: a[16], source_ip: a[17], request_id: a[18],
    policy_revision: a[19], break_glass: orNull(a[20] ?? null, bool), phi: orNull(a[21] ?? null, bool), latency_ms: orNull(a[22] ?? null, Number), body_digest: a[23],
    status: orNull(a[24] ?? null, Number), row_format: rowFormatFromText(a[25] ?? null), kind: a[26], ref_event_id: a[27], detail: a[28],
    prev_hash: a[29], hash: a[30],
  } as AuditRow;
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

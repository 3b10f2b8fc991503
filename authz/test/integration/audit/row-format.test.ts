// Row format 2 against real PostgreSQL: a database an older release wrote (schema 001, format-1
// rows hashed with 25 keys, a spool it left behind) is migrated to 002 and continued by the
// current writer with format-2 rows of every kind; the mixed chain verifies on every path
// (this thread, worker threads, `mem0-gov audit verify`, export + offline verify), and tampering
// with the format-2 columns — row_format included — is named. The upgrade also takes the populated
// table to schema 003 (partitions: the old table becomes one partition, attached in place).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigner, loadVerifier } from '../../../src/audit/checkpoint.js';
import { createAuditSink, recordAdminAction } from '../../../src/audit/index.js';
import { jcs } from '../../../src/audit/jcs.js';
import { migrate } from '../../../src/audit/migrate.js';
import { connect, insertCheckpoint, listPartitions, readCheckpoints } from '../../../src/audit/pg.js';
import { GENESIS_HASH, normalizeEvent, type AuditRow } from '../../../src/audit/row.js';
import { spoolPath } from '../../../src/audit/spool.js';
import { verifyDatabase } from '../../../src/audit/verify-db.js';
import { run } from '../../../src/cli/audit.js';
import type { CliContext } from '../../../src/cli/context.js';
import type { AuditEvent } from '../../../src/types.js';
import { auditCfg, event, silent, startAuditDb, testKeyPem, type AuditDb } from './helpers.js';

let db: AuditDb;
const key = testKeyPem();
const keys = [loadVerifier(key.publicPem)];
const dir = mkdtempSync(join(tmpdir(), 'mem0gov-rowformat-'));
const keyFile = join(dir, 'checkpoint.pem');
const pubFile = join(dir, 'checkpoint.pub.pem');
writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
writeFileSync(pubFile, key.publicPem);
const legacySpoolDir = join(dir, 'spool');
let applied: string[] = [];

// ---- what a release before row format 2 wrote -------------------------------------------------
// Its hashed object: these 25 columns, nothing else (spelled out here, not taken from row.ts).
const LEGACY_HASHED = ['chain_id', 'seq', 'event_id', 'ts', 'decision', 'reasons', 'actor_sub', 'roles', 'tenant', 'agent', 'session', 'action',
  'route', 'method', 'path', 'entity_ids', 'memory_id', 'source_ip', 'request_id', 'policy_revision', 'break_glass', 'phi', 'latency_ms',
  'body_digest', 'status'] as const;
const LEGACY_COLUMNS = [...LEGACY_HASHED, 'prev_hash', 'hash'] as const;

type LegacyRow = Record<(typeof LEGACY_COLUMNS)[number], unknown> & { seq: number; hash: string; event_id: string };

function legacyChain(chain: string, n: number, head = { seq: 0, hash: GENESIS_HASH }): LegacyRow[] {
  const out: LegacyRow[] = [];
  for (let i = 0; i < n; i++) {
    const ev = normalizeEvent(ev2({ reasons: ['policy_allow', `legacy-${i}`], path: i === 3 ? '/memories/"q"\\x' : '/memories' }));
    const hashed: Record<string, unknown> = { chain_id: chain, seq: head.seq + 1 };
    for (const k of LEGACY_HASHED) if (k !== 'chain_id' && k !== 'seq') hashed[k] = ev[k];
    const hash = createHash('sha256').update(head.hash).update(jcs(hashed)).digest('hex');
    const row = { ...hashed, prev_hash: head.hash, hash } as LegacyRow;
    out.push(row);
    head = { seq: row.seq, hash };
  }
  return out;
}

/** The old writer's statement: the 27 format-1 columns only, as the INSERT/SELECT-only writer role. */
async function insertLegacy(rows: readonly LegacyRow[]): Promise<void> {
  const w = new pg.Client(db.writerUrl);
  await w.connect();
  try {
    const params = LEGACY_COLUMNS.map((_, i) => `$${i + 1}`).join(',');
    for (const r of rows) {
      await w.query(`INSERT INTO audit.events (${LEGACY_COLUMNS.join(',')}) VALUES (${params})`, LEGACY_COLUMNS.map((c) => r[c]));
    }
  } finally {
    await w.end();
  }
}

/** helpers.ts' event with latencies of few digits: PostgreSQL prints them as ECMAScript does, so lines are byte-path material. */
let nth = 0;
function ev2(over: Partial<AuditEvent> = {}): AuditEvent {
  return event({ latency_ms: (nth++ % 400) / 8, ...over });
}

// ---- what the current writer writes ---------------------------------------------------------
const DETAIL = jcs({ upstream_status: 200, returned: 2, withheld_phi: 1, withheld_ids: ['m"1', 'm\\2'], content_findings: ['email'], note: '日本' });

/** Format-2 events: decision, its outcome (naming it), and now and then an admin or config row. */
function format2Events(n: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  while (out.length < n) {
    const i = out.length;
    if (i % 7 === 6) {
      out.push(ev2({ kind: i % 2 ? 'admin' : 'config', detail: jcs({ limit: '600/m', target: `tenant:t${i}` }), method: i % 2 ? 'CLI' : 'CONFIG' }));
      continue;
    }
    const decision = ev2({ kind: 'decision' });
    out.push(decision);
    out.push(ev2({ kind: 'outcome', ref_event_id: decision.event_id, detail: i % 3 ? DETAIL : jcs({ upstream_status: 500 }), status: i % 3 ? 200 : 500 }));
  }
  return out.slice(0, n);
}

async function appendFormat2(chain: string, n: number, over: Parameters<typeof auditCfg>[2] = {}): Promise<AuditEvent[]> {
  const sink = await createAuditSink(auditCfg(db, chain, { checkpointKeyPem: key.privatePem, checkpointEvery: 25, maxBatch: 20, ...over }), silent);
  const evs = format2Events(n);
  await Promise.all(evs.map((e) => sink.append(e)));
  await sink.close();
  return evs;
}

// ---- verification helpers -------------------------------------------------------------------
async function verify(chain: string, opts: { workers?: number; workerMinRows?: number } = {}) {
  const c = await connect(db.writerUrl, 'verify');
  try {
    return (await verifyDatabase(c, { chain, keys, full: true, ...opts }))[0]!;
  } finally {
    await c.end();
  }
}

async function tamper(sql: string, params: unknown[] = []): Promise<void> {
  await db.su.query('SET session_replication_role = replica');
  try {
    await db.su.query(sql, params);
  } finally {
    await db.su.query('SET session_replication_role = DEFAULT');
  }
}

function ctx(): CliContext & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const env = {
    MEM0_GOV_PG_URL: db.writerUrl,
    MEM0_GOV_PG_ADMIN_URL: db.ownerUrl,
    MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: keyFile,
    MEM0_GOV_AUDIT_ADMIN_CHAIN_ID: 'admin:rowformat',
    MEM0_GOV_AUDIT_VERIFY_STATE: join(dir, 'verify-state.json'),
    MEM0_GOV_LOG_LEVEL: 'silent',
  };
  return {
    env, lines, errors, actor: 'alice',
    out: (l) => void lines.push(l),
    err: (l) => void errors.push(l),
    recordAdmin: (a) => recordAdminAction(env, { ...a, actor: 'alice' }),
  };
}

const legacy = { upgraded: [] as LegacyRow[], spooled: [] as LegacyRow[] };

beforeAll(async () => {
  // An older release's database: schema 001 only, 30 rows of chain `upgraded` with a signed
  // checkpoint at seq 20, and a spool of chain `spooled` it could not write before it stopped.
  db = await startAuditDb({ onlyUpTo: '001_audit_chain' });
  legacy.upgraded = legacyChain('upgraded', 30);
  await insertLegacy(legacy.upgraded);
  await insertCheckpoint(db.su, loadSigner(key.privatePem).sign('upgraded', 20, legacy.upgraded[19]!.hash, new Date().toISOString()));
  legacy.spooled = legacyChain('spooled', 12);
  mkdirSync(legacySpoolDir, { recursive: true });
  writeFileSync(spoolPath(legacySpoolDir, 'spooled'), legacy.spooled.map((r) => JSON.stringify(r)).join('\n') + '\n');
  // The upgrade.
  applied = await migrate(db.ownerUrl);
});
afterAll(async () => {
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit row format 2', () => {
  it('migration 002 adds the columns to a populated table; old rows stay format 1 (all NULL)', async () => {
    expect(applied).toEqual(['002_row_format', '003_partitions']);
    // The populated table is now the partition before the monthly ones, attached as it was.
    const parts = await listPartitions(db.su);
    expect(parts.find((p) => p.name === 'events_legacy')).toMatchObject({ lower: null });
    expect(parts.some((p) => p.name === 'events_default')).toBe(true);
    const cols = await db.su.query(
      "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'audit' AND table_name = 'events' AND column_name IN ('row_format','kind','ref_event_id','detail') ORDER BY column_name");
    expect(cols.rows).toEqual([
      { column_name: 'detail', data_type: 'text', is_nullable: 'YES' },
      { column_name: 'kind', data_type: 'text', is_nullable: 'YES' },
      { column_name: 'ref_event_id', data_type: 'text', is_nullable: 'YES' },
      { column_name: 'row_format', data_type: 'smallint', is_nullable: 'YES' },
    ]);
    const r = await db.su.query("SELECT count(*)::int AS n FROM audit.events WHERE chain_id = 'upgraded' AND row_format IS NULL AND kind IS NULL AND ref_event_id IS NULL AND detail IS NULL");
    expect(r.rows[0].n).toBe(30);
    const idx = await db.su.query("SELECT indexdef FROM pg_indexes WHERE schemaname = 'audit' AND indexname = 'events_ref_event_id'");
    expect(idx.rows[0].indexdef).toMatch(/\(ref_event_id\)/);
  });

  it('the writer role INSERTs the new columns; the CHECKs refuse what no writer writes', async () => {
    const w = new pg.Client(db.writerUrl);
    await w.connect();
    try {
      // Rows of a scratch chain, dated before the range the export test below exports.
      const base = { ...legacyChain('scratch', 1)[0]!, ts: '2025-01-01T00:00:00.000Z' };
      const cols = [...LEGACY_COLUMNS, 'row_format', 'kind', 'ref_event_id', 'detail'];
      let seq = 0;
      const ins = (extra: unknown[], id: string) => w.query(
        `INSERT INTO audit.events (${cols.join(',')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(',')})`,
        [...LEGACY_COLUMNS.map((c) => (c === 'event_id' ? id : c === 'seq' ? ++seq : base[c])), ...extra]);
      await ins([2, 'outcome', 'd-1', '{"returned":1}'], 'ok-1');
      await ins([null, null, null, null], 'ok-2');
      await expect(ins([1, 'decision', null, null], 'bad-1')).rejects.toThrow(/events_row_format/);
      await expect(ins([3, 'decision', null, null], 'bad-2')).rejects.toThrow(/events_row_format/);
      await expect(ins([2, null, null, null], 'bad-3')).rejects.toThrow(/events_kind/);
      await expect(ins([2, 'verdict', null, null], 'bad-4')).rejects.toThrow(/events_kind/);
      await expect(ins([null, 'decision', null, null], 'bad-5')).rejects.toThrow(/events_format1_plain/);
      await expect(ins([null, null, null, '{}'], 'bad-6')).rejects.toThrow(/events_format1_plain/);
      // Append-only still holds for the new columns.
      await expect(w.query("UPDATE audit.events SET kind = 'admin' WHERE event_id = 'ok-1'")).rejects.toThrow(/permission denied/);
      await expect(db.su.query("UPDATE audit.events SET detail = '{}' WHERE event_id = 'ok-1'")).rejects.toThrow(/append-only/);
    } finally {
      await w.end();
    }
  });

  it('a format-1 chain continued by format-2 rows verifies end to end: this thread, worker threads, CLI', async () => {
    const evs = await appendFormat2('upgraded', 60);
    const stored = await db.su.query("SELECT row_format, kind, count(*)::int AS n FROM audit.events WHERE chain_id = 'upgraded' GROUP BY 1, 2 ORDER BY 1, 2");
    const count = (k: string) => evs.filter((e) => e.kind === k).length;
    expect(stored.rows).toEqual([
      { row_format: 2, kind: 'admin', n: count('admin') },
      { row_format: 2, kind: 'config', n: count('config') },
      { row_format: 2, kind: 'decision', n: count('decision') },
      { row_format: 2, kind: 'outcome', n: count('outcome') },
      { row_format: null, kind: null, n: 30 },
    ]);
    // Outcome rows name their decision, findable through the ref_event_id index.
    const outcome = evs.find((e) => e.kind === 'outcome')!;
    const byRef = await db.su.query('SELECT e.kind, e.detail, d.kind AS decision_kind FROM audit.events e JOIN audit.events d ON d.event_id = e.ref_event_id WHERE e.ref_event_id = $1', [outcome.ref_event_id]);
    expect(byRef.rows).toEqual([{ kind: 'outcome', detail: outcome.detail, decision_kind: 'decision' }]);
    // The writer chained the first format-2 row to the old head.
    const first2 = await db.su.query("SELECT seq::int AS seq, prev_hash FROM audit.events WHERE chain_id = 'upgraded' AND row_format = 2 ORDER BY seq LIMIT 1");
    expect(first2.rows[0]).toEqual({ seq: 31, prev_hash: legacy.upgraded[29]!.hash });

    const ref = await verify('upgraded', { workers: 0 });
    expect(ref).toMatchObject({ rows: 90, first_seq: 1, last_seq: 90, problem: null });
    // The old release's checkpoint at 20 (over a format-1 row) and the writer's over format-2 rows.
    const cps = await readCheckpoints(db.su, 'upgraded');
    expect(cps[0]!.seq).toBe(20);
    expect(cps.some((cp) => cp.seq > 30)).toBe(true);
    expect(ref.checkpoints_verified).toBe(cps.length);
    expect(await verify('upgraded', { workers: 2, workerMinRows: 0 })).toEqual(ref);
    const c = ctx();
    expect(await run(['verify', '--chain', 'upgraded', '--public-key', pubFile], c)).toBe(0);
    expect(c.lines.join('\n')).toMatch(/ok chain=upgraded rows=90 seq=1\.\.90 /);
  });

  it('a spool left by the older release replays as format-1 rows, then the chain goes on in format 2', async () => {
    const sink = await createAuditSink(auditCfg(db, 'spooled', { spoolDir: legacySpoolDir }), silent);
    expect(sink.health()).toMatchObject({ pg: true, spoolDepth: 0 });
    await Promise.all(format2Events(10).map((e) => sink.append(e)));
    await sink.close();
    const r = await db.su.query("SELECT count(*) FILTER (WHERE row_format IS NULL)::int AS f1, count(*) FILTER (WHERE row_format = 2)::int AS f2 FROM audit.events WHERE chain_id = 'spooled'");
    expect(r.rows[0]).toEqual({ f1: 12, f2: 10 });
    expect(await verify('spooled')).toMatchObject({ rows: 22, problem: null });
  });

  it('admin CLI rows are kind admin, with the details as canonical JSON in detail (reasons and body_digest as before)', async () => {
    const details = { limit: '600/m', burst: 20, note: 'q"\\' };
    await recordAdminAction(ctx().env, { actor: 'alice', command: 'limits.set', target: 'tenant:acme', details });
    const r = await db.su.query("SELECT row_format, kind, ref_event_id, detail, reasons, body_digest, tenant FROM audit.events WHERE chain_id = 'admin:rowformat'");
    expect(r.rows).toEqual([{
      row_format: 2, kind: 'admin', ref_event_id: null, detail: '{"burst":20,"limit":"600/m","note":"q\\"\\\\"}',
      reasons: ['admin_action', 'detail:burst=20', 'detail:limit=600/m', 'detail:note=q"\\'],
      body_digest: createHash('sha256').update('{"burst":20,"limit":"600/m","note":"q\\"\\\\"}').digest('hex'), tenant: 'acme',
    }]);
    expect(await verify('admin:rowformat')).toMatchObject({ rows: 1, problem: null });
  });

  it('export → offline verify with both formats (jsonl, csv); an edited detail is named; /1 exports still verify', async () => {
    for (const format of ['jsonl', 'csv'] as const) {
      const out = mkdtempSync(join(dir, `export-${format}-`));
      expect(await run(['export', '--since', '2026-01-01T00:00:00Z', '--until', '2027-01-01T00:00:00Z', '--format', format, '--out', out], ctx())).toBe(0);
      const files = readdirSync(out);
      const rowsPath = join(out, files.find((f) => f.endsWith(`.${format}`))!);
      const manifestPath = join(out, files.find((f) => f.endsWith('.manifest.json'))!);
      const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
      expect(m.format).toBe('mem0-gov-audit-export/2');
      expect(m.chains.find((x: { chain_id: string }) => x.chain_id === 'upgraded')).toMatchObject({ first_seq: 1, last_seq: 90, rows: 90 });
      const v = ctx();
      expect(await run(['verify', '--file', rowsPath, '--manifest', manifestPath, '--public-key', pubFile], v)).toBe(0);
      expect(v.errors).toEqual([]);
      const text = readFileSync(rowsPath, 'utf8');
      if (format === 'jsonl') {
        const rows = text.trim().split('\n').map((l) => JSON.parse(l) as AuditRow).filter((r) => r.chain_id === 'upgraded');
        expect(rows.filter((r) => r.row_format === 1 && r.kind === null).length).toBe(30);
        expect(rows.find((r) => r.kind === 'outcome' && r.detail === DETAIL)).toBeDefined();
        expect(Object.keys(rows[0]!)).toEqual(expect.arrayContaining(['row_format', 'kind', 'ref_event_id', 'detail']));
      } else {
        expect(text.split('\n')[0]).toContain(',status,row_format,kind,ref_event_id,detail,prev_hash,hash');
      }
      // An edited detail (file digest fixed up, so only the row check can catch it) is named.
      const edited = format === 'jsonl' ? text.replace('\\"returned\\":2', '\\"returned\\":9') : text.replace('""returned"":2', '""returned"":9');
      expect(edited).not.toBe(text);
      // The row the first replacement hits (file order: chains sorted, then seq).
      const hit = format === 'jsonl'
        ? text.trim().split('\n').map((l) => JSON.parse(l) as AuditRow).find((r) => r.detail === DETAIL)!
        : ((cells: string[]) => ({ chain_id: cells[0]!.replace(/"/g, ''), seq: Number(cells[1]) }))(text.split('\n').find((l) => l.includes('""returned"":2'))!.split(','));
      writeFileSync(rowsPath, edited);
      writeFileSync(manifestPath, JSON.stringify({ ...m, rows_sha256: createHash('sha256').update(edited).digest('hex') }));
      const bad = ctx();
      expect(await run(['verify', '--file', rowsPath, '--manifest', manifestPath, '--public-key', pubFile], bad)).toBe(1);
      expect(bad.errors.join('\n')).toMatch(new RegExp(`FAIL chain=${hit.chain_id} seq=${hit.seq} event_id=[0-9a-f-]{36} hash_mismatch`));
    }

    // An export made by the older release (format /1: 27 columns, format-1 rows) still verifies.
    const segment = legacy.upgraded;
    const manifest = (rowsFile: string, rowsFormat: string, body: string) => ({
      format: 'mem0-gov-audit-export/1', created_at: new Date().toISOString(), range: { since: '2026-01-01T00:00:00.000Z', until: '2027-01-01T00:00:00.000Z' },
      tenant: null, rows_file: rowsFile, rows_format: rowsFormat, rows_sha256: createHash('sha256').update(body).digest('hex'), row_count: segment.length,
      chains: [{ chain_id: 'upgraded', first_seq: 1, last_seq: 30, first_prev_hash: GENESIS_HASH, head_hash: segment[29]!.hash, rows: 30, contiguous: true, checkpoints: [] }],
      public_key_pem: null,
    });
    const out = mkdtempSync(join(dir, 'export-v1-'));
    const jsonl = segment.map((r) => JSON.stringify(Object.fromEntries(LEGACY_COLUMNS.map((c) => [c, r[c]])))).join('\n') + '\n';
    const csvCell = (v: unknown): string => (v === null ? '' : typeof v === 'number' || typeof v === 'boolean' ? String(v)
      : `"${(Array.isArray(v) ? JSON.stringify(v) : String(v)).replace(/"/g, '""')}"`);
    const csv = [LEGACY_COLUMNS.join(','), ...segment.map((r) => LEGACY_COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
    for (const [name, body, fmt] of [['old.jsonl', jsonl, 'jsonl'], ['old.csv', csv, 'csv']] as const) {
      writeFileSync(join(out, name), body);
      writeFileSync(join(out, `${name}.manifest.json`), JSON.stringify(manifest(name, fmt, body)));
      const v = ctx();
      expect(await run(['verify', '--file', join(out, name), '--manifest', join(out, `${name}.manifest.json`)], v), name).toBe(0);
      expect(v.lines.join('\n')).toMatch(/ok chain=upgraded rows=30 seq=1\.\.30 /);
    }
  });

  it('tampering with the format-2 columns (kind, ref_event_id, detail, row_format) is detected and the row named, on every path', async () => {
    // The attacker is a superuser: triggers bypassed, and for some cases the CHECKs dropped too.
    await db.su.query('ALTER TABLE audit.events DROP CONSTRAINT events_row_format, DROP CONSTRAINT events_format1_plain, DROP CONSTRAINT events_kind');
    const cases: [string, number, string][] = [
      ['kind', 40, "SET kind = 'admin'"],
      ['ref_event_id', 41, "SET ref_event_id = 'another-decision'"],
      ['detail', 42, `SET detail = '${jcs({ returned: 0, upstream_status: 200 })}'`],
      ['detail-null', 43, 'SET detail = NULL'],
      // Dropping the new keys from the hash: row_format NULL makes it look like format 1.
      ['fmt-null-keep', 44, 'SET row_format = NULL'],
      ['fmt-null-all', 45, 'SET row_format = NULL, kind = NULL, ref_event_id = NULL, detail = NULL'],
      ['fmt-1', 46, 'SET row_format = 1, kind = NULL, ref_event_id = NULL, detail = NULL'],
      ['fmt-3', 47, 'SET row_format = 3'],
      // Format-1 rows: the new columns are not covered by their hash, so they must stay NULL.
      ['f1-kind', 8, "SET kind = 'outcome'"],
      ['f1-detail', 9, `SET detail = '{"returned":99}'`],
      ['f1-to-2', 10, "SET row_format = 2, kind = 'decision'"],
    ];
    for (const [name] of cases) {
      const chain = `t-${name}`;
      await insertLegacy(legacyChain(chain, 30));
      await appendFormat2(chain, 30);
    }
    for (const [name, seq, set] of cases) {
      const chain = `t-${name}`;
      const id = (await db.su.query('SELECT event_id FROM audit.events WHERE chain_id = $1 AND seq = $2', [chain, seq])).rows[0].event_id as string;
      await tamper(`UPDATE audit.events ${set} WHERE chain_id = $1 AND seq = $2`, [chain, seq]);
      const ref = await verify(chain, { workers: 0 });
      expect(ref.problem, name).toMatchObject({ chain_id: chain, seq, event_id: id, reason: 'hash_mismatch' });
      expect(await verify(chain, { workers: 2, workerMinRows: 0 }), name).toEqual(ref);
      expect(await verify(chain, { workers: 0 }), name).toEqual(ref);
    }
    const c = ctx();
    expect(await run(['verify', '--chain', 't-fmt-null-all', '--public-key', pubFile], c)).toBe(1);
    expect(c.errors.join('\n')).toMatch(/FAIL chain=t-fmt-null-all seq=45 event_id=[0-9a-f-]{36} hash_mismatch/);
    const c2 = ctx();
    expect(await run(['verify', '--chain', 't-fmt-null-keep', '--public-key', pubFile], c2)).toBe(1);
    expect(c2.errors.join('\n')).toMatch(/seq=44 .*hash_mismatch: a format-1 row \(row_format NULL\) has kind, ref_event_id or detail set/);
  });
});

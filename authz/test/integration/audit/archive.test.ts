// Partitions and retention against real PostgreSQL: `mem0-gov audit archive --before <month>`
// exports the sealed segment of every chain (rows + manifest + a signed checkpoint at the
// boundary), verifies it, writes its admin row and only then detaches and drops the monthly
// partitions; `audit verify` of what remains starts at the signed boundary and still detects every
// tamper case; archive refuses what retention keeps and chains that do not verify.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigner } from '../../../src/audit/checkpoint.js';
import { createAuditSink, recordAdminAction } from '../../../src/audit/index.js';
import { insertCheckpoint, listPartitions, readArchives, selectRows } from '../../../src/audit/pg.js';
import { canonicalHashed, chainHash } from '../../../src/audit/row.js';
import { run } from '../../../src/cli/audit.js';
import type { CliContext } from '../../../src/cli/context.js';
import type { AuditEvent } from '../../../src/types.js';
import { auditCfg, event, silent, startAuditDb, testKeyPem, type AuditDb } from './helpers.js';

let db: AuditDb;
const key = testKeyPem();
const dir = mkdtempSync(join(tmpdir(), 'mem0gov-archive-'));
const keyFile = join(dir, 'checkpoint.pem');
const pubFile = join(dir, 'checkpoint.pub.pem');
writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
writeFileSync(pubFile, key.publicPem);
const out = join(dir, 'archive');

const CHAINS = ['arch', 'tam-field', 'tam-first', 'tam-prev', 'tam-left', 'tam-boundary', 'tam-forged', 'tam-gone', 'tam-rewrite', 'tam-tail'];
const at = (month: number, day: number, i = 0): string => new Date(Date.UTC(2026, month - 1, day, 10, 0, 0, i)).toISOString();

/** Jul 1–20, Aug 21–40, a Sep row (41), an Aug row written after it (42: ts older than its seq), Sep 43–62, Oct 63–72, this month 73–82. */
function pattern(): AuditEvent[] {
  const evs: AuditEvent[] = [];
  for (let i = 0; i < 20; i++) evs.push(event({ ts: at(7, 10, i) }));
  for (let i = 0; i < 20; i++) evs.push(event({ ts: at(8, 10, i) }));
  evs.push(event({ ts: at(9, 1) }));
  evs.push(event({ ts: at(8, 31) }));
  for (let i = 0; i < 20; i++) evs.push(event({ ts: at(9, 10, i) }));
  for (let i = 0; i < 10; i++) evs.push(event({ ts: at(10, 10, i) }));
  for (let i = 0; i < 10; i++) evs.push(event({ ts: new Date(Date.now() - 1000 + i).toISOString() }));
  return evs;
}

function ctx(extra: Record<string, string> = {}): CliContext & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const env = {
    MEM0_GOV_PG_URL: db.writerUrl,
    MEM0_GOV_PG_ADMIN_URL: db.ownerUrl,
    MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: keyFile,
    MEM0_GOV_AUDIT_ADMIN_CHAIN_ID: 'admin:archive-test',
    MEM0_GOV_AUDIT_VERIFY_STATE: join(dir, 'verify-state.json'),
    // The test's months are in the past of any day this runs on: keep one month besides this one.
    MEM0_GOV_AUDIT_RETENTION_MONTHS: '1',
    MEM0_GOV_LOG_LEVEL: 'silent',
    ...extra,
  };
  return {
    env, lines, errors, actor: 'alice',
    out: (l) => void lines.push(l),
    err: (l) => void errors.push(l),
    recordAdmin: (a) => recordAdminAction(env, { ...a, actor: 'alice' }),
  };
}

async function tamper(sql: string, params: unknown[] = []): Promise<void> {
  await db.su.query('SET session_replication_role = replica');
  try {
    await db.su.query(sql, params);
  } finally {
    await db.su.query('SET session_replication_role = DEFAULT');
  }
}

async function verifyChain(chain: string): Promise<{ code: number; text: string }> {
  const c = ctx();
  const code = await run(['verify', '--full', '--chain', chain, '--public-key', pubFile], c);
  return { code, text: [...c.lines, ...c.errors].join('\n') };
}

const names = async (): Promise<string[]> => (await listPartitions(db.su)).map((p) => p.name);

beforeAll(async () => {
  db = await startAuditDb();
  // Months that were current when their rows were written (a deployment's partitions come from ensure_partitions).
  for (const m of ['2026-07-01', '2026-08-01', '2026-09-01', '2026-10-01']) await db.su.query('SELECT audit.create_month_partition($1)', [m]);
  await Promise.all(CHAINS.map(async (chain) => {
    const sink = await createAuditSink(auditCfg(db, chain, { checkpointKeyPem: key.privatePem, checkpointEvery: 10, maxBatch: 10 }), silent);
    for (const e of pattern()) await sink.append(e);
    await sink.close();
  }));
  // Signed checkpoints every 10 rows, as a writer with MEM0_GOV_AUDIT_CHECKPOINT_EVERY=10 leaves them
  // (written here so the test does not depend on when the writer gets to sign).
  const signer = loadSigner(key.privatePem);
  for (const chain of CHAINS) {
    for (const row of await selectRows(db.su, 'WHERE chain_id = $1 AND seq % 10 = 0 ORDER BY seq', [chain])) {
      await insertCheckpoint(db.su, signer.sign(chain, row.seq, row.hash, new Date().toISOString()));
    }
  }
  // A chain whose rows all lie in the archived months.
  const old = await createAuditSink(auditCfg(db, 'old', { checkpointKeyPem: key.privatePem }), silent);
  for (let i = 0; i < 5; i++) await old.append(event({ ts: at(7, 20, i) }));
  await old.close();
}, 120_000);
afterAll(async () => {
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit archive', () => {
  it('rows land in the partition of their month', async () => {
    const r = await db.su.query("SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM audit.events WHERE chain_id = 'arch' GROUP BY 1 ORDER BY 1");
    const month = `audit.events_p${new Date().toISOString().slice(0, 7).replace('-', '_')}`;
    expect(r.rows).toEqual(expect.arrayContaining([
      { part: 'audit.events_p2026_07', n: 20 }, { part: 'audit.events_p2026_08', n: 21 }, { part: 'audit.events_p2026_09', n: 21 },
      { part: 'audit.events_p2026_10', n: 10 }, { part: month, n: 10 },
    ]));
  });

  it('`audit partitions` lists the months and which ones the retention makes due', async () => {
    const c = ctx();
    expect(await run(['partitions'], c)).toBe(0);
    const text = c.lines.join('\n');
    expect(text).toMatch(/^events_p2026_07 2026-07-01T00:00:00.000Z\.\.2026-08-01T00:00:00.000Z DUE for archive$/m);
    expect(text).toMatch(new RegExp(`^events_p${new Date().toISOString().slice(0, 7).replace('-', '_')} \\S+$`, 'm'));
    expect(text).toMatch(/^events_default default/m);
  });

  it('refuses what the retention keeps, and works only with the owner URL and the checkpoint key', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const c = ctx();
    expect(await run(['archive', '--before', month, '--out', out], c)).toBe(2);
    expect(c.errors.join('\n')).toMatch(/MEM0_GOV_AUDIT_RETENTION_MONTHS=1 keeps every month from/);
    expect(await run(['archive', '--before', '2026-09', '--out', out], ctx({ MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: '' }))).toBe(78);
    expect(await run(['archive', '--before', '2026-9', '--out', out], ctx())).toBe(2);
  });

  it('a chain that does not verify stops the archive: nothing signed, stored or dropped', async () => {
    const before = await names();
    const [row] = await selectRows(db.su, "WHERE chain_id = 'arch' AND seq = 5", []);
    await tamper("UPDATE audit.events SET decision = 'allow', reasons = '{forged}' WHERE chain_id = 'arch' AND seq = 5");
    const c = ctx();
    expect(await run(['archive', '--before', '2026-09', '--out', out, '--public-key', pubFile], c)).toBe(1);
    expect(c.errors.join('\n')).toMatch(/chain arch does not verify \(chain=arch seq=5 .*hash_mismatch.*nothing was archived or dropped/);
    expect(await names()).toEqual(before);
    expect(await readArchives(db.su)).toEqual([]);
    await tamper('UPDATE audit.events SET decision = $1, reasons = $2 WHERE chain_id = $3 AND seq = 5', [row!.decision, row!.reasons, 'arch']);
  });

  it('--dry-run exports and verifies without dropping anything', async () => {
    const before = await names();
    const c = ctx();
    expect(await run(['archive', '--before', '2026-09', '--out', join(dir, 'dry'), '--public-key', pubFile, '--dry-run'], c), c.errors.join('\n')).toBe(0);
    expect(c.lines.join('\n')).toMatch(/verified \(dry run, nothing dropped\) partitions=events_p2026_07,events_p2026_08/);
    expect(await names()).toEqual(before);
  });

  it('archives July and August: export + manifest + signed boundary, verified, admin row, then the partitions are gone', async () => {
    const c = ctx();
    expect(await run(['archive', '--before', '2026-09', '--out', out, '--public-key', pubFile], c), c.errors.join('\n')).toBe(0);
    const text = c.lines.join('\n');
    expect(text).toMatch(/boundary chain=arch seq=42 /);
    expect(text).toMatch(/boundary chain=old seq=5 /);
    expect(text).toMatch(/archived and dropped partitions=events_p2026_07,events_p2026_08 /);
    expect(await names()).not.toContain('events_p2026_07');
    expect(await names()).not.toContain('events_p2026_08');
    expect(await names()).toContain('events_p2026_09');
    // The segment's rows, and the Sep row inside it, are in the export; what is left of it stays.
    const left = await db.su.query("SELECT seq::int AS seq FROM audit.events WHERE chain_id = 'arch' AND seq <= 42 ORDER BY seq");
    expect(left.rows).toEqual([{ seq: 41 }]);
    const boundaries = await readArchives(db.su, 'arch');
    expect(boundaries).toMatchObject([{ seq: 42, first_seq: 1, rows: 42, key_id: loadSigner(key.privatePem).keyId }]);
    const cp = await db.su.query("SELECT seq::int AS seq FROM audit.checkpoints WHERE chain_id = 'arch' AND seq = 42");
    expect(cp.rows).toHaveLength(1);
    // The export verifies offline with `audit verify --file`; its manifest names the boundary.
    const files = readdirSync(out);
    const rows = join(out, files.find((f) => f.endsWith('.jsonl'))!);
    const manifest = join(out, files.find((f) => f.endsWith('.manifest.json'))!);
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    expect(m.archive).toMatchObject({ before: '2026-09-01T00:00:00.000Z', partitions: ['events_p2026_07', 'events_p2026_08'] });
    expect(m.chains.find((x: { chain_id: string }) => x.chain_id === 'arch')).toMatchObject({ first_seq: 1, last_seq: 42, rows: 42 });
    const v = ctx();
    expect(await run(['verify', '--file', rows, '--manifest', manifest, '--public-key', pubFile], v)).toBe(0);
    expect(boundaries[0]!.manifest_sha256).toMatch(/^[0-9a-f]{64}$/);
    // The admin row came first (it is in the current month's partition, chained like any other).
    const admin = await selectRows(db.su, "WHERE chain_id = 'admin:archive-test' AND route = 'cli.audit.archive'", []);
    expect(admin).toHaveLength(1);
    expect(JSON.parse(admin[0]!.detail!)).toMatchObject({ partitions: 'events_p2026_07,events_p2026_08', before: '2026-09-01T00:00:00.000Z' });
  });

  it('the remaining chain verifies from the signed boundary (rows left of the segment too); a chain archived whole reports its boundary', async () => {
    const r = await verifyChain('arch');
    expect(r.code, r.text).toBe(0);
    expect(r.text).toMatch(/ok chain=arch rows=40 seq=43\.\.82 .*from=archive-boundary:43/);
    const old = await verifyChain('old');
    expect(old.code, old.text).toBe(0);
    expect(old.text).toMatch(/ok chain=old rows=0 seq=-\.\.5 .*from=archive-boundary:6/);
    // Incremental runs start there too, and then from their last verified checkpoint.
    const c = ctx();
    expect(await run(['verify', '--chain', 'arch', '--public-key', pubFile], c)).toBe(0);
    const again = ctx();
    expect(await run(['verify', '--chain', 'arch', '--public-key', pubFile], again)).toBe(0);
    expect(again.lines.join('\n')).toMatch(/from=verified-checkpoint:83/);
  });

  it('every tamper case on what remains is detected and the first bad row named', async () => {
    const id = async (chain: string, seq: number): Promise<string> => (await selectRows(db.su, 'WHERE chain_id = $1 AND seq = $2', [chain, seq]))[0]!.event_id;
    // A field after the boundary.
    await tamper("UPDATE audit.events SET tenant = 'evil' WHERE chain_id = 'tam-field' AND seq = 50");
    expect((await verifyChain('tam-field')).text).toContain(`FAIL chain=tam-field seq=50 event_id=${await id('tam-field', 50)} hash_mismatch`);
    // The first row after the boundary deleted.
    await tamper("DELETE FROM audit.events WHERE chain_id = 'tam-first' AND seq = 43");
    expect((await verifyChain('tam-first')).text).toMatch(/FAIL chain=tam-first seq=44 .*rows_missing: expected seq 43, found 44/);
    // The first row re-linked to another predecessor (its own hash recomputed).
    const [first] = await selectRows(db.su, "WHERE chain_id = 'tam-prev' AND seq = 43", []);
    const forged = { ...first!, prev_hash: 'f'.repeat(64) };
    await tamper("UPDATE audit.events SET prev_hash = $1, hash = $2 WHERE chain_id = 'tam-prev' AND seq = 43", [forged.prev_hash, chainHash(forged.prev_hash, canonicalHashed(forged))]);
    expect((await verifyChain('tam-prev')).text).toMatch(/FAIL chain=tam-prev seq=43 .*prev_hash_mismatch/);
    // The archived row that stayed (in the September partition).
    await tamper("UPDATE audit.events SET decision = 'allow', reasons = '{x}' WHERE chain_id = 'tam-left' AND seq = 41");
    expect((await verifyChain('tam-left')).text).toMatch(/FAIL chain=tam-left seq=41 .*hash_mismatch/);
    // The boundary moved forward (to hide rows behind it): its signature no longer holds.
    const [r60] = await selectRows(db.su, "WHERE chain_id = 'tam-boundary' AND seq = 60", []);
    await tamper("UPDATE audit.archives SET seq = 60, hash = $1 WHERE chain_id = 'tam-boundary'", [r60!.hash]);
    expect((await verifyChain('tam-boundary')).text).toMatch(/FAIL chain=tam-boundary seq=60 .*checkpoint_bad_signature: archive boundary at seq 60/);
    // A boundary signed by another key.
    const other = loadSigner(testKeyPem().privatePem);
    const [r61] = await selectRows(db.su, "WHERE chain_id = 'tam-forged' AND seq = 61", []);
    const stmt = { chain_id: 'tam-forged', seq: 61, hash: r61!.hash, before: '2026-10-01T00:00:00.000Z' };
    await db.su.query(`INSERT INTO audit.archives (chain_id, seq, hash, before, first_seq, rows, manifest_sha256, key_id, signature)
      VALUES ($1, $2, $3, $4, 43, 19, $5, $6, $7)`, [stmt.chain_id, stmt.seq, stmt.hash, stmt.before, 'a'.repeat(64), other.keyId, other.signArchive(stmt)]);
    expect((await verifyChain('tam-forged')).text).toMatch(/FAIL chain=tam-forged seq=61 .*checkpoint_unknown_key/);
    // The boundary deleted: the chain would have to start at genesis, and its first rows are gone.
    await tamper("DELETE FROM audit.archives WHERE chain_id = 'tam-gone'");
    expect((await verifyChain('tam-gone')).text).toMatch(/FAIL chain=tam-gone seq=41 .*rows_missing: expected seq 1, found 41/);
    // Rewritten consistently from row 45 on: the next signed checkpoint disagrees.
    await tamper("UPDATE audit.events SET decision = 'allow' WHERE chain_id = 'tam-rewrite' AND seq = 45");
    let prev = (await selectRows(db.su, "WHERE chain_id = 'tam-rewrite' AND seq = 44", []))[0]!.hash;
    for (const row of await selectRows(db.su, "WHERE chain_id = 'tam-rewrite' AND seq >= 45 ORDER BY seq", [])) {
      const h = chainHash(prev, canonicalHashed(row));
      await tamper("UPDATE audit.events SET prev_hash = $1, hash = $2 WHERE chain_id = 'tam-rewrite' AND seq = $3", [prev, h, row.seq]);
      prev = h;
    }
    expect((await verifyChain('tam-rewrite')).text).toMatch(/FAIL chain=tam-rewrite seq=50 .*checkpoint_mismatch/);
    // The tail cut: a signed checkpoint names a row that is gone.
    await tamper("DELETE FROM audit.events WHERE chain_id = 'tam-tail' AND seq > 75");
    expect((await verifyChain('tam-tail')).text).toMatch(/FAIL chain=tam-tail seq=8\d .*checkpoint_beyond_head/);
    // Untouched chains still pass.
    expect((await verifyChain('arch')).code).toBe(0);
  });

  it('a partition dropped without an archive shows as missing rows', async () => {
    await db.su.query('ALTER TABLE audit.events DETACH PARTITION audit.events_p2026_09');
    await db.su.query('DROP TABLE audit.events_p2026_09');
    const r = await verifyChain('arch');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/FAIL chain=arch seq=63 .*rows_missing: expected seq 43, found 63/);
  });
});

// Incremental verification and the service's verifier loop against real PostgreSQL: a run starts
// after the last signed checkpoint it verified (marks kept in a local file, per database), reads
// only what came after, still names every tamper there, notices when its anchor row was cut or
// rewritten, and --full reads everything; one replica at a time runs the loop, which exports the
// alert's metrics, records chain status and counts months due for archive.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigner, loadVerifier } from '../../../src/audit/checkpoint.js';
import { createAuditSink } from '../../../src/audit/index.js';
import { connect, insertCheckpoint, readChainStatus, selectRows } from '../../../src/audit/pg.js';
import { startVerifierLoop } from '../../../src/audit/verifier.js';
import { verifyDatabase, type VerifyDbOptions } from '../../../src/audit/verify-db.js';
import { databaseKey, VerifyMarks } from '../../../src/audit/verify-state.js';
import { registry } from '../../../src/metrics.js';
import { auditCfg, event, silent, startAuditDb, testKeyPem, type AuditDb } from './helpers.js';

let db: AuditDb;
const key = testKeyPem();
const keys = [loadVerifier(key.publicPem)];
const signer = loadSigner(key.privatePem);
const dir = mkdtempSync(join(tmpdir(), 'mem0gov-verifier-'));

beforeAll(async () => {
  db = await startAuditDb();
});
afterAll(async () => {
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Appends `n` rows to `chain` and signs a checkpoint at every multiple of 10 (as a writer with CHECKPOINT_EVERY=10). */
async function grow(chain: string, n: number): Promise<void> {
  const sink = await createAuditSink(auditCfg(db, chain, { maxBatch: 50 }), silent);
  await Promise.all(Array.from({ length: n }, () => sink.append(event())));
  await sink.close();
  for (const row of await selectRows(db.su, 'WHERE chain_id = $1 AND seq % 10 = 0 ORDER BY seq', [chain])) {
    await insertCheckpoint(db.su, signer.sign(chain, row.seq, row.hash, new Date().toISOString()));
  }
}

async function verify(chain: string, o: Partial<VerifyDbOptions> = {}) {
  const c = await connect(db.writerUrl, 'verifier-test');
  try {
    return (await verifyDatabase(c, { chain, keys, ...o }))[0]!;
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

async function metric(name: string, chain?: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => chain === undefined || v.labels.chain === chain)?.value;
}

describe('incremental audit verify', () => {
  it('starts after the last signed checkpoint it verified and reads only what came after', async () => {
    const marks = VerifyMarks.memory();
    await grow('inc', 35);
    const first = await verify('inc', { marks });
    expect(first).toMatchObject({ problem: null, anchor: 'genesis', from_seq: 1, rows: 35, verified_checkpoint: { seq: 30 } });
    expect(marks.get('inc')).toMatchObject({ seq: 30 });
    await grow('inc', 20);
    const second = await verify('inc', { marks });
    expect(second).toMatchObject({ problem: null, anchor: 'checkpoint', from_seq: 31, rows: 25, first_seq: 31, last_seq: 55, verified_checkpoint: { seq: 50 } });
    const third = await verify('inc', { marks });
    expect(third).toMatchObject({ problem: null, from_seq: 51, rows: 5 });
    // --full reads everything again.
    expect(await verify('inc', { marks, full: true })).toMatchObject({ problem: null, anchor: 'genesis', rows: 55 });
  });

  it('names a tamper after its anchor; a tamper before it needs --full', async () => {
    const marks = VerifyMarks.memory();
    await grow('inc-t', 45);
    await verify('inc-t', { marks });
    expect(marks.get('inc-t')!.seq).toBe(40);
    await tamper("UPDATE audit.events SET decision = 'allow', reasons = '{x}' WHERE chain_id = 'inc-t' AND seq = 43");
    expect((await verify('inc-t', { marks })).problem).toMatchObject({ seq: 43, reason: 'hash_mismatch' });
    await tamper("UPDATE audit.events SET tenant = 'evil' WHERE chain_id = 'inc-t' AND seq = 12");
    expect((await verify('inc-t', { marks, full: true })).problem).toMatchObject({ seq: 12, reason: 'hash_mismatch' });
  });

  it('notices its anchor row rewritten or cut, and the same database key; another database gets a full run', async () => {
    const marks = VerifyMarks.memory();
    await grow('inc-a', 25);
    await grow('inc-c', 25);
    await verify('inc-a', { marks });
    await verify('inc-c', { marks });
    await tamper("UPDATE audit.events SET hash = repeat('e', 64) WHERE chain_id = 'inc-a' AND seq = 20");
    expect((await verify('inc-a', { marks })).problem).toMatchObject({ seq: 20, reason: 'checkpoint_mismatch' });
    await tamper("DELETE FROM audit.events WHERE chain_id = 'inc-c' AND seq >= 18");
    expect((await verify('inc-c', { marks })).problem).toMatchObject({ seq: 20, reason: 'rows_missing' });
    // Marks live in a file, under the database's key.
    const file = join(dir, 'marks.json');
    const c = await connect(db.writerUrl, 'key');
    const dbKey = await databaseKey(c);
    await c.end();
    expect(dbKey).toMatch(/^\d+\/\d+\/[0-9a-f-]{36}$/);
    const saved = VerifyMarks.load(file, dbKey);
    await grow('inc-f', 15);
    await verify('inc-f', { marks: saved });
    saved.save();
    expect(VerifyMarks.load(file, dbKey).get('inc-f')).toMatchObject({ seq: 10 });
    expect(VerifyMarks.load(file, 'another/database/key').get('inc-f')).toBeUndefined();
    // Without a public key there is no signed checkpoint to trust: every run reads the whole chain.
    expect(await verify('inc-f', { marks: saved, keys: [] })).toMatchObject({ anchor: 'genesis', rows: 15 });
  });

  it('worker threads give the same verdicts as this thread', async () => {
    await grow('inc-w', 3000);
    const inline = await verify('inc-w', { workers: 0, full: true });
    expect(inline).toMatchObject({ problem: null, rows: 3000 });
    expect(await verify('inc-w', { workers: 2, workerMinRows: 0, full: true })).toEqual(inline);
    await tamper("UPDATE audit.events SET status = 599 WHERE chain_id = 'inc-w' AND seq = 2222");
    const bad = await verify('inc-w', { workers: 0, full: true });
    expect(bad.problem).toMatchObject({ seq: 2222, reason: 'hash_mismatch' });
    expect(await verify('inc-w', { workers: 2, workerMinRows: 0, full: true })).toEqual(bad);
  });
});

describe('the service verifier loop', () => {
  it('one replica verifies at a time; metrics, chain status and due months follow what it finds', async () => {
    await grow('loop', 25);
    await db.su.query("SELECT audit.create_month_partition('2024-01-01')");
    const cfg = { ...auditCfg(db, 'loop-writer'), checkpointKeyPem: key.privatePem, retentionMonths: 1, verifyStateFile: join(dir, 'loop-marks.json') };
    const a = startVerifierLoop(cfg, silent, { intervalMs: 3_600_000, name: 'replica-a' });
    const b = startVerifierLoop(cfg, silent, { intervalMs: 3_600_000, name: 'replica-b' });
    try {
      const reports = await a.runOnce();
      expect(reports?.find((r) => r.chain_id === 'loop')).toMatchObject({ problem: null, last_seq: 25 });
      expect(await b.runOnce()).toBeNull(); // a holds the verifier lock
      expect(await metric('mem0gov_audit_chain_broken', 'loop')).toBe(0);
      expect(await metric('mem0gov_audit_chain_verified_seq', 'loop')).toBe(25);
      expect(await metric('mem0gov_audit_partitions_due')).toBeGreaterThanOrEqual(1);
      expect(await metric('mem0gov_audit_verify_last_run_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
      expect((await readChainStatus(db.su)).find((s) => s.chain_id === 'loop')).toMatchObject({ ok: true, verifier: 'replica-a', checkpoint_seq: 20 });
      // New rows, one of them tampered: the next round names it and the metrics move.
      await grow('loop', 10);
      const failures = (await metric('mem0gov_audit_chain_verify_failures_total', 'loop')) ?? 0;
      await tamper("UPDATE audit.events SET decision = 'allow', reasons = '{x}' WHERE chain_id = 'loop' AND seq = 30");
      const after = await a.runOnce();
      expect(after?.find((r) => r.chain_id === 'loop')?.problem).toMatchObject({ seq: 30, reason: 'hash_mismatch' });
      expect(await metric('mem0gov_audit_chain_broken', 'loop')).toBe(1);
      expect(await metric('mem0gov_audit_chain_verify_failures_total', 'loop')).toBe(failures + 1);
      expect((await readChainStatus(db.su)).find((s) => s.chain_id === 'loop')).toMatchObject({ ok: false, problem: { seq: 30, reason: 'hash_mismatch' } });
      // It stays broken on the next rounds (the alert keeps firing), and another replica takes over when a stops.
      await a.stop();
      expect((await b.runOnce())?.find((r) => r.chain_id === 'loop')?.problem).toMatchObject({ seq: 30 });
      expect(await metric('mem0gov_audit_chain_verify_failures_total', 'loop')).toBe(failures + 2);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

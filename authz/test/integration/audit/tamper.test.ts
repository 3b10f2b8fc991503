// verify against an attacker with superuser rights (triggers disabled): every kind of tampering is
// detected and the first bad row is named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadVerifier, loadSigner } from '../../../src/audit/checkpoint.js';
import { createAuditSink } from '../../../src/audit/index.js';
import { connect } from '../../../src/audit/pg.js';
import { canonicalHashed, chainHash, GENESIS_HASH } from '../../../src/audit/row.js';
import { verifyDatabase } from '../../../src/audit/verify-db.js';
import { auditCfg, event, silent, startAuditDb, testKeyPem, type AuditDb } from './helpers.js';

let db: AuditDb;
const key = testKeyPem();
const ROWS = 60;

beforeAll(async () => { db = await startAuditDb(); });
afterAll(async () => { await db?.stop(); });

async function makeChain(id: string): Promise<void> {
  const sink = await createAuditSink(auditCfg(db, id, { checkpointKeyPem: key.privatePem, checkpointEvery: 20, maxBatch: 10 }), silent);
  for (let i = 0; i < ROWS / 10; i++) await Promise.all(Array.from({ length: 10 }, () => sink.append(event())));
  await sink.close();
}

/** Runs SQL as the attacker: superuser with the append-only triggers bypassed. */
async function tamper(sql: string, params: unknown[] = []): Promise<void> {
  await db.su.query('SET session_replication_role = replica');
  try {
    await db.su.query(sql, params);
  } finally {
    await db.su.query('SET session_replication_role = DEFAULT');
  }
}

async function verify(chain: string, keys = [loadVerifier(key.publicPem)]) {
  const c = await connect(db.writerUrl, 'verify');
  try {
    return (await verifyDatabase(c, { chain, keys }))[0]!;
  } finally {
    await c.end();
  }
}

async function eventIdAt(chain: string, seq: number): Promise<string> {
  return (await db.su.query('SELECT event_id FROM audit.events WHERE chain_id = $1 AND seq = $2', [chain, seq])).rows[0].event_id;
}

describe('audit verify detects tampering', () => {
  it('an untouched chain verifies, with its signed checkpoints', async () => {
    await makeChain('clean');
    const rep = await verify('clean');
    expect(rep.problem).toBeNull();
    expect(rep.rows).toBe(ROWS);
    expect(rep.checkpoints_verified).toBeGreaterThanOrEqual(3);
  });

  it('a modified field', async () => {
    await makeChain('modified');
    const id = await eventIdAt('modified', 17);
    await tamper("UPDATE audit.events SET decision = 'allow', reasons = '{policy_allow}' WHERE chain_id = 'modified' AND seq = 17");
    const rep = await verify('modified');
    expect(rep.problem).toMatchObject({ chain_id: 'modified', seq: 17, event_id: id, reason: 'hash_mismatch' });
  });

  it('a modified timestamp (ms precision is part of the hash)', async () => {
    await makeChain('ts');
    await tamper("UPDATE audit.events SET ts = ts + interval '1 millisecond' WHERE chain_id = 'ts' AND seq = 5");
    expect((await verify('ts')).problem).toMatchObject({ seq: 5, reason: 'hash_mismatch' });
    // Sub-millisecond tampering is not rounded away.
    await makeChain('ts-us');
    await tamper("UPDATE audit.events SET ts = ts + interval '300 microseconds' WHERE chain_id = 'ts-us' AND seq = 6");
    expect((await verify('ts-us')).problem).toMatchObject({ seq: 6, reason: 'hash_mismatch' });
  });

  it('a deleted row', async () => {
    await makeChain('deleted');
    await tamper("DELETE FROM audit.events WHERE chain_id = 'deleted' AND seq = 33");
    const rep = await verify('deleted');
    expect(rep.problem).toMatchObject({ seq: 34, event_id: await eventIdAt('deleted', 34), reason: 'rows_missing' });
    expect(rep.problem!.detail).toContain('33..33');
  });

  it('deleted rows at the end (tail truncated) contradict a signed checkpoint', async () => {
    await makeChain('tail');
    await tamper("DELETE FROM audit.events WHERE chain_id = 'tail' AND seq > 45");
    const rep = await verify('tail');
    expect(rep.problem).toMatchObject({ chain_id: 'tail', seq: 60, reason: 'checkpoint_beyond_head' });
  });

  it('an inserted row (later rows renumbered)', async () => {
    await makeChain('inserted');
    const origAt12 = await eventIdAt('inserted', 12);
    // Make room at seq 12 and insert a well-formed row whose own hash is right.
    await tamper("UPDATE audit.events SET seq = seq + 1000 WHERE chain_id = 'inserted' AND seq >= 12");
    await tamper("UPDATE audit.events SET seq = seq - 999 WHERE chain_id = 'inserted' AND seq >= 1012");
    const prev = (await db.su.query("SELECT hash FROM audit.events WHERE chain_id = 'inserted' AND seq = 11")).rows[0].hash as string;
    // Inserted with the 27 format-1 columns (row_format NULL): a format-1 row, new columns NULL.
    const forged = { chain_id: 'inserted', seq: 12, ...event({ decision: 'allow' }), row_format: 1, kind: null, ref_event_id: null, detail: null };
    const h = chainHash(prev, canonicalHashed(forged));
    await tamper(
      `INSERT INTO audit.events (chain_id, seq, event_id, ts, decision, reasons, actor_sub, roles, tenant, agent, session, action, route, method, path,
        entity_ids, memory_id, source_ip, request_id, policy_revision, break_glass, phi, latency_ms, body_digest, status, prev_hash, hash)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27)`,
      [forged.chain_id, forged.seq, forged.event_id, forged.ts, forged.decision, forged.reasons, forged.actor_sub, forged.roles, forged.tenant,
        forged.agent, forged.session, forged.action, forged.route, forged.method, forged.path, forged.entity_ids, forged.memory_id,
        forged.source_ip, forged.request_id, forged.policy_revision, forged.break_glass, forged.phi, forged.latency_ms, forged.body_digest,
        forged.status, prev, h]);
    const rep = await verify('inserted');
    // The forged row links correctly; the first row that no longer fits is the original seq-12 row, now at 13.
    expect(rep.problem).toMatchObject({ seq: 13, event_id: origAt12 });
    expect(['prev_hash_mismatch', 'hash_mismatch']).toContain(rep.problem!.reason);
  });

  it('reordered rows', async () => {
    await makeChain('reordered');
    const at8 = await eventIdAt('reordered', 8);
    await tamper("UPDATE audit.events SET seq = 100008 WHERE chain_id = 'reordered' AND seq = 8");
    await tamper("UPDATE audit.events SET seq = 8 WHERE chain_id = 'reordered' AND seq = 9");
    await tamper("UPDATE audit.events SET seq = 9 WHERE chain_id = 'reordered' AND seq = 100008");
    const rep = await verify('reordered');
    expect(rep.problem).toMatchObject({ seq: 8, reason: 'prev_hash_mismatch' });
    expect(rep.problem!.event_id).not.toBe(at8);
  });

  it('a chain rewritten consistently from row 30 on contradicts the signed checkpoint', async () => {
    await makeChain('rewritten');
    await tamper("UPDATE audit.events SET decision = 'allow' WHERE chain_id = 'rewritten' AND seq = 30");
    // The attacker recomputes every hash from seq 30 so that all links are consistent again.
    const rows = (await db.su.query("SELECT * FROM audit.events WHERE chain_id = 'rewritten' ORDER BY seq")).rows as Record<string, unknown>[];
    let prev = GENESIS_HASH;
    for (const r of rows) {
      const hashed = {
        chain_id: r.chain_id, seq: Number(r.seq), event_id: r.event_id, ts: (r.ts as Date).toISOString(), decision: r.decision,
        reasons: r.reasons, actor_sub: r.actor_sub, roles: r.roles, tenant: r.tenant, agent: r.agent, session: r.session,
        action: r.action, route: r.route, method: r.method, path: r.path, entity_ids: r.entity_ids, memory_id: r.memory_id,
        source_ip: r.source_ip, request_id: r.request_id, policy_revision: r.policy_revision, break_glass: r.break_glass,
        phi: r.phi, latency_ms: r.latency_ms, body_digest: r.body_digest, status: r.status,
        row_format: r.row_format, kind: r.kind, ref_event_id: r.ref_event_id, detail: r.detail,
      } as Parameters<typeof canonicalHashed>[0];
      const h = chainHash(prev, canonicalHashed(hashed));
      await tamper('UPDATE audit.events SET prev_hash = $1, hash = $2 WHERE chain_id = $3 AND seq = $4', [prev, h, 'rewritten', r.seq]);
      prev = h;
    }
    const rep = await verify('rewritten');
    expect(rep.problem).toMatchObject({ chain_id: 'rewritten', seq: 40, event_id: await eventIdAt('rewritten', 40), reason: 'checkpoint_mismatch' });
    // Without checkpoints the rewrite would pass: the signature is what catches it.
    await tamper("DELETE FROM audit.checkpoints WHERE chain_id = 'rewritten'");
    expect((await verify('rewritten')).problem).toBeNull();
  });

  it('a forged checkpoint (signed by another key) or a bad signature', async () => {
    await makeChain('forgedcp');
    const other = loadSigner(testKeyPem().privatePem);
    const head = (await db.su.query("SELECT seq, hash FROM audit.events WHERE chain_id = 'forgedcp' AND seq = 50")).rows[0];
    const cp = other.sign('forgedcp', 50, head.hash, new Date().toISOString());
    await tamper('INSERT INTO audit.checkpoints (chain_id, seq, hash, signature, key_id) VALUES ($1,$2,$3,$4,$5)', [cp.chain_id, cp.seq, cp.hash, cp.signature, cp.key_id]);
    expect((await verify('forgedcp')).problem).toMatchObject({ seq: 50, reason: 'checkpoint_unknown_key' });
    await tamper("DELETE FROM audit.checkpoints WHERE chain_id = 'forgedcp' AND key_id = $1", [other.keyId]);
    await tamper("UPDATE audit.checkpoints SET signature = $1 WHERE chain_id = 'forgedcp' AND seq = 40", [cp.signature]);
    expect((await verify('forgedcp')).problem).toMatchObject({ seq: 40, reason: 'checkpoint_bad_signature' });
  });
});

// Audit chain benchmark: starts its own PostgreSQL, prints sustained chained rows/s through the
// real sink (group commit, advisory lock, hashing), the same rows as plain batched INSERTs into an
// identical table without chaining (ratio measured in the same run), and verify rows/s.
// Goals: ≥ 20,000 rows/s, ratio ≥ 0.7, verify ≥ 200,000 rows/s.   Run: npx tsx bench/audit/run.ts [rows]
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { startPostgres } from '../../testing/postgres.js';
import { createAuditSink } from '../../authz/src/audit/index.js';
import { migrate } from '../../authz/src/audit/migrate.js';
import { connect, insertRows, readChain } from '../../authz/src/audit/pg.js';
import { GENESIS_HASH, seal, type AuditRow } from '../../authz/src/audit/row.js';
import { verifyDatabase } from '../../authz/src/audit/verify-db.js';
import { ChainVerifier } from '../../authz/src/audit/verify.js';
import type { AuditEvent } from '../../authz/src/types.js';

const N = Number(process.argv[2] ?? 200_000);
const CONCURRENCY = 10000; // in-flight decisions (closed loop), as many concurrent Envoy checks would be
const MAX_BATCH = 5000;

function makeEvent(i: number): AuditEvent {
  return {
    event_id: randomUUID(), ts: new Date(Date.now() + i).toISOString(), decision: i % 10 === 0 ? 'deny' : 'allow',
    reasons: ['policy_allow'], actor_sub: `user-${i % 500}`, roles: ['agent-writer'], tenant: `tenant-${i % 20}`, agent: 'agent-1',
    session: `s-${i % 1000}`, action: 'write', route: 'memories.create', method: 'POST', path: '/memories',
    entity_ids: [`tenant-${i % 20}:user-${i % 500}`], memory_id: null, source_ip: '10.1.2.3', request_id: randomUUID(),
    policy_revision: 'f'.repeat(64), break_glass: false, phi: false, latency_ms: (i % 1000) / 100, body_digest: 'a'.repeat(64), status: 200,
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const h = await startPostgres();
  try {
    const boot = new pg.Client(h.adminUrl);
    await boot.connect();
    await boot.query('CREATE DATABASE mem0gov');
    await boot.end();
    const ownerUrl = `postgres://postgres@127.0.0.1:${h.port}/mem0gov`;
    const writerUrl = `postgres://mem0gov_writer@127.0.0.1:${h.port}/mem0gov`;
    await migrate(ownerUrl);
    const su = await connect(ownerUrl, 'bench');
    // Baseline table: same columns, constraints and indexes, no triggers, no chain.
    await su.query('CREATE TABLE audit.plain (LIKE audit.events INCLUDING ALL)');
    await su.query('GRANT INSERT, SELECT ON audit.plain TO mem0gov_writer');

    const events = Array.from({ length: N }, (_, i) => makeEvent(i));
    // Warm-up (JIT, connections, plan cache) on both paths.
    const warm = await createAuditSink({
      pgUrl: writerUrl, chainId: 'warmup', spoolDir: mkdtempSync(join(tmpdir(), 'bench-spool-')), spool: true, batchMs: 5,
      maxBatch: MAX_BATCH, checkpointEvery: 1000, checkpointSeconds: 60, migrate: false, reconnectMs: 500,
    }, pino({ level: 'silent' }));
    await Promise.all(Array.from({ length: 5000 }, (_, i) => warm.append(makeEvent(i))));
    await warm.close();

    // 1. Chained: the real sink, closed loop of CONCURRENCY in-flight appends.
    const sink = await createAuditSink({
      pgUrl: writerUrl, chainId: 'bench', spoolDir: mkdtempSync(join(tmpdir(), 'bench-spool-')), spool: true, batchMs: 5,
      maxBatch: MAX_BATCH, checkpointEvery: 10_000, checkpointSeconds: 60, migrate: false, reconnectMs: 500,
    }, pino({ level: 'silent' }));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) await sink.append(events[next++]!);
    }));
    const chainedS = (performance.now() - t0) / 1000;
    await sink.close();

    // 2. Plain: the same rows (already sealed, so no hashing is timed), same batch size, one connection.
    let head = { seq: 0, hash: GENESIS_HASH };
    const rows: AuditRow[] = events.map((e) => {
      const r = seal('plain', head, { ...e, event_id: randomUUID() });
      head = { seq: r.seq, hash: r.hash };
      return r;
    });
    const w = await connect(writerUrl, 'bench-plain');
    const t1 = performance.now();
    for (let i = 0; i < rows.length; i += MAX_BATCH) await insertRows(w, rows.slice(i, i + MAX_BATCH), 'audit.plain');
    const plainS = (performance.now() - t1) / 1000;

    // 3. Verify from PostgreSQL (read + parse + canonicalize + hash + link checks), and hashing alone.
    const t2 = performance.now();
    const reader = await connect(writerUrl, 'bench-verify-2');
    const [rep] = await verifyDatabase(w, { chain: 'bench', keys: [], readers: [reader] });
    const verifyS = (performance.now() - t2) / 1000;
    const mem: AuditRow[] = [];
    for await (const page of readChain(w, 'bench')) for (const r of page) mem.push(r);
    const t3 = performance.now();
    const v = new ChainVerifier('bench');
    for (const r of mem) v.push(r);
    const memS = (performance.now() - t3) / 1000;
    await w.end();
    await reader.end();
    await su.end();

    if (rep?.problem !== null || rep.rows !== N) throw new Error(`bench chain did not verify: ${JSON.stringify(rep)}`);
    const chained = N / chainedS;
    const plain = N / plainS;
    console.log(`audit bench: ${fmt(N)} rows, batch ≤ ${MAX_BATCH}, ${CONCURRENCY} in flight, synchronous_commit=on (fsync=off in this throwaway cluster)`);
    console.log(`chained (sink: seal+hash+group commit)  ${fmt(chained)} rows/s   (goal ≥ 20,000)`);
    console.log(`plain batched INSERT, same rows         ${fmt(plain)} rows/s`);
    console.log(`ratio chained/plain                     ${(chained / plain).toFixed(2)}   (goal ≥ 0.70)`);
    console.log(`verify from PostgreSQL                  ${fmt(N / verifyS)} rows/s   (goal ≥ 200,000)`);
    console.log(`verify in memory (hash + links only)    ${fmt(N / memS)} rows/s`);
  } finally {
    await h.stop();
  }
}

await main();

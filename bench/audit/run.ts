// Audit chain benchmark: starts its own PostgreSQL, prints sustained chained rows/s through the
// real sink (group commit, advisory lock, hashing, the partitioned table with its cross-partition
// uniqueness trigger), the same rows written plainly into a table with the same columns and keys
// but no chain and no partitions — batched COPY (the comparator: same rows, same client-side
// encoding), a bare pre-encoded COPY ceiling and batched INSERT — the ratios (all in the same
// run); then a full verify of the chain in a fresh process (as `audit verify --full` runs it,
// worker threads included; and on one thread only, for information), and the time of an
// incremental verify (`audit verify`, from the last signed checkpoint it verified) after 10,000
// more rows. Each figure next to its goal.
// Goals: ≥ 20,000 rows/s, ratio ≥ 0.7, full verify ≥ 100,000 rows/s.   Run: npx tsx bench/audit/run.ts [rows]
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { startPostgres } from '../../testing/postgres.js';
import { createAuditSink } from '../../authz/src/audit/index.js';
import { migrate } from '../../authz/src/audit/migrate.js';
import { encodeCopyRows } from '../../authz/src/audit/copy-text.js';
import { connect, copyEncodedRows, insertRows } from '../../authz/src/audit/pg.js';
import { GENESIS_HASH, seal, type AuditRow } from '../../authz/src/audit/row.js';
import type { AuditEvent } from '../../authz/src/types.js';

const N = Number(process.argv[2] ?? 1_000_000);
/** Rows appended after the full verify, then verified incrementally. */
const NEW_ROWS = 10_000;
const CONCURRENCY = 10000; // in-flight decisions (closed loop), as many concurrent Envoy checks would be
const MAX_BATCH = 5000;

function makeEvent(i: number): AuditEvent {
  return {
    event_id: randomUUID(), ts: new Date(Date.now() + i).toISOString(), decision: i % 10 === 0 ? 'deny' : 'allow',
    reasons: ['policy_allow'], actor_sub: `user-${i % 500}`, roles: ['agent-writer'], tenant: `tenant-${i % 20}`, agent: 'agent-1',
    session: `s-${i % 1000}`, action: 'write', route: 'memories.create', method: 'POST', path: '/memories',
    entity_ids: [`tenant-${i % 20}:user-${i % 500}`], memory_id: null, source_ip: '10.1.2.3', request_id: randomUUID(),
    policy_revision: 'f'.repeat(64), break_glass: false, phi: false, latency_ms: (i % 1000) / 100, body_digest: 'a'.repeat(64), status: 200,
    kind: 'decision', ref_event_id: null, detail: null,
  };
}

interface VerifyRun { rows: number; from_seq: number | null; seconds: number; problem: unknown; cpuSeconds: number; pgCpuSeconds: number | null }

/** One verification in a fresh process (verify-once.ts), as the CLI would run it. */
function verifyOnce(url: string, mode: 'full' | 'inline' | 'incremental', pubFile: string, marksFile: string): VerifyRun {
  const script = fileURLToPath(new URL('./verify-once.ts', import.meta.url));
  const out = execFileSync(process.execPath, [...process.execArgv, script, url, 'bench', mode, pubFile, marksFile], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as VerifyRun;
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
    // Baseline tables: same columns, constraints and indexes as a partition (its keys included),
    // no triggers, no partitions, no chain.
    for (const t of ['plain_copy', 'plain_bare', 'plain_insert']) {
      await su.query(`CREATE TABLE audit.${t} (LIKE audit.events INCLUDING ALL)`);
      await su.query(`ALTER TABLE audit.${t} ADD PRIMARY KEY (chain_id, seq)`);
      await su.query(`CREATE UNIQUE INDEX ON audit.${t} (event_id)`);
      await su.query(`GRANT INSERT, SELECT ON audit.${t} TO mem0gov_writer`);
    }

    // Signed checkpoints, as a deployment has them: incremental verify starts from the last one it verified.
    const work = mkdtempSync(join(tmpdir(), 'bench-audit-'));
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const checkpointKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pubFile = join(work, 'checkpoint.pub.pem');
    writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const marksFile = join(work, 'verify-marks.json');
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
      maxBatch: MAX_BATCH, checkpointEvery: 10_000, checkpointSeconds: 60, migrate: false, reconnectMs: 500, checkpointKeyPem,
    }, pino({ level: 'silent' }));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) await sink.append(events[next++]!);
    }));
    const chainedS = (performance.now() - t0) / 1000;
    await sink.close();

    // 2. Plain baselines: the same rows (already sealed, so no hashing is timed, each with a fresh
    // event_id), same batch size, one connection, into identical tables without chaining.
    let head = { seq: 0, hash: GENESIS_HASH };
    const rows: AuditRow[] = events.map((e) => {
      const r = seal('plain', head, { ...e, event_id: randomUUID() });
      head = { seq: r.seq, hash: r.hash };
      return r;
    });
    const w = await connect(writerUrl, 'bench-plain');
    const batches = Array.from({ length: Math.ceil(N / MAX_BATCH) }, (_, i) => rows.slice(i * MAX_BATCH, (i + 1) * MAX_BATCH));
    // 2a. COPY, encoding timed (what a plain writer does per batch).
    const t1 = performance.now();
    for (const b of batches) await copyEncodedRows(w, encodeCopyRows(b), 'audit.plain_copy');
    const plainCopy = N / ((performance.now() - t1) / 1000);
    // 2b. Bare COPY ceiling: payloads encoded before the clock starts (only PostgreSQL + socket timed).
    const payloads = batches.map((b) => encodeCopyRows(b.map((r) => ({ ...r, event_id: randomUUID() }))));
    const t2 = performance.now();
    for (const pl of payloads) await copyEncodedRows(w, pl, 'audit.plain_bare');
    const bareCopy = N / ((performance.now() - t2) / 1000);
    // 2c. The previous writer's statement: INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING.
    const t3 = performance.now();
    for (const b of batches) await insertRows(w, b.map((r) => ({ ...r, event_id: randomUUID() })), 'audit.plain_insert');
    const plainInsert = N / ((performance.now() - t3) / 1000);

    await w.end();
    await su.end();

    // 3. Verify from PostgreSQL, each run in a fresh process as `mem0-gov audit verify` runs
    // (this process holds every row of the runs above in memory, which would make its garbage
    // collector, not the verifier, the figure), after VACUUM ANALYZE (what autovacuum leaves).
    const owner = await connect(ownerUrl, 'bench-vacuum');
    await owner.query('VACUUM ANALYZE audit.events');
    await owner.end();
    const full = verifyOnce(writerUrl, 'full', pubFile, marksFile);
    const inline = verifyOnce(writerUrl, 'inline', pubFile, marksFile);
    // 4. 10,000 more rows (the sink signs a checkpoint when it closes), then a routine run.
    const more = await createAuditSink({
      pgUrl: writerUrl, chainId: 'bench', spoolDir: mkdtempSync(join(tmpdir(), 'bench-spool-')), spool: true, batchMs: 5,
      maxBatch: MAX_BATCH, checkpointEvery: 10_000, checkpointSeconds: 60, migrate: false, reconnectMs: 500, checkpointKeyPem,
    }, pino({ level: 'silent' }));
    await Promise.all(Array.from({ length: NEW_ROWS }, (_, i) => more.append(makeEvent(N + i))));
    await more.close();
    const incremental = verifyOnce(writerUrl, 'incremental', pubFile, marksFile);

    for (const r of [full, inline]) if (r.problem !== null || r.rows !== N) throw new Error(`bench chain did not verify: ${JSON.stringify(r)}`);
    if (incremental.problem !== null) throw new Error(`incremental verify failed: ${JSON.stringify(incremental)}`);
    const chained = N / chainedS;
    const verify = N / full.seconds;
    const mark = (ok: boolean): string => (ok ? 'MET' : 'MISSED');
    const row = (label: string, v: string, goal = ''): void => console.log(`${label.padEnd(58)} ${v.padStart(9)}   ${goal}`);
    console.log(`audit bench: ${fmt(N)} rows, batch ≤ ${MAX_BATCH}, ${CONCURRENCY} in flight, synchronous_commit=on (fsync=off in this throwaway cluster)`);
    console.log(`machine: ${availableParallelism()} cores, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine lowers every figure)`);
    row('chained rows/s (sink: seal + hash + COPY group commit)', fmt(chained), `goal ≥ 20,000    ${mark(chained >= 20_000)}`);
    row('plain rows/s: batched COPY, same rows, encoding timed', fmt(plainCopy), '(the comparator)');
    row('plain rows/s: bare COPY of pre-encoded rows (ceiling)', fmt(bareCopy));
    row('plain rows/s: batched INSERT … unnest', fmt(plainInsert));
    row('ratio chained / plain batched COPY', (chained / plainCopy).toFixed(2), `goal ≥ 0.70     ${mark(chained / plainCopy >= 0.7)}`);
    row('ratio chained / bare COPY ceiling (stricter, for info)', (chained / bareCopy).toFixed(2));
    row('full verify rows/s (fresh process, worker threads)', fmt(verify), `goal ≥ 100,000  ${mark(verify >= 100_000)}`);
    row('full verify rows/s, one thread only (for info)', fmt(N / inline.seconds));
    row(`incremental verify: ${fmt(incremental.rows)} new rows after seq ${fmt((incremental.from_seq ?? 1) - 1)}, seconds`, incremental.seconds.toFixed(3));
    // Where the CPU goes (PostgreSQL shares these cores here; on its own host only the first counts).
    const us = (s: number | null, n = N): string => (s === null ? 'n/a' : `${((s * 1e6) / n).toFixed(1)} µs`);
    console.log(`CPU per row, full verify: verifier ${us(full.cpuSeconds)} (main thread + workers), PostgreSQL backend ${us(full.pgCpuSeconds)}`);
  } finally {
    await h.stop();
  }
}

await main();

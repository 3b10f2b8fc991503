import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startPostgres } from '../../testing/postgres.js';
import { migrate } from '../../authz/src/audit/migrate.js';
import { connect, copyEncodedRows, copyChainText } from '../../authz/src/audit/pg.js';
import { encodeCopyRows } from '../../authz/src/audit/copy-text.js';
import { GENESIS_HASH, seal, type AuditRow } from '../../authz/src/audit/row.js';
const N = 200_000;
function makeEvent(i: number) {
  return {
    event_id: randomUUID(), ts: new Date(Date.now() + i).toISOString(), decision: i % 10 === 0 ? 'deny' : 'allow',
    reasons: ['policy_allow'], actor_sub: `user-${i % 500}`, roles: ['agent-writer'], tenant: `tenant-${i % 20}`, agent: 'agent-1',
    session: `s-${i % 1000}`, action: 'write', route: 'memories.create', method: 'POST', path: '/memories',
    entity_ids: [`tenant-${i % 20}:user-${i % 500}`], memory_id: null, source_ip: '10.1.2.3', request_id: randomUUID(),
    policy_revision: 'f'.repeat(64), break_glass: false, phi: false, latency_ms: (i % 1000) / 100, body_digest: 'a'.repeat(64), status: 200,
  } as const;
}
const h = await startPostgres();
try {
  const boot = new pg.Client(h.adminUrl); await boot.connect(); await boot.query('CREATE DATABASE mem0gov'); await boot.end();
  const ownerUrl = `postgres://postgres@127.0.0.1:${h.port}/mem0gov`;
  await migrate(ownerUrl);
  const su = await connect(ownerUrl, 'x');
  let head = { seq: 0, hash: GENESIS_HASH };
  const rows: AuditRow[] = [];
  for (let i = 0; i < N; i++) { const r = seal('c', head, makeEvent(i) as never); head = { seq: r.seq, hash: r.hash }; rows.push(r); }
  for (let i = 0; i < N; i += 5000) await copyEncodedRows(su, encodeCopyRows(rows.slice(i, i + 5000)));
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    let bytes = 0;
    for await (const c of copyChainText(su, 'c', N)) bytes += c.length;
    console.log('copy out only', Math.round(N / ((performance.now() - t) / 1000)), bytes);
  }
  await su.end();
} finally { await h.stop(); }

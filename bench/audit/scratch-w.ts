import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createAuditSink } from '../../authz/src/audit/index.js';
import type { AuditEvent } from '../../authz/src/types.js';
const url = readFileSync('/tmp/scr/pgurl', 'utf8');
const N = 100_000;
function makeEvent(i: number): AuditEvent {
  return {
    event_id: randomUUID(), ts: new Date(Date.now() + i).toISOString(), decision: i % 10 === 0 ? 'deny' : 'allow',
    reasons: ['policy_allow'], actor_sub: `user-${i % 500}`, roles: ['agent-writer'], tenant: `tenant-${i % 20}`, agent: 'agent-1',
    session: `s-${i % 1000}`, action: 'write', route: 'memories.create', method: 'POST', path: '/memories',
    entity_ids: [`tenant-${i % 20}:user-${i % 500}`], memory_id: null, source_ip: '10.1.2.3', request_id: randomUUID(),
    policy_revision: 'f'.repeat(64), break_glass: false, phi: false, latency_ms: (i % 1000) / 100, body_digest: 'a'.repeat(64), status: 200,
  };
}
const events = Array.from({ length: N }, (_, i) => makeEvent(i));
const sink = await createAuditSink({
  pgUrl: url, chainId: 'w-' + randomUUID(), spoolDir: mkdtempSync(join(tmpdir(), 'bench-spool-')), spool: true, batchMs: 5,
  maxBatch: Number(process.env.MB ?? 5000), checkpointEvery: 10_000, checkpointSeconds: 60, migrate: false, reconnectMs: 500,
}, pino({ level: 'silent' }));
let next = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: Number(process.env.CC ?? 10000) }, async () => { while (next < N) await sink.append(events[next++]!); }));
console.log('chained', Math.round(N / ((performance.now() - t0) / 1000)));
await sink.close();

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
const url = readFileSync('/tmp/scr/pgurl', 'utf8');
const c = new pg.Client(url); await c.connect();
const cols = 'chain_id, seq, event_id, ts, decision, reasons, actor_sub, roles, tenant, agent, session, action, route, method, path, entity_ids, memory_id, source_ip, request_id, policy_revision, break_glass, phi, latency_ms, body_digest, status, prev_hash, hash';
const q = `COPY (SELECT ${cols} FROM audit.events WHERE chain_id='c' ORDER BY seq) TO STDOUT`;
for (const hwm of [16384, 1 << 20, 4 << 20]) {
  for (let k = 0; k < 2; k++) {
    const t = performance.now();
    let bytes = 0, chunks = 0;
    const s = c.query(copyTo(q, { highWaterMark: hwm }));
    for await (const ch of s) { bytes += (ch as Buffer).length; chunks++; }
    console.log('for-await hwm', hwm, Math.round(200000 / ((performance.now() - t) / 1000)), chunks);
  }
  const t = performance.now();
  let chunks = 0;
  const s = c.query(copyTo(q, { highWaterMark: hwm }));
  await new Promise<void>((res, rej) => { s.on('data', () => { chunks++; }); s.on('end', res); s.on('error', rej); });
  console.log('data hwm', hwm, Math.round(200000 / ((performance.now() - t) / 1000)), chunks);
}
await c.end();

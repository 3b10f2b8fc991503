import { readFileSync } from 'node:fs';
import pg from 'pg';
import { verifyDatabase } from '../../authz/src/audit/verify-db.js';
const url = readFileSync('/tmp/scr/pgurl', 'utf8');
const c = new pg.Client(url); await c.connect();
for (const w of [undefined, 1, 2, 3, 0]) {
  const t = performance.now();
  const [rep] = await verifyDatabase(c, { chain: 'c', keys: [], ...(w === undefined ? {} : { workers: w }) });
  console.log('workers', w, Math.round(200000 / ((performance.now() - t) / 1000)), rep!.rows, rep!.problem?.reason);
}
await c.end();

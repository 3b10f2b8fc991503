import { readFileSync } from 'node:fs';
import pg from 'pg';
import { copyChainText } from '../../authz/src/audit/pg.js';
import { lineBlocks } from '../../authz/src/audit/verify-fast.js';
import { verifyBlock } from '../../authz/src/audit/verify-block.js';
const url = readFileSync('/tmp/scr/pgurl', 'utf8');
const c = new pg.Client(url); await c.connect();
let t = performance.now();
const blocks: Uint8Array[] = [];
for await (const b of lineBlocks(copyChainText(c, 'c', 200000))) blocks.push(b);
console.log('read+cut', Math.round(200000 / ((performance.now() - t) / 1000)), blocks.length);
const dec = new TextDecoder();
for (let k = 0; k < 3; k++) {
  t = performance.now();
  const texts = blocks;
  const t1 = performance.now();
  let rows = 0;
  for (const s of texts) { const r = verifyBlock(s, 'c', new Map()); if (!r.ok) throw new Error('bad'); rows += r.rows; }
  console.log('decode', Math.round(t1 - t), 'ms verifyBlock', Math.round(200000 / ((performance.now() - t1) / 1000)), rows);
}
await c.end();

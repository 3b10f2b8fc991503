// feed() cuts a COPY stream into blocks of whole lines whatever the chunks the socket gives (one
// byte, many lines, a line longer than a block), judges them on this thread or in worker threads,
// and stitches them in order: the report is the row-by-row verifier's.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCopyLine, encodeCopyRows } from '../../../src/audit/copy-text.js';
import { jcs } from '../../../src/audit/jcs.js';
import { GENESIS_HASH, seal, type AuditRow } from '../../../src/audit/row.js';
import { ChainVerifier, type ChainReport } from '../../../src/audit/verify.js';
import { feed, startWorkers } from '../../../src/audit/verify-db.js';
import type { AuditEvent } from '../../../src/types.js';

function ev(i: number, detail: string | null): AuditEvent {
  return {
    event_id: randomUUID(), ts: new Date(1_790_000_000_000 + i * 7).toISOString(), decision: 'allow', reasons: ['allowed'], actor_sub: `u-${i}`,
    roles: ['r'], tenant: 'acme', agent: null, session: null, action: 'read', route: 'memories.get', method: 'GET', path: `/memories/${i}`,
    entity_ids: [], memory_id: null, source_ip: null, request_id: 'r', policy_revision: null, break_glass: false, phi: false,
    latency_ms: i / 3, body_digest: null, status: 200, kind: 'decision', ref_event_id: null, detail,
  };
}

/** COPY text of a chain; rows `big` carry a detail longer than any block. */
function copyText(n: number, big: ReadonlySet<number> = new Set()): string {
  let head = { seq: 0, hash: GENESIS_HASH };
  const rows: AuditRow[] = [];
  for (let i = 0; i < n; i++) {
    const r = seal('c', head, ev(i, big.has(i + 1) ? jcs({ blob: 'x'.repeat(300_000) }) : null));
    head = { seq: r.seq, hash: r.hash };
    rows.push(r);
  }
  return encodeCopyRows(rows).split('\n').filter((l) => l !== '').map((l) => {
    const f = l.split('\t');
    f[3] = String(Date.parse(f[3]!)); // ts as ROW_SELECT_SQL prints it
    return f.join('\t');
  }).join('\n') + '\n';
}

/** The bytes in chunks of the given sizes, cycled. */
function chunked(text: string, sizes: number[]): Readable {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return Readable.from(out);
}

function reference(text: string): ChainReport {
  const v = new ChainVerifier('c');
  for (const l of text.split('\n')) if (l !== '' && !v.push(decodeCopyLine(l)!)) break;
  return v.finish();
}

const pool = startWorkers(2);
afterAll(() => pool.destroy());

describe('feed', () => {
  const clean = copyText(3000, new Set([5, 1700]));
  const lines = clean.split('\n');
  lines[2500] = lines[2500]!.replace('\tacme\t', '\tevil\t');
  const tampered = lines.join('\n');

  for (const [name, sizes] of [['one byte, then socket-sized', [1, 65_536]], ['odd sizes', [7, 100_003, 333]], ['one chunk', [1 << 30]]] as const) {
    it(`${name}: this thread, yielding blocks, worker threads`, async () => {
      for (const text of [clean, tampered]) {
        const want = reference(text);
        expect(want.problem === null).toBe(text === clean);
        for (const [p, yielding] of [[null, false], [null, true], [pool, false]] as const) {
          const v = new ChainVerifier('c');
          await feed(chunked(text, [...sizes]), v, p, yielding);
          expect(v.finish()).toEqual(want);
        }
      }
    }, 60_000);
  }
});

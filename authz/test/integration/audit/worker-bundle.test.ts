// The verify pool starts its workers from the prebuilt JS bundle (build-worker.ts) when it is
// fresh, and falls back to the TypeScript entry through tsx when it is missing or stale — in
// both cases the workers verify blocks exactly as the inline path does.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkerBundle, freshWorkerBundle } from '../../../src/audit/build-worker.js';
import { encodeCopyRows } from '../../../src/audit/copy-text.js';
import { GENESIS_HASH, seal, type AuditRow } from '../../../src/audit/row.js';
import { VerifyPool } from '../../../src/audit/verify-pool.js';
import { event } from './helpers.js';

const CHAIN = 'bundle-test';
let dir: string;
let bundle: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'verify-bundle-'));
  bundle = await buildWorkerBundle(join(dir, 'verify-worker.mjs'));
});
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function rows(n: number): AuditRow[] {
  const out: AuditRow[] = [];
  let prev = { seq: 0, hash: GENESIS_HASH };
  for (let i = 0; i < n; i++) {
    const r = seal(CHAIN, prev, event());
    out.push(r);
    prev = r;
  }
  return out;
}

/** The block as COPY TO prints it: timestamps in PostgreSQL's output form, not the ISO one. */
const bytes = (rs: readonly AuditRow[]): Uint8Array =>
  new TextEncoder().encode(encodeCopyRows(rs).replace(/\t(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d\.\d{3})Z\t/g, '\t$1 $2+00\t'));

/** Starts a one-worker pool, verifies a good and a tampered block on the worker; returns where it started from. */
async function runPool(opts: { bundle: string | null }): Promise<string[]> {
  const pool = new VerifyPool(1, opts);
  try {
    expect(await pool.ready()).toBe(true);
    pool.startJob(CHAIN, new Map());
    const good = rows(20);
    const ok = await (await pool.submit(0, bytes(good))).summary;
    expect(ok).toMatchObject({ ok: true, rows: 20, firstSeq: 1, firstPrev: GENESIS_HASH, lastSeq: 20, lastHash: good[19]!.hash });
    const tampered = good.map((r, i) => (i === 7 ? { ...r, tenant: 'evil' } : r));
    expect((await (await pool.submit(1, bytes(tampered))).summary).ok).toBe(false);
    expect(pool.stats).toEqual({ worker: 2, inline: 0 });
    return [...pool.startedFrom];
  } finally {
    await pool.close();
  }
}

describe('verify worker bundle', () => {
  it('is used when fresh: workers run the bundle, not the TypeScript entry', async () => {
    expect(freshWorkerBundle(bundle)).toBe(bundle);
    expect(await runPool({ bundle })).toEqual([pathToFileURL(bundle).href]);
  });

  it('falls back to tsx when the bundle is missing', async () => {
    const missing = join(dir, 'nope.mjs');
    expect(freshWorkerBundle(missing)).toBeNull();
    const from = await runPool({ bundle: missing });
    expect(from).toHaveLength(1);
    expect(from[0]).toMatch(/\/authz\/src\/audit\/verify-worker\.ts/);
  });

  it('falls back to tsx when the bundle is older than its sources', async () => {
    const stale = await buildWorkerBundle(join(dir, 'stale.mjs'));
    utimesSync(stale, new Date(0), new Date(0));
    expect(freshWorkerBundle(stale)).toBeNull();
    const from = await runPool({ bundle: stale });
    expect(from[0]).toMatch(/\/authz\/src\/audit\/verify-worker\.ts/);
  });

  it('blocks submitted while the workers are still starting wait for them instead of running inline', async () => {
    const pool = new VerifyPool(1, { bundle });
    try {
      pool.startJob(CHAIN, new Map());
      const summary = await (await pool.submit(0, bytes(rows(10)))).summary; // no ready() first
      expect(summary).toMatchObject({ ok: true, rows: 10 });
      expect(pool.stats).toEqual({ worker: 1, inline: 0 });
    } finally {
      await pool.close();
    }
  });

  it('a worker that never comes up is given up after startTimeoutMs; its blocks are verified inline', async () => {
    // A "bundle" that never reports ready (fresh per its manifest, so the pool starts it).
    const hang = join(dir, 'hang.mjs');
    writeFileSync(hang, 'setInterval(() => {}, 1000);\n');
    writeFileSync(`${hang}.inputs.json`, JSON.stringify({ inputs: [hang] }));
    expect(freshWorkerBundle(hang)).toBe(hang);
    const pool = new VerifyPool(1, { bundle: hang, startTimeoutMs: 300 });
    try {
      pool.startJob(CHAIN, new Map());
      const t0 = Date.now();
      const summary = await (await pool.submit(0, bytes(rows(10)))).summary;
      expect(summary).toMatchObject({ ok: true, rows: 10 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      expect(pool.stats).toEqual({ worker: 0, inline: 1 });
      expect(await pool.ready()).toBe(false);
    } finally {
      await pool.close();
    }
  });

  it('a late reply for an abandoned job never settles the next job\'s block of the same number', async () => {
    const pool = new VerifyPool(1, { bundle });
    try {
      expect(await pool.ready()).toBe(true);
      pool.startJob(CHAIN, new Map());
      const first = rows(30);
      const abandoned = (await pool.submit(0, bytes(first))).summary; // never awaited by its job
      const other = 'bundle-test-2';
      let prev = { seq: 0, hash: GENESIS_HASH };
      const second = Array.from({ length: 5 }, () => (prev = seal(other, prev, event())));
      pool.startJob(other, new Map());
      const summary = await (await pool.submit(0, bytes(second))).summary;
      expect(summary).toMatchObject({ ok: true, rows: 5, lastHash: second[4]!.hash });
      expect((await abandoned).rows).toBe(30);
    } finally {
      await pool.close();
    }
  });
});

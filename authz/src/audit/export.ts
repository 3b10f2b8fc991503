// `audit export`: rows of a time range (optionally one tenant) plus a manifest that
// `audit verify --file … --manifest …` checks offline (audit/README.md "Export").
import { createHash } from 'node:crypto';
import { mkdirSync, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import type pg from 'pg';
import type { Checkpoint } from './checkpoint.js';
import { CSV_HEADER, rowToCsv } from './csv.js';
import { chainBounds, listChains, readChain, readCheckpoints } from './pg.js';
import { ROW_COLUMNS, type AuditRow } from './row.js';

/**
 * /2: rows carry the row-format-2 columns (row_format, kind, ref_event_id, detail). Bumped from
 * /1 because a /1 reader would hash format-2 rows with the 25 format-1 keys (and rejects the CSV
 * header): it must refuse these files, not report every format-2 row as tampered.
 */
export const MANIFEST_FORMAT = 'mem0-gov-audit-export/2';
/** Exports written before row format 2: still verified (their rows are all format 1). */
export const MANIFEST_FORMAT_1 = 'mem0-gov-audit-export/1';

export interface ManifestChain {
  chain_id: string;
  first_seq: number;
  last_seq: number;
  /** prev_hash of the first exported row: the segment's anchor. */
  first_prev_hash: string;
  head_hash: string;
  rows: number;
  /** false for a tenant-filtered export (seq gaps are expected). */
  contiguous: boolean;
  /** Signed checkpoints inside [first_seq, last_seq]. */
  checkpoints: Checkpoint[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT | typeof MANIFEST_FORMAT_1;
  created_at: string;
  range: { since: string; until: string };
  tenant: string | null;
  rows_file: string;
  rows_format: 'jsonl' | 'csv';
  rows_sha256: string;
  row_count: number;
  chains: ManifestChain[];
  /** Informational only: auditors should verify with a key obtained out of band. */
  public_key_pem: string | null;
}

export interface ExportOptions {
  since: Date;
  until: Date;
  tenant?: string;
  format: 'jsonl' | 'csv';
  outDir: string;
  publicKeyPem?: string;
  now?: Date;
}

function rowObject(row: AuditRow): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const c of ROW_COLUMNS) o[c] = row[c];
  return o;
}

export async function exportAudit(client: pg.Client, opts: ExportOptions): Promise<{ manifestPath: string; rowsPath: string; manifest: Manifest }> {
  mkdirSync(opts.outDir, { recursive: true });
  const stamp = `${opts.since.toISOString()}_${opts.until.toISOString()}`.replace(/[:.]/g, '');
  const rowsFile = `audit-${stamp}.${opts.format}`;
  const rowsPath = join(opts.outDir, rowsFile);
  const out = createWriteStream(rowsPath, { mode: 0o600 });
  const write = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  if (opts.format === 'csv') await write(CSV_HEADER + '\n');
  const chains: ManifestChain[] = [];
  let total = 0;
  for (const chainId of await listChains(client)) {
    // The seq range whose ts falls in [since, until): exported whole, so the segment is contiguous.
    const bounds = await chainBounds(client, chainId, { since: opts.since, until: opts.until });
    if (bounds === null) continue;
    let first: AuditRow | null = null;
    let last: AuditRow | null = null;
    let n = 0;
    const segment = readChain([client], chainId, { from: bounds.lo, to: bounds.hi }, { pageSize: 20_000, ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}) });
    for await (const page of segment) {
      for (const row of page) {
        first ??= row;
        last = row;
        n++;
        await write((opts.format === 'csv' ? rowToCsv(row) : JSON.stringify(rowObject(row))) + '\n');
      }
    }
    if (first === null || last === null) continue;
    const cps = (await readCheckpoints(client, chainId)).filter((c) => c.seq >= first.seq && c.seq <= last.seq);
    chains.push({
      chain_id: chainId, first_seq: first.seq, last_seq: last.seq, first_prev_hash: first.prev_hash,
      head_hash: last.hash, rows: n, contiguous: opts.tenant === undefined, checkpoints: cps,
    });
    total += n;
  }
  out.end();
  await once(out, 'finish');
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    created_at: (opts.now ?? new Date()).toISOString(),
    range: { since: opts.since.toISOString(), until: opts.until.toISOString() },
    tenant: opts.tenant ?? null,
    rows_file: rowsFile,
    rows_format: opts.format,
    rows_sha256: createHash('sha256').update(readFileSync(rowsPath)).digest('hex'),
    row_count: total,
    chains,
    public_key_pem: opts.publicKeyPem ?? null,
  };
  const manifestPath = join(opts.outDir, `audit-${stamp}.manifest.json`);
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  return { manifestPath, rowsPath, manifest };
}

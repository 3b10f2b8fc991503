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
  /** An archive (`audit archive`): the month boundary, the partitions dropped, and each chain's signed boundary. */
  archive?: {
    before: string;
    partitions: string[];
    boundaries: { chain_id: string; seq: number; hash: string; key_id: string; signature: string }[];
  };
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

/** A row as an export line's JSON object: every column, in ROW_COLUMNS order. */
export function rowObject(row: AuditRow): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const c of ROW_COLUMNS) o[c] = row[c];
  return o;
}

/** One line of a rows file (JSONL or CSV). */
export function exportLine(row: AuditRow, format: 'jsonl' | 'csv'): string {
  return (format === 'csv' ? rowToCsv(row) : JSON.stringify(rowObject(row))) + '\n';
}

/** A chain's contiguous seq range to write (rows of `tenant` only, when given). */
export interface Segment { chain_id: string; from: number; to: number }

export interface WrittenRows {
  rowsPath: string;
  rowsFile: string;
  /** Per chain with at least one row written; `checkpoints` still empty (writeManifest fills them). */
  chains: ManifestChain[];
  rows: number;
}

/**
 * Writes the rows of `segments` into `<outDir>/<baseName>.<format>`, each chain in seq order.
 * `onRow` sees every row written (archive verifies the segment as it is written).
 */
export async function writeRows(client: pg.Client, segments: readonly Segment[], o: {
  format: 'jsonl' | 'csv'; outDir: string; baseName: string; tenant?: string; onRow?: (row: AuditRow) => void;
}): Promise<WrittenRows> {
  mkdirSync(o.outDir, { recursive: true });
  const rowsFile = `${o.baseName}.${o.format}`;
  const rowsPath = join(o.outDir, rowsFile);
  const out = createWriteStream(rowsPath, { mode: 0o600 });
  const write = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  if (o.format === 'csv') await write(CSV_HEADER + '\n');
  const chains: ManifestChain[] = [];
  let total = 0;
  for (const seg of segments) {
    let first: AuditRow | null = null;
    let last: AuditRow | null = null;
    let n = 0;
    const pages = readChain([client], seg.chain_id, { from: seg.from, to: seg.to }, { pageSize: 20_000, ...(o.tenant !== undefined ? { tenant: o.tenant } : {}) });
    for await (const page of pages) {
      for (const row of page) {
        first ??= row;
        last = row;
        n++;
        o.onRow?.(row);
        await write(exportLine(row, o.format));
      }
    }
    if (first === null || last === null) continue;
    chains.push({
      chain_id: seg.chain_id, first_seq: first.seq, last_seq: last.seq, first_prev_hash: first.prev_hash,
      head_hash: last.hash, rows: n, contiguous: o.tenant === undefined, checkpoints: [],
    });
    total += n;
  }
  out.end();
  await once(out, 'finish');
  return { rowsPath, rowsFile, chains, rows: total };
}

/** Fills each chain's signed checkpoints (those inside its range) and writes `<baseName>.manifest.json`. */
export async function writeManifest(client: pg.Client, written: WrittenRows, o: {
  format: 'jsonl' | 'csv'; outDir: string; baseName: string; range: { since: string; until: string }; tenant?: string;
  publicKeyPem?: string; now?: Date; archive?: Manifest['archive'];
}): Promise<{ manifestPath: string; manifest: Manifest }> {
  for (const c of written.chains) {
    c.checkpoints = (await readCheckpoints(client, c.chain_id)).filter((cp) => cp.seq >= c.first_seq && cp.seq <= c.last_seq);
  }
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    created_at: (o.now ?? new Date()).toISOString(),
    range: o.range,
    tenant: o.tenant ?? null,
    rows_file: written.rowsFile,
    rows_format: o.format,
    rows_sha256: createHash('sha256').update(readFileSync(written.rowsPath)).digest('hex'),
    row_count: written.rows,
    chains: written.chains,
    public_key_pem: o.publicKeyPem ?? null,
    ...(o.archive !== undefined ? { archive: o.archive } : {}),
  };
  const manifestPath = join(o.outDir, `${o.baseName}.manifest.json`);
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  return { manifestPath, manifest };
}

export async function exportAudit(client: pg.Client, opts: ExportOptions): Promise<{ manifestPath: string; rowsPath: string; manifest: Manifest }> {
  const stamp = `${opts.since.toISOString()}_${opts.until.toISOString()}`.replace(/[:.]/g, '');
  const baseName = `audit-${stamp}`;
  // Per chain the seq range whose ts falls in [since, until): exported whole, so the segment is contiguous.
  const segments: Segment[] = [];
  for (const chainId of await listChains(client)) {
    const bounds = await chainBounds(client, chainId, { since: opts.since, until: opts.until });
    if (bounds !== null) segments.push({ chain_id: chainId, from: bounds.lo, to: bounds.hi });
  }
  const tenant = opts.tenant !== undefined ? { tenant: opts.tenant } : {};
  const written = await writeRows(client, segments, { format: opts.format, outDir: opts.outDir, baseName, ...tenant });
  const { manifestPath, manifest } = await writeManifest(client, written, {
    format: opts.format, outDir: opts.outDir, baseName, range: { since: opts.since.toISOString(), until: opts.until.toISOString() }, ...tenant,
    ...(opts.publicKeyPem !== undefined ? { publicKeyPem: opts.publicKeyPem } : {}), ...(opts.now !== undefined ? { now: opts.now } : {}),
  });
  return { manifestPath, rowsPath: written.rowsPath, manifest };
}

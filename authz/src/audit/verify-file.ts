// Offline verification of an export: the rows file against its manifest and the chain rules.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CheckpointVerifier } from './checkpoint.js';
import { parseCsvRows } from './csv.js';
import { MANIFEST_FORMAT, MANIFEST_FORMAT_1, type Manifest } from './export.js';
import { rowFromJson, type AuditRow } from './row.js';
import { ChainVerifier, type ChainReport, type VerifyProblem } from './verify.js';

export interface FileVerifyResult {
  reports: ChainReport[];
  /** Problems with the file or manifest themselves (not a row). */
  manifestProblems: string[];
}

export function readRowsFile(path: string, format: 'jsonl' | 'csv'): AuditRow[] {
  const text = readFileSync(path, 'utf8');
  if (format === 'csv') return parseCsvRows(text);
  return text.split('\n').filter((l) => l !== '').map((l) => rowFromJson(JSON.parse(l) as Record<string, unknown>));
}

export function verifyExport(rowsPath: string, manifestPath: string, keys: readonly CheckpointVerifier[]): FileVerifyResult {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  const problems: string[] = [];
  if (manifest.format !== MANIFEST_FORMAT && manifest.format !== MANIFEST_FORMAT_1) {
    problems.push(`manifest format ${JSON.stringify(manifest.format)} is not ${MANIFEST_FORMAT} (or ${MANIFEST_FORMAT_1})`);
  }
  const digest = createHash('sha256').update(readFileSync(rowsPath)).digest('hex');
  if (digest !== manifest.rows_sha256) problems.push(`rows file sha256 ${digest} differs from the manifest's ${manifest.rows_sha256}`);
  const rows = readRowsFile(rowsPath, manifest.rows_format);
  if (rows.length !== manifest.row_count) problems.push(`rows file has ${rows.length} rows, the manifest says ${manifest.row_count}`);

  const byChain = new Map<string, AuditRow[]>();
  for (const r of rows) {
    const list = byChain.get(r.chain_id) ?? [];
    list.push(r);
    byChain.set(r.chain_id, list);
  }
  const reports: ChainReport[] = [];
  for (const mc of manifest.chains) {
    const v = new ChainVerifier(mc.chain_id, {
      startSeq: mc.first_seq,
      startPrevHash: mc.first_prev_hash,
      checkpoints: mc.checkpoints,
      keys,
      sparse: !mc.contiguous,
    });
    for (const r of byChain.get(mc.chain_id) ?? []) if (!v.push(r)) break;
    byChain.delete(mc.chain_id);
    const rep = v.finish();
    if (rep.problem === null) {
      const p = (detail: string): VerifyProblem => ({ chain_id: mc.chain_id, seq: rep.last_seq ?? mc.first_seq, event_id: null, reason: 'rows_missing', detail });
      if (rep.last_seq !== mc.last_seq) rep.problem = p(`export ends at seq ${rep.last_seq ?? '-'} but the manifest says ${mc.last_seq}: rows missing at the end`);
      else if (rep.head_hash !== mc.head_hash) rep.problem = { ...p(`head hash ${rep.head_hash} differs from the manifest's ${mc.head_hash}`), reason: 'checkpoint_mismatch' };
    }
    reports.push(rep);
  }
  for (const extra of byChain.keys()) problems.push(`rows of chain ${JSON.stringify(extra)} are not in the manifest`);
  return { reports, manifestProblems: problems };
}

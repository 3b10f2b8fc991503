// `mem0-gov audit archive --before <month>` (audit/README.md "Partitions and retention"): the
// monthly partitions that end at or before the boundary leave the database, but only after their
// chains' segments were exported, verified and anchored:
//   1. per chain, the segment = seqs after its previous archive boundary up to the highest seq in
//      those partitions; it is verified (from the previous boundary's hash) while it is written;
//   2. a checkpoint at the segment's last row is signed and stored (the remaining chain starts
//      there), and the export (rows + manifest with that checkpoint) is verified again from disk;
//   3. the admin row is written; then, in one transaction, the signed boundaries go into
//      audit.archives and the partitions are detached and dropped (refused if a row above a
//      boundary appeared in them meanwhile).
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import type pg from 'pg';
import type { CheckpointSigner, CheckpointVerifier } from './checkpoint.js';
import { writeManifest, writeRows, type Manifest, type Segment } from './export.js';
import { insertArchive, insertCheckpoint, listChains, listPartitions, readArchives, readCheckpoints, type ArchiveBoundary } from './pg.js';
import { AuditError, GENESIS_HASH } from './row.js';
import { ChainVerifier, describeProblem, type VerifyProblem } from './verify.js';
import { verifyExport } from './verify-file.js';

/** The first instant of the UTC month `months` before (negative) or after `d`'s month. */
export function monthStart(d: Date, months = 0): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
}

/** `YYYY-MM` → its first instant (UTC); anything else throws. */
export function parseMonth(s: string): Date {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(s);
  if (m === null) throw new AuditError('invalid_month', `${JSON.stringify(s)} is not a month (YYYY-MM)`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
}

/** The latest month boundary the retention allows to archive: the current month minus `retentionMonths`. */
export function retentionBoundary(now: Date, retentionMonths: number): Date {
  return monthStart(now, -retentionMonths);
}

export interface ArchiveOptions {
  before: Date;
  outDir: string;
  format: 'jsonl' | 'csv';
  signer: CheckpointSigner;
  /** Trusted public keys (the signer's among them): previous boundaries and checkpoints are checked against them. */
  keys: readonly CheckpointVerifier[];
  /** Writes the admin row; called after everything verified and before anything is dropped. */
  record(details: Record<string, string | number | boolean | null>): Promise<void>;
  /** Export and verify only: nothing signed, stored or dropped. */
  dryRun?: boolean;
  now?: Date;
}

export interface ArchiveResult {
  partitions: string[];
  rows: number;
  rowsPath: string | null;
  manifestPath: string | null;
  boundaries: ArchiveBoundary[];
}

async function previousBoundary(client: pg.Client, chainId: string, keys: readonly CheckpointVerifier[]): Promise<ArchiveBoundary | null> {
  const b = (await readArchives(client, chainId)).pop();
  if (b === undefined) return null;
  const key = keys.find((k) => k.keyId === b.key_id);
  if (key === undefined || !key.verifyArchive(b, b.signature)) {
    throw new AuditError('archive_refused', `chain ${chainId}: the archive boundary at seq ${b.seq} does not verify with the checkpoint key: not archiving`);
  }
  return b;
}

export async function archiveBefore(client: pg.Client, o: ArchiveOptions): Promise<ArchiveResult> {
  const before = o.before;
  const due = (await listPartitions(client)).filter((p) => p.upper !== null && p.upper.getTime() <= before.getTime() && p.name !== 'events_default');
  const none: ArchiveResult = { partitions: [], rows: 0, rowsPath: null, manifestPath: null, boundaries: [] };
  if (due.length === 0) return none;
  const names = due.map((p) => p.name);
  // Highest seq per chain in the partitions that go (their rows are the segments' ends).
  const tops = new Map<string, number>();
  for (const name of names) {
    const r = await client.query<{ chain_id: string; hi: string }>(`SELECT chain_id, max(seq)::text AS hi FROM audit.${client.escapeIdentifier(name)} GROUP BY chain_id`);
    for (const x of r.rows) tops.set(x.chain_id, Math.max(tops.get(x.chain_id) ?? 0, Number(x.hi)));
  }
  const segments: Segment[] = [];
  const checks = new Map<string, ChainVerifier>();
  const prev = new Map<string, { seq: number; hash: string }>();
  for (const chainId of await listChains(client)) {
    const top = tops.get(chainId);
    if (top === undefined) continue;
    const b = await previousBoundary(client, chainId, o.keys);
    const from = (b?.seq ?? 0) + 1;
    if (top < from) continue; // only rows archived before (left behind by the previous archive)
    prev.set(chainId, { seq: from - 1, hash: b?.hash ?? GENESIS_HASH });
    segments.push({ chain_id: chainId, from, to: top });
    // The segment's own checkpoints: later ones are the remaining chain's business.
    const cps = (await readCheckpoints(client, chainId)).filter((cp) => cp.seq <= top);
    checks.set(chainId, new ChainVerifier(chainId, { startSeq: from, startPrevHash: b?.hash ?? GENESIS_HASH, checkpoints: cps, keys: o.keys }));
  }
  const month = before.toISOString().slice(0, 7);
  const baseName = `audit-archive-before-${month}`;
  const written = await writeRows(client, segments, {
    format: o.format, outDir: o.outDir, baseName,
    onRow: (row) => { checks.get(row.chain_id)?.push(row); },
  });
  const fail = (why: string): never => {
    rmSync(written.rowsPath, { force: true });
    throw new AuditError('archive_refused', `${why}: nothing was archived or dropped`);
  };
  const boundaries: ArchiveBoundary[] = [];
  for (const seg of segments) {
    const rep = checks.get(seg.chain_id)!.finish();
    const problem: VerifyProblem | null = rep.problem ?? (rep.last_seq !== seg.to
      ? { chain_id: seg.chain_id, seq: rep.last_seq ?? seg.from, event_id: null, reason: 'rows_missing', detail: `the segment ends at seq ${rep.last_seq ?? '-'}, not ${seg.to}` }
      : null);
    if (problem !== null) fail(`chain ${seg.chain_id} does not verify (${describeProblem(problem)})`);
    const statement = { chain_id: seg.chain_id, seq: seg.to, hash: rep.head_hash!, before: before.toISOString() };
    boundaries.push({
      ...statement, first_seq: seg.from, rows: rep.rows, manifest_sha256: '', key_id: o.signer.keyId,
      signature: o.signer.signArchive(statement), archived_at: (o.now ?? new Date()).toISOString(),
    });
  }
  // The checkpoint at each boundary: the export then ends at a signed row, and so does the chain.
  if (o.dryRun !== true) {
    for (const b of boundaries) await insertCheckpoint(client, o.signer.sign(b.chain_id, b.seq, b.hash, b.archived_at));
  }
  const archive: NonNullable<Manifest['archive']> = {
    before: before.toISOString(), partitions: names,
    boundaries: boundaries.map((b) => ({ chain_id: b.chain_id, seq: b.seq, hash: b.hash, key_id: b.key_id, signature: b.signature })),
  };
  const { manifestPath } = await writeManifest(client, written, {
    format: o.format, outDir: o.outDir, baseName, range: { since: new Date(0).toISOString(), until: before.toISOString() },
    publicKeyPem: o.signer.publicKeyPem, archive, ...(o.now !== undefined ? { now: o.now } : {}),
  });
  // Read back from disk, as an auditor would.
  const check = verifyExport(written.rowsPath, manifestPath, o.keys);
  const bad = [...check.manifestProblems, ...check.reports.filter((r) => r.problem !== null).map((r) => describeProblem(r.problem!))];
  if (bad.length > 0) fail(`the export does not verify (${bad.join('; ')})`);
  for (const r of check.reports) {
    const p = prev.get(r.chain_id);
    const mc = written.chains.find((c) => c.chain_id === r.chain_id);
    if (p === undefined || mc === undefined || mc.first_prev_hash !== p.hash || mc.first_seq !== p.seq + 1) return fail(`chain ${r.chain_id}: the export does not start at the previous boundary`);
    if (o.dryRun !== true && !mc.checkpoints.some((cp) => cp.seq === mc.last_seq)) fail(`chain ${r.chain_id}: no signed checkpoint at the boundary`);
  }
  const result: ArchiveResult = { partitions: names, rows: written.rows, rowsPath: written.rowsPath, manifestPath, boundaries };
  if (o.dryRun === true) return result;

  const manifestSha = createHash('sha256').update(readFileSync(manifestPath)).digest('hex');
  for (const b of boundaries) b.manifest_sha256 = manifestSha;
  await o.record({ before: before.toISOString(), partitions: names.join(','), rows: written.rows, manifest_sha256: manifestSha });
  await client.query('BEGIN');
  try {
    await client.query("SET LOCAL lock_timeout = '10s'");
    for (const name of names) {
      const t = `audit.${client.escapeIdentifier(name)}`;
      await client.query(`LOCK TABLE ${t} IN ACCESS EXCLUSIVE MODE`);
      const r = await client.query<{ chain_id: string; hi: string }>(`SELECT chain_id, max(seq)::text AS hi FROM ${t} GROUP BY chain_id`);
      for (const x of r.rows) {
        const limit = boundaries.find((b) => b.chain_id === x.chain_id)?.seq ?? prev.get(x.chain_id)?.seq ?? (await previousBoundary(client, x.chain_id, o.keys))?.seq ?? 0;
        if (Number(x.hi) > limit) throw new AuditError('archive_refused', `chain ${x.chain_id} has seq ${x.hi} in ${name} above its boundary ${limit} (written meanwhile): run archive again`);
      }
    }
    for (const b of boundaries) await insertArchive(client, b);
    for (const name of names) {
      await client.query(`ALTER TABLE audit.events DETACH PARTITION audit.${client.escapeIdentifier(name)}`);
      await client.query(`DROP TABLE audit.${client.escapeIdentifier(name)}`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return result;
}

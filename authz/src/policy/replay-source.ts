// The I/O of `policy replay`: the bundles (candidate and current enforced) from files, and the
// decision rows of a time window streamed from PostgreSQL with COPY (pg-copy-streams), one line at
// a time, so a week of rows never sits in memory.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { decodeCopyLine } from '../audit/copy-text.js';
import { ROW_SELECT_SQL } from '../audit/pg-text.js';
import type { AuditRow } from '../audit/row.js';
import { loadBundle, type LoadedBundle } from './bundle.js';

export interface BundleFiles {
  wasmPath: string;
  dataPath: string;
}

/**
 * Where the candidate's files are: `candidate` is a compiled wasm file or a directory holding
 * `policy.wasm` (and maybe `data.json`); `data` a data file. What is not given is the enforced
 * one's, so a data-only or a Rego-only change can be replayed alone.
 */
export function candidateFiles(candidate: string | undefined, data: string | undefined, enforced: BundleFiles): BundleFiles {
  let wasmPath = enforced.wasmPath;
  let dataPath = data ?? enforced.dataPath;
  if (candidate !== undefined) {
    if (existsSync(candidate) && statSync(candidate).isDirectory()) {
      wasmPath = join(candidate, 'policy.wasm');
      if (data === undefined && existsSync(join(candidate, 'data.json'))) dataPath = join(candidate, 'data.json');
    } else wasmPath = candidate;
  }
  return { wasmPath, dataPath };
}

/** Loads and probes a bundle (bundle.ts); the error names the files. */
export async function loadBundleFiles(files: BundleFiles, what: string): Promise<LoadedBundle> {
  let wasm: Buffer;
  let data: Buffer;
  try {
    wasm = readFileSync(files.wasmPath);
    data = readFileSync(files.dataPath);
  } catch (err) {
    throw new Error(`${what} policy: cannot read ${files.wasmPath} / ${files.dataPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return await loadBundle(wasm, data);
  } catch (err) {
    throw new Error(`${what} policy (${files.wasmPath}, ${files.dataPath}): ${(err as Error).message}`);
  }
}

export interface Window {
  since: Date;
  until: Date;
  tenant?: string;
}

/**
 * Decision rows with since <= ts < until (of one tenant, when given), in no particular order (no
 * sort: the report groups them). One read-only transaction, one COPY.
 */
export async function* decisionRows(client: pg.Client, w: Window): AsyncGenerator<AuditRow> {
  const where = [
    `kind = 'decision'`,
    `ts >= ${client.escapeLiteral(w.since.toISOString())}::timestamptz`,
    `ts < ${client.escapeLiteral(w.until.toISOString())}::timestamptz`,
    ...(w.tenant !== undefined ? [`tenant = ${client.escapeLiteral(w.tenant)}`] : []),
  ];
  await client.query('BEGIN READ ONLY');
  let ok = false;
  try {
    const stream = client.query(copyTo(`COPY (SELECT ${ROW_SELECT_SQL} FROM audit.events WHERE ${where.join(' AND ')}) TO STDOUT`));
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      if (line === '') continue;
      const row = decodeCopyLine(line);
      if (row === null) throw new Error('audit row with an unexpected number of columns');
      yield row;
    }
    ok = true;
  } finally {
    await client.query(ok ? 'COMMIT' : 'ROLLBACK').catch(() => undefined);
  }
}

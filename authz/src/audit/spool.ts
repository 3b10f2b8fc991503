// Local append-only spool: sealed rows (seq and hash already assigned) as JSON lines, fsynced
// before append() resolves, replayed to PostgreSQL in order when it returns. Replay confirms rows
// from the front in bounded chunks while new rows keep being appended at the back; the file is
// truncated only once every row in it is confirmed (a crash before that replays them again,
// idempotently on event_id).
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { rowFromJson, type AuditRow } from './row.js';

export interface Spool {
  path: string;
  /** Rows spooled and not yet confirmed in PostgreSQL. */
  depth(): number;
  writable(): boolean;
  /** Appends and fsyncs; throws if the disk refuses. */
  append(rows: readonly AuditRow[]): Promise<void>;
  /** Spooled rows not yet confirmed in PostgreSQL, in order. */
  rows(): AuditRow[];
  /** The first `n` unconfirmed rows, in order. */
  peek(n: number): AuditRow[];
  /** The last spooled row (confirmed or not), if any: the chain's head while spooling. */
  last(): AuditRow | undefined;
  /** The first `n` unconfirmed rows are now committed in PostgreSQL (memory only). */
  confirm(n: number): void;
  /** Empties the spool (after every row is committed in PostgreSQL) and fsyncs. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

export function spoolPath(dir: string, chainId: string): string {
  return join(dir, `${chainId.replace(/[^A-Za-z0-9._-]/g, '_')}.spool.jsonl`);
}

/**
 * Reads a spool file. A torn last line (crash during write, never fsynced, never acknowledged)
 * is dropped; a torn line anywhere else is corruption and stops start-up. Rows spooled by a
 * version before row format 2 (no row_format key) are format-1 rows and replay as such.
 */
export function readSpoolFile(path: string): AuditRow[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const out: AuditRow[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    try {
      out.push(rowFromJson(JSON.parse(line) as Record<string, unknown>));
    } catch (err) {
      if (i === lines.length - 1) break;
      throw new Error(`spool ${path} line ${i + 1} is corrupt: ${(err as Error).message}`);
    }
  }
  return out;
}

export async function openSpool(dir: string, chainId: string): Promise<Spool> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = spoolPath(dir, chainId);
  let spooled = readSpoolFile(path);
  // Rewrite without a torn tail so the next append starts on a line boundary.
  let fh: FileHandle = await open(path, 'a+', 0o600);
  const raw = (await fh.readFile('utf8'));
  if (raw.length > 0 && !raw.endsWith('\n')) {
    await fh.truncate(0);
    if (spooled.length > 0) await fh.appendFile(spooled.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await fh.sync();
  }
  let ok = true;
  let bytes = (await fh.stat()).size;
  let confirmed = 0;
  return {
    path,
    depth: () => spooled.length - confirmed,
    writable: () => ok,
    async append(rows) {
      const data = Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
      try {
        await fh.appendFile(data);
        await fh.sync();
        ok = true;
      } catch (err) {
        ok = false;
        // Never leave a torn line in front of later appends: cut back to the last good size.
        await fh.truncate(bytes).catch(() => undefined);
        throw err;
      }
      bytes += data.length;
      for (const r of rows) spooled.push(r);
    },
    rows: () => (confirmed === 0 ? spooled : spooled.slice(confirmed)),
    peek: (n) => spooled.slice(confirmed, confirmed + n),
    last: () => spooled[spooled.length - 1],
    confirm(n) {
      confirmed = Math.min(spooled.length, confirmed + n);
    },
    async clear() {
      await fh.truncate(0);
      await fh.sync();
      bytes = 0;
      spooled = [];
      confirmed = 0;
    },
    async close() {
      await fh.close();
      fh = undefined as unknown as FileHandle;
    },
  };
}

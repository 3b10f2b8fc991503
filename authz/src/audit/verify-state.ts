// Where incremental verification starts: per chain, the last signed checkpoint this verifier
// verified (seq and hash), kept in a local file (MEM0_GOV_AUDIT_VERIFY_STATE), never in the
// database: whoever can write the database must not be able to move a verifier past rows it never
// read. Keyed by the database itself — the cluster's system identifier, the database's oid and its
// audit.installation id (random per database) — so one file serves several deployments, and a
// re-created database, or a copy restored from a dump (another cluster or another database), never
// inherits the marks of the original: it gets a full verification first.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type pg from 'pg';

export interface Mark {
  seq: number;
  hash: string;
  /** ISO time it was verified. */
  at: string;
}

const FORMAT = 'mem0-gov-verify-marks/1';

interface StateFile {
  format: typeof FORMAT;
  databases: Record<string, Record<string, Mark>>;
}

/** What marks are kept under: `<system identifier>/<database oid>/<installation id>`. */
export async function databaseKey(client: pg.Client): Promise<string> {
  const r = await client.query<{ id: string; db: string }>(
    'SELECT (SELECT id::text FROM audit.installation LIMIT 1) AS id, (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS db');
  const id = r.rows[0]?.id;
  if (id === undefined || id === null) throw new Error('audit.installation is empty: run mem0-gov audit migrate');
  // Where pg_control_system() is not granted (some managed services), the other two still tell databases apart.
  const sys = await client.query<{ s: string }>('SELECT system_identifier::text AS s FROM pg_control_system()')
    .then((x) => x.rows[0]?.s ?? '-', () => '-');
  return `${sys}/${r.rows[0]!.db}/${id}`;
}

export class VerifyMarks {
  private constructor(private readonly path: string | null, private readonly db: string, private readonly state: StateFile) {}

  /** In memory only (tests, one-off runs). */
  static memory(db = 'memory'): VerifyMarks {
    return new VerifyMarks(null, db, { format: FORMAT, databases: {} });
  }

  /** Marks of database `db` from `path` (a missing or unreadable file is an empty state: the next run is a full one). */
  static load(path: string, db: string): VerifyMarks {
    let state: StateFile = { format: FORMAT, databases: {} };
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<StateFile>;
      if (parsed.format === FORMAT && parsed.databases !== null && typeof parsed.databases === 'object') state = parsed as StateFile;
    } catch {
      // none yet
    }
    return new VerifyMarks(path, db, state);
  }

  get(chainId: string): Mark | undefined {
    const m = this.state.databases[this.db]?.[chainId];
    return m !== undefined && Number.isSafeInteger(m.seq) && m.seq > 0 && /^[0-9a-f]{64}$/.test(m.hash) ? m : undefined;
  }

  set(chainId: string, mark: Mark): void {
    (this.state.databases[this.db] ??= {})[chainId] = mark;
  }

  /** Writes the file (atomically, 0600). */
  save(): void {
    if (this.path === null) return;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

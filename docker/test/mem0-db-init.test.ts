// docker/mem0-db/init/01-mem0-app-db.sh against a real PostgreSQL, run the way the pgvector
// image's entrypoint runs it: Mem0's app database exists afterwards, owned by Mem0's role, and a
// second run (or an existing database) changes nothing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../../testing/postgres.js';
import { PG_BIN, ROOT } from '../../testing/tools.js';

const SCRIPT = join(ROOT, 'docker', 'mem0-db', 'init', '01-mem0-app-db.sh');
let pg: PostgresHandle;

const psql = (sql: string): string => execFileSync(join(PG_BIN, 'psql'), ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', 'postgres', '-c', sql], { encoding: 'utf8' }).trim();

function runInit(env: Record<string, string>): { ok: boolean; err: string } {
  try {
    execFileSync('bash', [SCRIPT], {
      stdio: 'pipe',
      env: { ...process.env, PATH: `${PG_BIN}:${process.env.PATH ?? ''}`, PGHOST: '127.0.0.1', PGPORT: String(pg.port), ...env },
    });
    return { ok: true, err: '' };
  } catch (e) {
    return { ok: false, err: String((e as { stderr?: Buffer }).stderr ?? e) };
  }
}

beforeAll(async () => {
  pg = await startPostgres();
  // The image creates POSTGRES_USER (a superuser) and POSTGRES_DB before running init scripts.
  psql('CREATE ROLE mem0 LOGIN SUPERUSER');
  psql('CREATE DATABASE mem0 OWNER mem0');
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});

describe('docker/mem0-db/init/01-mem0-app-db.sh', () => {
  const env = { POSTGRES_USER: 'mem0', POSTGRES_DB: 'mem0', MEM0_APP_DB: 'mem0_app' };

  it('creates the app database, owned by the role Mem0 connects as', () => {
    expect(psql("SELECT count(*) FROM pg_database WHERE datname = 'mem0_app'")).toBe('0');
    const r = runInit(env);
    expect(r.ok, r.err).toBe(true);
    expect(psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mem0_app'")).toBe('mem0');
  });

  it('keeps an existing database on a second run', () => {
    psql("CREATE TABLE IF NOT EXISTS marker (i int)"); // in postgres, just to run something first
    const r = runInit(env);
    expect(r.ok, r.err).toBe(true);
    expect(psql("SELECT count(*) FROM pg_database WHERE datname = 'mem0_app'")).toBe('1');
  });

  it('quotes the name as an identifier and refuses to run without one', () => {
    const odd = runInit({ ...env, MEM0_APP_DB: 'Mem0 App"; DROP DATABASE mem0; --' });
    expect(odd.ok, odd.err).toBe(true);
    expect(psql(`SELECT count(*) FROM pg_database WHERE datname IN ('mem0', 'Mem0 App"; DROP DATABASE mem0; --')`)).toBe('2');
    const missing = runInit({ POSTGRES_USER: 'mem0', POSTGRES_DB: 'mem0' });
    expect(missing.ok).toBe(false);
    expect(missing.err).toContain('MEM0_APP_DB');
  });
});

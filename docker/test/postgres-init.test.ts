// docker/postgres/init/01-roles.sh against a real PostgreSQL: the runtime role can INSERT and
// SELECT on tables the owner creates, and nothing else; passwords come from the secret files.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_BIN, ROOT, freePort, waitFor } from '../../testing/tools.js';

const asRoot = process.getuid?.() === 0;
let dir: string;
let port: number;
let server: ChildProcess | undefined;
const ownerPw = 'owner-test-pw-1';
const writerPw = 'writer-test-pw-2';

/** uid/gid of the `postgres` OS user when we are root (initdb refuses root), else ours. */
let ids: { uid?: number; gid?: number } = {};

/** Runs a PostgreSQL binary as the `postgres` OS user. */
function pg(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(join(PG_BIN, bin), args, { ...ids, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

/** psql over TCP with password authentication, as `user`. */
function psqlAs(user: string, password: string, sql: string): { ok: boolean; out: string } {
  try {
    const out = execFileSync(join(PG_BIN, 'psql'), ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'mem0gov', '-c', sql], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' },
    });
    return { ok: true, out: out.trim() };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mem0gov-pginit-'));
  if (asRoot) {
    ids = {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
    };
    chownSync(dir, ids.uid!, ids.gid!);
  }
  port = await freePort();
  // Local socket: trust (the init script runs there, as the image's entrypoint does);
  // TCP: SCRAM passwords, so the roles' passwords are really checked.
  pg('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync'], { PGPASSWORD: '' });
  server = spawn(join(PG_BIN, 'postgres'), ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], { ...ids, stdio: 'ignore' });
  await waitFor('postgres', async () => {
    try {
      pg('pg_isready', ['-q', '-h', dir, '-p', String(port)]);
      return true;
    } catch {
      return false;
    }
  }, 30_000, 100);
  pg('psql', ['-X', '-q', '-h', dir, '-p', String(port), '-U', 'postgres', '-c', 'CREATE DATABASE mem0gov']);
  // Secret files, as Docker mounts them.
  writeFileSync(join(dir, 'owner'), ownerPw);
  writeFileSync(join(dir, 'writer'), writerPw);
  chmodSync(join(dir, 'owner'), 0o644);
  chmodSync(join(dir, 'writer'), 0o644);
  const env = {
    PATH: `${PG_BIN}:${process.env.PATH ?? ''}`, PGHOST: dir, PGPORT: String(port), POSTGRES_USER: 'postgres', POSTGRES_DB: 'mem0gov',
    MEM0GOV_OWNER_PASSWORD_FILE: join(dir, 'owner'), MEM0GOV_WRITER_PASSWORD_FILE: join(dir, 'writer'),
  };
  execFileSync('bash', [join(ROOT, 'docker', 'postgres', 'init', '01-roles.sh')], { ...ids, stdio: 'pipe', env: { ...process.env, ...env } });
  // What audit/migrations do as the owner: create the tables.
  const created = psqlAs('mem0gov_owner', ownerPw, 'CREATE TABLE audit_events (seq bigserial PRIMARY KEY, body text NOT NULL)');
  expect(created.ok, created.out).toBe(true);
}, 120_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGINT'); // fast shutdown
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('docker/postgres/init/01-roles.sh', () => {
  it('sets both roles\' passwords from the secret files', () => {
    expect(psqlAs('mem0gov_writer', writerPw, 'SELECT current_user').out).toBe('mem0gov_writer');
    expect(psqlAs('mem0gov_owner', ownerPw, 'SELECT current_user').out).toBe('mem0gov_owner');
    expect(psqlAs('mem0gov_writer', 'wrong', 'SELECT 1').ok).toBe(false);
    expect(psqlAs('mem0gov_writer', ownerPw, 'SELECT 1').ok).toBe(false);
  });

  it('lets the runtime role INSERT and SELECT on the owner\'s tables', () => {
    expect(psqlAs('mem0gov_writer', writerPw, "INSERT INTO audit_events (body) VALUES ('e1')").ok).toBe(true);
    expect(psqlAs('mem0gov_writer', writerPw, 'SELECT count(*) FROM audit_events').out).toBe('1');
  });

  it('refuses the runtime role UPDATE, DELETE, TRUNCATE and DDL', () => {
    for (const sql of ["UPDATE audit_events SET body = 'x'", 'DELETE FROM audit_events', 'TRUNCATE audit_events',
      'DROP TABLE audit_events', 'CREATE TABLE other (i int)', 'ALTER TABLE audit_events ADD COLUMN x int']) {
      const r = psqlAs('mem0gov_writer', writerPw, sql);
      expect(r.ok, sql).toBe(false);
      expect(r.out, sql).toMatch(/permission denied|must be owner/);
    }
    expect(psqlAs('mem0gov_owner', ownerPw, 'SELECT count(*) FROM audit_events').out).toBe('1');
  });

  it('lets the owner apply the real audit/migrations; the runtime role can read but not change them', () => {
    const dirPath = join(ROOT, 'audit', 'migrations');
    const files = readdirSync(dirPath).filter((f) => f.endsWith('.sql')).sort();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const r = psqlAs('mem0gov_owner', ownerPw, readFileSync(join(dirPath, f), 'utf8'));
      expect(r.ok, `${f}: ${r.out}`).toBe(true);
    }
    expect(psqlAs('mem0gov_writer', writerPw, 'SELECT count(*) FROM audit.events').out).toBe('0');
    for (const sql of ['DELETE FROM audit.events', 'TRUNCATE audit.events', 'UPDATE audit.events SET seq = seq', 'DROP TABLE audit.events']) {
      expect(psqlAs('mem0gov_writer', writerPw, sql).ok, sql).toBe(false);
    }
  });
});

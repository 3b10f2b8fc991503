// Throwaway PostgreSQL clusters for tests and benches: initdb as the `postgres` OS user in a
// temp dir it owns, unix socket inside that dir, TCP on a free loopback port, trust auth on
// loopback, fsync off (test data is disposable). Every process started here is stopped by stop().
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor, PG_BIN } from './tools.js';

const execFileP = promisify(execFile);

export interface PostgresHandle {
  /** Superuser URL (`postgres`, trust auth on loopback). */
  adminUrl: string;
  port: number;
  dataDir: string;
  /** Graceful stop (fast shutdown); removes the temp dir. */
  stop(): Promise<void>;
  /** SIGKILL the postmaster, as in a crash. The port stays reserved for restart(). */
  kill(): Promise<void>;
  /** Start again on the same port and data dir (kills first if still running). */
  restart(): Promise<void>;
}

interface Ids { uid: number; gid: number }

async function postgresIds(): Promise<Ids> {
  const uid = Number((await execFileP('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await execFileP('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

function startServer(dataDir: string, sockDir: string, port: number): ChildProcess {
  return spawn(
    'runuser',
    ['-u', 'postgres', '--', join(PG_BIN, 'postgres'), '-D', dataDir, '-p', String(port), '-k', sockDir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
      '-c', 'full_page_writes=off', '-c', 'max_connections=50', '-c', 'shared_buffers=64MB'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

async function ready(port: number, sockDir: string): Promise<void> {
  await waitFor(`postgres :${port}`, async () => {
    try {
      await execFileP(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'], { timeout: 5000 });
      return true;
    } catch {
      return false;
    }
  }, 30_000, 50);
  void sockDir;
}

export async function startPostgres(): Promise<PostgresHandle> {
  const ids = await postgresIds();
  const root = mkdtempSync(join(tmpdir(), 'mem0gov-pg-'));
  chmodSync(root, 0o755);
  chownSync(root, ids.uid, ids.gid);
  const dataDir = join(root, 'data');
  const sockDir = root;
  await execFileP('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'initdb'), '-D', dataDir, '-U', 'postgres',
    '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], { timeout: 60_000 });
  // Trust on loopback only (the default pg_hba is already local-only; make it explicit).
  const hba = join(dataDir, 'pg_hba.conf');
  writeFileSync(hba, 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  appendFileSync(join(dataDir, 'postgresql.conf'), "\ntimezone = 'UTC'\n");
  chownSync(hba, ids.uid, ids.gid);
  const port = await freePort();
  let proc = startServer(dataDir, sockDir, port);
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  try {
    await ready(port, sockDir);
  } catch (err) {
    proc.kill('SIGKILL');
    await exited(proc);
    rmSync(root, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  const kill = async (): Promise<void> => {
    // runuser forwards signals to its child; SIGKILL on runuser would orphan postgres, so
    // signal the postmaster directly via its pid file.
    await killPostmaster(dataDir, 'SIGKILL');
    proc.kill('SIGKILL');
    await exited(proc);
  };
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    kill,
    async restart() {
      await kill();
      // A killed postmaster leaves children for a moment; wait until the port is free again.
      proc = startServer(dataDir, sockDir, port);
      proc.stderr?.on('data', () => undefined);
      await ready(port, sockDir);
    },
    async stop() {
      await killPostmaster(dataDir, 'SIGINT');
      const timer = setTimeout(() => { void killPostmaster(dataDir, 'SIGKILL'); proc.kill('SIGKILL'); }, 5000);
      await exited(proc);
      clearTimeout(timer);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function killPostmaster(dataDir: string, signal: NodeJS.Signals): Promise<void> {
  const { readFileSync } = await import('node:fs');
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (signal === 'SIGKILL') {
    // Children (backends) exit once the postmaster is gone; wait for the postmaster itself.
    await waitFor(`postmaster ${pid} exit`, async () => {
      try { process.kill(pid, 0); return false; } catch { return true; }
    }, 10_000, 20);
  }
}

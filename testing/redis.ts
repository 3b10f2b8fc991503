// Throwaway redis-server processes for tests and benches: free loopback ports, temp dirs,
// no persistence. Every process started here is killed by stop().
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './tools.js';

const execFileP = promisify(execFile);

export interface RedisHandle {
  url: string;
  port: number;
  /** Graceful stop; removes the temp dir. */
  stop(): Promise<void>;
  /** SIGKILL, as in a crash. The port stays reserved for restart(). */
  kill(): Promise<void>;
  /** Start again on the same port (empty dataset: no persistence). */
  restart(): Promise<void>;
}

export interface RedisClusterHandle {
  /** host:port of each master */
  nodes: string[];
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

function startServer(port: number, dir: string, extra: string[]): ChildProcess {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--enable-debug-command', 'yes', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return proc;
}

async function waitPing(port: number): Promise<void> {
  await waitFor(`redis-server :${port}`, async () => (await cli(port, 'PING')) === 'PONG', 10_000, 25);
}

export async function startRedis(): Promise<RedisHandle> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-redis-'));
  let proc = startServer(port, dir, []);
  await waitPing(port);
  const kill = async (): Promise<void> => {
    proc.kill('SIGKILL');
    await exited(proc);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    async restart() {
      await kill();
      proc = startServer(port, dir, []);
      await waitPing(port);
    },
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited(proc);
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real Redis Cluster: 3 masters, no replicas, explicit bus ports (all free loopback ports). */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map(exited));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      let bus = await freePort();
      while (bus === port) bus = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'mem0gov-rcluster-'));
      dirs.push(dir);
      ports.push(port);
      procs.push(startServer(port, dir, [
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'),
        '--cluster-port', String(bus), '--cluster-node-timeout', '2000',
      ]));
    }
    for (const p of ports) await waitPing(p);
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    await execFileP('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const p of ports) {
      await waitFor(`cluster_state:ok on :${p}`, async () => (await cli(p, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), 20_000, 50);
    }
    return { nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

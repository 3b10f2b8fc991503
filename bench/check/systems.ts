// The systems the check bench compares, each as an ext_authz gRPC address plus the processes whose
// CPU it costs; and the one-request sanity check each must pass before it is measured.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { authorizationService } from '../../authz/src/grpc/protos.js';
import { ROOT, freePort } from '../../testing/tools.js';

export interface System {
  /** Printed name. */
  name: string;
  /** host:port of its ext_authz gRPC server. */
  target: string;
  /** Roots of the process trees whose CPU counts for it. */
  pids(): number[];
  /** What the CPU figure covers (printed). */
  cpuCovers: string;
}

/** gRPC status code of the CheckResponse (0 = allowed), for one request. */
export function checkOnce(target: string, request: Record<string, unknown>): Promise<number> {
  const Authz = authorizationService();
  const client = new Authz(target, grpc.credentials.createInsecure());
  return new Promise<number>((resolve, reject) => {
    client.Check!(request, { deadline: Date.now() + 10_000 }, (err: Error | null, resp: { status?: { code?: number } } | undefined) => {
      client.close();
      if (err) reject(new Error(`${target}: ${err.message}`));
      else resolve(resp?.status?.code ?? 0);
    });
  });
}

const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');

export interface EmptyHandler {
  port: number;
  pid(): number;
  stop(): Promise<void>;
}

/** Starts bench/check/empty-handler.ts as its own node process. */
export async function startEmptyHandler(): Promise<EmptyHandler> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', TSX, join(ROOT, 'bench', 'check', 'empty-handler.ts'), String(port)], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`empty handler did not start: ${out}`)), 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('listening')) { clearTimeout(t); resolve(); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`empty handler exited with ${code}: ${out}`)); });
  });
  return {
    port,
    pid: () => child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

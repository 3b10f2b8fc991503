// The authz process as operators run it: `node --import tsx authz/src/main.ts`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startStack } from '../../../../testing/stack.js';
import type { Stack } from '../../../../testing/stack.js';
import { ROOT, freePort, waitFor } from '../../../../testing/tools.js';
import { authorizationService } from '../../../src/grpc/protos.js';

const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
const MAIN = join(ROOT, 'authz', 'src', 'main.ts');

function runMain(env: Record<string, string>): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', TSX, MAIN], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exit };
}

describe('configuration is validated at start', () => {
  it.each([
    [{ MEM0_GOV_GRPC_PORT: 'ninety' }, 'MEM0_GOV_GRPC_PORT: expected an integer'],
    [{ MEM0_GOV_JWT_ISSUERS: '' }, 'MEM0_GOV_JWT_ISSUERS: required'],
    [{ MEM0_GOV_JWT_ALGORITHMS: 'HS256' }, 'MEM0_GOV_JWT_ALGORITHMS: HS256 is not allowed'],
    [{ MEM0_GOV_MEM0_URL: 'not a url' }, 'MEM0_GOV_MEM0_URL: expected a URL'],
    [{ MEM0_GOV_MEM0_API_KEY_FILE: '/nonexistent/key' }, 'MEM0_GOV_MEM0_API_KEY_FILE: cannot read /nonexistent/key'],
  ])('%j → exits 78 naming the variable', async (bad, message) => {
    const p = runMain({ MEM0_GOV_JWT_ISSUERS: 'https://idp.example/realms/mem0', ...bad });
    expect(await p.exit).toBe(78);
    expect(p.output()).toContain(message);
  });
});

describe('running process', () => {
  let stack: Stack;
  let proc: ReturnType<typeof runMain>;
  let grpcPort = 0;
  let httpPort = 0;
  beforeAll(async () => {
    stack = await startStack();
    grpcPort = await freePort();
    httpPort = await freePort();
    proc = runMain({
      ...stack.env,
      MEM0_GOV_GRPC_PORT: String(grpcPort),
      MEM0_GOV_HTTP_PORT: String(httpPort),
      MEM0_GOV_AUDIT_CHAIN_ID: `process-${process.pid}`,
      MEM0_GOV_DRAIN_SECONDS: '1',
      MEM0_GOV_LOG_LEVEL: 'info',
    });
    await waitFor('authz /readyz', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok, 30_000, 100);
  });
  afterAll(async () => {
    proc?.child.kill('SIGKILL');
    await stack?.stop();
  });

  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    expect((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200);
    const ready = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).json();
    expect(ready).toEqual({ status: 'ready', checks: { serving: true, redis: true, audit_durable: true, policy: true } });
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    for (const name of ['mem0gov_decisions_total', 'mem0gov_check_duration_seconds', 'mem0gov_policy_revision_info', 'mem0gov_audit_spool_depth']) {
      expect(metrics).toContain(name);
    }
  });

  it('answers gRPC health checks and Check', async () => {
    const healthProto = (await import('grpc-health-check')).protoPath;
    const loader = await import('@grpc/proto-loader');
    const health = grpc.loadPackageDefinition(loader.loadSync(healthProto, { enums: String })) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    const client = new health.grpc.health.v1.Health(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const status = await new Promise<unknown>((res, rej) => client.check!({ service: 'envoy.service.auth.v3.Authorization' }, (e: Error | null, r: unknown) => (e ? rej(e) : res(r))));
    expect(status).toEqual({ status: 'SERVING' });
    client.close();
    const Authz = authorizationService();
    const authz = new Authz(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const resp = await new Promise<{ denied_response?: { status: { code: string | number } } }>((res, rej) =>
      authz.Check!({ attributes: { request: { http: { method: 'GET', path: '/memories', headers: { 'x-request-id': 'r-1' } } } } }, (e: Error | null, r: never) => (e ? rej(e) : res(r))),
    );
    authz.close();
    expect(resp.denied_response).toBeDefined();
  });

  it('drains on SIGTERM: health turns NOT_SERVING, then it exits 0', async () => {
    proc.child.kill('SIGTERM');
    await waitFor('readyz 503 while draining', async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 503, 5_000, 20);
    expect(await proc.exit).toBe(0);
    expect(proc.output()).toContain('"msg":"draining"');
    expect(proc.output()).toContain('"msg":"stopped"');
  });
});

// Shared fixtures for the gate integration tests.
import pino from 'pino';
import { Writable } from 'node:stream';
import type { Identity, Mem0Request } from '../../../src/types.js';
import { loadGateConfig, type GateConfig } from '../../../src/gate/index.js';
import type { AdminAction, CliContext } from '../../../src/cli/context.js';

export function identity(over: Partial<Identity> = {}): Identity {
  return { subject: 'alice', issuer: 'https://idp.test', tenant: 'acme', roles: ['agent-writer'], ...over };
}

export const REQ: Mem0Request = {
  requestId: 'r1',
  method: 'GET',
  path: '/memories/m1',
  route: 'memories.get',
  action: 'read',
  memoryId: 'm1',
  entities: [],
  options: {},
  query: {},
  phiInBody: false,
  sourceIp: '127.0.0.1',
};

export function gateConfig(env: Record<string, string> = {}): GateConfig {
  return loadGateConfig({ MEM0_GOV_LIMITS_REFRESH_MS: '100', MEM0_GOV_REDIS_TIMEOUT_MS: '1000', ...env });
}

/** A pino logger whose JSON lines are kept for assertions. */
export function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

export async function counterValue(
  metric: { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  const v = values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** A CliContext for driving the Redis-backed admin commands: output lines and admin actions kept. */
export interface FakeCliContext extends CliContext {
  outLines: string[];
  errLines: string[];
  actions: Omit<AdminAction, 'actor'>[];
}

/** `failRecord`: recording the admin row fails (the command must then change nothing). */
export function fakeCliContext(redisUrl: string, opts: { failRecord?: boolean; env?: Record<string, string> } = {}): FakeCliContext {
  const c: FakeCliContext = {
    env: { MEM0_GOV_REDIS_URL: redisUrl, ...opts.env },
    actor: 'ops-oncall',
    outLines: [],
    errLines: [],
    actions: [],
    out: (l) => c.outLines.push(l),
    err: (l) => c.errLines.push(l),
    async recordAdmin(a) {
      if (opts.failRecord) throw new Error('audit chain unavailable');
      c.actions.push(a);
    },
  };
  return c;
}

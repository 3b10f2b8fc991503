// Shared by the per-control suites: one real stack per file (redis-server, PostgreSQL, Mem0
// stand-in, dev issuer, authz, Envoy), and small readers for what auditors look at — the audit
// rows behind a decision, the admin CLI's exit code and output, the /metrics text.
import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { startStack } from '../../testing/stack.js';
import type { Stack, StackOptions } from '../../testing/stack.js';
import { call } from '../../testing/https.js';
import type { Reply } from '../../testing/https.js';
import { ROOT } from '../../testing/tools.js';
import { recordAdminAction } from '../../authz/src/audit/admin.js';
import type { CliContext } from '../../authz/src/cli/context.js';

export type Request = Parameters<typeof call>[2];
type Command = (argv: string[], ctx: CliContext) => Promise<number>;

/** An audit.events row as auditors query it (the columns the controls talk about). */
export interface AuditRow {
  chain_id: string;
  seq: string;
  event_id: string;
  decision: string;
  reasons: string[];
  actor_sub: string | null;
  roles: string[];
  tenant: string | null;
  agent: string | null;
  session: string | null;
  action: string | null;
  route: string | null;
  method: string | null;
  path: string | null;
  entity_ids: string[];
  memory_id: string | null;
  request_id: string | null;
  policy_revision: string | null;
  break_glass: boolean;
  phi: boolean;
  body_digest: string | null;
  status: number;
  prev_hash: string;
  hash: string;
}

export interface CliResult { code: number; out: string; err: string }

export interface Compliance {
  readonly stack: Stack;
  /** HTTPS request through Envoy's TLS listener. */
  req(o: Request): Promise<Reply>;
  /** A request whose path goes on the wire byte for byte (call() would normalise `..` itself). */
  rawPath(method: string, path: string, token: string, body?: unknown): Promise<number>;
  /** Requests that reached Mem0 so far. */
  mem0Count(): number;
  /** Superuser query on the audit database (what an auditor with DB access sees). */
  sql<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** The audit row of a decision (by the decision id in the reply). */
  auditRow(reply: Reply): Promise<AuditRow>;
  /** Runs a `mem0-gov` command module against the stack (admin actions audited as `actor`). */
  cli(command: Command, argv: string[], actor?: string): Promise<CliResult>;
  /** The authz service's Prometheus exposition. */
  metrics(): Promise<string>;
}

/** The decision id of a reply: header on passes, JSON body on denials. */
export function decisionId(r: Reply): string {
  const h = r.headers['x-mem0-gov-decision-id'];
  if (h) return h;
  const id = r.json<{ decision_id?: string }>().decision_id;
  if (!id) throw new Error(`reply ${r.status} carries no decision id: ${r.text.slice(0, 200)}`);
  return id;
}

/** Value of one Prometheus sample (0 when absent), labels matched as a subset. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export function repoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/**
 * One allowed request from a tenant no test uses, until it passes. The first check after start
 * fetches the JWKS and runs cold code paths; on a loaded machine it can exceed Envoy's 250 ms
 * ext_authz timeout and get a (fail-closed) 503. Deployments see the same once per replica.
 */
async function warmUp(stack: Stack): Promise<void> {
  const token = await stack.token({ tenant: 'warmup', roles: ['agent-reader'], sub: 'warmup' });
  let last = 0;
  for (let i = 0; i < 20; i++) {
    last = (await call(stack.envoy.baseUrl, stack.envoy.caFile, { path: '/memories?user_id=warmup:w', token })).status;
    if (last === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`stack never served an allowed request (last status ${last})`);
}

/** Starts a stack for the file (beforeAll) and stops it (afterAll). */
export function useStack(opts: StackOptions = {}): Compliance {
  let stack: Stack | undefined;
  let db: pg.Client | undefined;
  beforeAll(async () => {
    stack = await startStack({ logLevel: 'silent', ...opts, env: { MEM0_GOV_LOG_LEVEL: 'silent', ...opts.env } });
    await warmUp(stack);
  });
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await stack?.stop();
  });
  const s = (): Stack => {
    if (!stack) throw new Error('stack not started');
    return stack;
  };
  // One superuser connection, reopened after PostgreSQL restarts (recovery tests kill it).
  const sql = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> => {
    if (!db) {
      const client = new pg.Client(s().pgOwnerUrl);
      client.on('error', () => {
        if (db === client) db = undefined;
      });
      await client.connect();
      db = client;
    }
    return (await db.query<R>(text, params)).rows;
  };
  return {
    get stack() {
      return s();
    },
    req: (o) => call(s().envoy.baseUrl, s().envoy.caFile, o),
    rawPath: (method, path, token, body) => new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = httpsRequest({
        host: '127.0.0.1', port: s().envoy.port, servername: 'localhost', ca: readFileSync(s().envoy.caFile), method, path,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) },
      }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(payload);
    }),
    mem0Count: () => s().mem0!.requests.length,
    sql,
    async auditRow(reply) {
      const id = decisionId(reply);
      const rows = await sql<AuditRow>('SELECT * FROM audit.events WHERE event_id = $1', [id]);
      if (rows.length !== 1) throw new Error(`no audit row for decision ${id}`);
      return rows[0]!;
    },
    async cli(command, argv, actor = 'compliance-officer') {
      const out: string[] = [];
      const err: string[] = [];
      const env = { ...s().env, MEM0_GOV_AUDIT_ADMIN_CHAIN_ID: `admin:compliance-${process.pid}` };
      const ctx: CliContext = {
        env,
        actor,
        out: (l) => void out.push(l),
        err: (l) => void err.push(l),
        recordAdmin: (action) => recordAdminAction(env, { ...action, actor }),
      };
      const code = await command(argv, ctx);
      return { code, out: out.join('\n'), err: err.join('\n') };
    },
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${s().authz.httpPort}/metrics`);
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
      return res.text();
    },
  };
}

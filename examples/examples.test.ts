// Every client example (examples/README.md) runs against the real stack — Envoy with TLS, authz,
// Redis, PostgreSQL, the Mem0 stand-in — with the language's own toolchain, as an agent developer
// would run it: with a dev token from `bin/mem0-gov token` (the quick start's command), with
// Keycloak-style client credentials from a token endpoint, and refused across tenants. Each
// governed call it prints must be in the audit chain with the caller's identity. Java and Go are
// compiled once per run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../testing/stack.js';
import { startTokenEndpoint, type TokenEndpoint } from '../testing/client-credentials.js';
import { ROOT } from '../testing/tools.js';

interface Run { code: number; out: string; err: string; lines: Record<string, unknown>[] }

function exec(cmd: string, args: string[], env: Record<string, string> = {}, cwd = ROOT, timeout = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...env }, timeout, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as unknown as { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 1;
      const lines = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, out: stdout, err: stderr, lines });
    });
  });
}

const build = mkdtempSync(join(tmpdir(), 'mem0gov-examples-'));
const LANGS: Record<string, { cmd: string; args: string[] }> = {
  python: { cmd: 'python3', args: [join(ROOT, 'examples/python/mem0_gov_example.py')] },
  typescript: { cmd: process.execPath, args: ['--import', join(ROOT, 'node_modules/tsx/dist/esm/index.mjs'), join(ROOT, 'examples/typescript/mem0-gov-example.ts')] },
  java: { cmd: 'java', args: ['-cp', join(build, 'java'), 'Mem0GovExample'] },
  go: { cmd: join(build, 'mem0-gov-example-go'), args: [] },
};

let stack: Stack;
let tokens: TokenEndpoint;
let devToken = '';
let db: pg.Client;

beforeAll(async () => {
  const [s, javac, gobuild] = await Promise.all([
    startStack({ logLevel: 'silent', env: { MEM0_GOV_LOG_LEVEL: 'silent' } }),
    exec('javac', ['-d', join(build, 'java'), join(ROOT, 'examples/java/Mem0GovExample.java')]),
    exec('go', ['build', '-o', join(build, 'mem0-gov-example-go'), '.'], {}, join(ROOT, 'examples/go')),
  ]);
  stack = s;
  expect(javac.code, javac.err).toBe(0);
  expect(gobuild.code, gobuild.err).toBe(0);
  tokens = await startTokenEndpoint([{ clientId: 'agent-acme-support', tenant: 'acme', roles: ['agent-writer'] }], (o) => stack.token(o));
  // The quick start's dev token, minted by the admin CLI from the stack's dev key.
  const minted = await exec(join(ROOT, 'bin/mem0-gov'), ['token', '--tenant', 'acme', '--role', 'agent-writer', '--sub', 'alice'], {
    ...stack.env, MEM0_GOV_LOG_LEVEL: 'silent', MEM0_GOV_DEV_KEY_DIR: join(stack.stateDir, 'dev-issuer'), MEM0_GOV_AUDIT_ADMIN_CHAIN_ID: `admin:examples-${process.pid}`,
  });
  expect(minted.code, minted.err).toBe(0);
  devToken = minted.out.trim();
  expect(devToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  db = new pg.Client(stack.pgOwnerUrl);
  await db.connect();
}, 180_000);

afterAll(async () => {
  await db?.end().catch(() => undefined);
  await tokens?.close();
  await stack?.stop();
  rmSync(build, { recursive: true, force: true });
});

const base = (): Record<string, string> => ({ MEM0_GOV_BASE_URL: stack.envoy.baseUrl, MEM0_GOV_CA_FILE: stack.envoy.caFile });

function step(r: Run, name: string): Record<string, unknown> {
  const s = r.lines.find((l) => l.step === name);
  if (s === undefined) throw new Error(`no ${name} step in:\n${r.out}\n${r.err}`);
  return s;
}

/** The audit row behind each decision id the example printed: governed, and by whom. */
async function audited(r: Run): Promise<{ route: string; tenant: string; actor_sub: string; agent: string; decision: string }[]> {
  const ids = r.lines.map((l) => l.decision_id).filter((x): x is string => typeof x === 'string');
  expect(ids.length).toBe(r.lines.length);
  const rows = await db.query<{ event_id: string; route: string; tenant: string; actor_sub: string; agent: string; decision: string }>(
    "SELECT event_id, route, tenant, actor_sub, agent, decision FROM audit.events WHERE kind = 'decision' AND event_id = ANY($1)", [ids]);
  expect(rows.rows.length).toBe(ids.length);
  return ids.map((id) => rows.rows.find((x) => x.event_id === id)!);
}

describe.each(Object.keys(LANGS))('%s example', (lang) => {
  const run = (env: Record<string, string>): Promise<Run> => exec(LANGS[lang]!.cmd, LANGS[lang]!.args, { ...base(), ...env }, ROOT, 60_000);

  it('adds, searches, gets and lists memories with a dev token, every call governed and audited', async () => {
    const user = `acme:${lang}-dev`;
    const text = `${lang} dev token prefers oolong tea`;
    const r = await run({ MEM0_GOV_TOKEN: devToken, MEM0_GOV_USER_ID: user, MEM0_GOV_MEMORY_TEXT: text });
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    const added = step(r, 'add');
    expect(added.status).toBe(200);
    const ids = added.ids as string[];
    expect(ids.length).toBe(1);
    expect(step(r, 'search').ids).toContain(ids[0]);
    expect(step(r, 'get')).toMatchObject({ status: 200, id: ids[0], memory: text });
    expect(step(r, 'list')).toMatchObject({ status: 200, count: 1 });
    const rows = await audited(r);
    expect(rows.map((x) => x.route)).toEqual(['memories.create', 'search', 'memories.get', 'memories.list']);
    for (const row of rows) expect(row).toMatchObject({ tenant: 'acme', actor_sub: 'alice', decision: 'allow' });
  }, 60_000);

  it('gets a token with client credentials (Keycloak token endpoint shape) and works as that agent', async () => {
    const before = tokens.issued;
    const r = await run({
      MEM0_GOV_TOKEN_URL: tokens.url, MEM0_GOV_CLIENT_ID: 'agent-acme-support', MEM0_GOV_CLIENT_SECRET: tokens.secrets['agent-acme-support']!,
      MEM0_GOV_USER_ID: `acme:${lang}-agent`, MEM0_GOV_MEMORY_TEXT: `${lang} agent remembers a window seat`,
    });
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(tokens.issued).toBe(before + 1); // one token for the whole run
    expect(step(r, 'get')).toMatchObject({ status: 200, memory: `${lang} agent remembers a window seat` });
    for (const row of await audited(r)) expect(row).toMatchObject({ tenant: 'acme', agent: 'agent-acme-support', actor_sub: 'service-account-agent-acme-support', decision: 'allow' });
  }, 60_000);

  it('reports a refusal with its stable reason and exits 2 (another tenant’s user; a wrong client secret)', async () => {
    const r = await run({ MEM0_GOV_TOKEN: devToken, MEM0_GOV_USER_ID: 'globex:bob' });
    expect(r.code, `${r.out}\n${r.err}`).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({ step: 'add', status: 403, error: 'deny', reason: 'cross_tenant' });
    const [row] = await audited(r);
    expect(row).toMatchObject({ decision: 'deny', route: 'memories.create', tenant: 'acme' });

    const bad = await run({ MEM0_GOV_TOKEN_URL: tokens.url, MEM0_GOV_CLIENT_ID: 'agent-acme-support', MEM0_GOV_CLIENT_SECRET: 'wrong', MEM0_GOV_USER_ID: 'acme:x' });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/401|token endpoint|Unauthorized/i);
  }, 60_000);
});

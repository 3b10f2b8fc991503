// The audit API through the real Envoy (docs/DESIGN.md "Audit API"): an auditor with only a JWT
// answers "who touched memory X, when, allowed or not, and what Mem0 did", tenant-scoped, with no
// memory content; other roles are refused; every read is itself a decision row plus an outcome
// row; the API trusts the audit chain, not headers (called around Envoy, or with a used decision,
// it refuses); exports verify offline; the verifier loop turns a tamper into the alert's metric.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../testing/stack.js';
import { call, type Reply } from '../../../testing/https.js';
import { untar } from '../../../testing/tar.js';
import { waitFor } from '../../../testing/tools.js';
import { loadVerifier } from '../../src/audit/checkpoint.js';
import { verifyExport } from '../../src/audit/verify-file.js';
import { canonicalHashed, chainHash } from '../../src/audit/row.js';
import { selectRows } from '../../src/audit/pg.js';

let stack: Stack;
let memoryId: string;
let db: pg.Client;
const r = (o: Parameters<typeof call>[2]): Promise<Reply> => call(stack.envoy.baseUrl, stack.envoy.caFile, o);
const token = (tenant: string, roles: string[], sub?: string): Promise<string> => stack.token({ tenant, roles, ...(sub !== undefined ? { sub } : {}) });

type Row = Record<string, unknown> & { tenant: string | null; kind: string | null; decision: string; route: string | null; event_id: string; ref_event_id: string | null; detail: string | null };

/** A binary GET through Envoy (downloads). */
function download(path: string, tok: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, stack.envoy.baseUrl), { headers: { authorization: `Bearer ${tok}` }, ca: readFileSync(stack.envoy.caFile), servername: 'localhost' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  // The verifier loop every second; no periodic checkpoints, so each round reads the whole chain.
  stack = await startStack({ env: { MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS: '1', MEM0_GOV_AUDIT_CHECKPOINT_SECONDS: '3600' } });
  db = new pg.Client(stack.pgOwnerUrl);
  await db.connect();
  const writer = await token('acme', ['agent-writer'], 'wendy');
  const created = await r({ method: 'POST', path: '/memories', token: writer, body: { user_id: 'acme:alice', messages: [{ role: 'user', content: 'I like oolong tea' }] } });
  expect(created.status).toBe(200);
  memoryId = created.json<{ results: { id: string }[] }>().results[0]!.id;
  const reader = await token('acme', ['agent-reader'], 'rita');
  expect((await r({ path: `/memories/${memoryId}`, token: reader })).status).toBe(200);
  expect((await r({ path: '/memories?user_id=acme:alice', token: reader })).status).toBe(200);
  // Another tenant tries it: hidden as not found.
  expect((await r({ path: `/memories/${memoryId}`, token: await token('globex', ['agent-reader'], 'gina') })).status).toBe(404);
  expect((await r({ method: 'DELETE', path: `/memories/${memoryId}`, token: await token('acme', ['admin'], 'adam') })).status).toBe(200);
  expect((await r({ method: 'POST', path: '/memories', token: await token('globex', ['agent-writer']), body: { user_id: 'globex:bob', messages: [{ role: 'user', content: 'globex secret' }] } })).status).toBe(200);
});
afterAll(async () => {
  await db?.end();
  await stack?.stop();
});

describe('audit API through Envoy', () => {
  it('an auditor with only a JWT sees who touched a memory, when, allowed or not, and what Mem0 did — own tenant, no content', async () => {
    const res = await r({ path: `/audit/memories/${memoryId}`, token: await token('acme', ['auditor'], 'audrey') });
    expect(res.status, res.text).toBe(200);
    expect(res.text).not.toContain('oolong');
    const rows = res.json<{ rows: Row[] }>().rows;
    expect(rows.every((x) => x.tenant === 'acme')).toBe(true);
    const pairs = rows.map((x) => `${x.kind}:${x.route}:${x.decision}:${String(x.actor_sub)}`);
    // Written (the create's outcome names the new id), read by id and in a list, deleted.
    expect(pairs).toEqual(expect.arrayContaining([
      'decision:memories.create:allow:wendy', 'outcome:memories.create:allow:wendy',
      'decision:memories.get:allow:rita', 'outcome:memories.get:allow:rita',
      'decision:memories.list:allow:rita', 'outcome:memories.list:allow:rita',
      'decision:memories.delete:allow:adam', 'outcome:memories.delete:allow:adam',
    ]));
    const get = rows.find((x) => x.kind === 'outcome' && x.route === 'memories.get')!;
    expect(JSON.parse(get.detail!)).toMatchObject({ upstream_status: 200, returned: 1 });
    expect(rows.find((x) => x.kind === 'decision' && x.route === 'memories.get')!.event_id).toBe(get.ref_event_id);
    // globex's attempt is globex's row: not in acme's trail …
    expect(rows.some((x) => x.actor_sub === 'gina')).toBe(false);
    // … but a platform auditor sees it, with the real reason behind the 404.
    const all = (await r({ path: `/audit/memories/${memoryId}`, token: await token('platform', ['platform-auditor']) })).json<{ rows: Row[] }>().rows;
    const gina = all.find((x) => x.actor_sub === 'gina')!;
    expect(gina).toMatchObject({ tenant: 'globex', decision: 'deny', status: 404 });
    expect(gina.reasons).toEqual(['memory_not_found', 'memory_cross_tenant']);
  });

  it('/audit/events filters by route, actor and decision and pages with a cursor; the scope is the caller\'s tenant', async () => {
    const auditor = await token('acme', ['auditor']);
    const page1 = await r({ path: '/audit/events?route=memories.get&limit=1', token: auditor });
    expect(page1.status, page1.text).toBe(200);
    const b1 = page1.json<{ rows: Row[]; next_cursor: string | null; scope: { tenant: string } }>();
    expect(b1.scope.tenant).toBe('acme');
    expect(b1.rows).toHaveLength(1);
    expect(b1.next_cursor).not.toBeNull();
    const page2 = (await r({ path: `/audit/events?route=memories.get&limit=1&cursor=${b1.next_cursor}`, token: await token('acme', ['auditor']) })).json<{ rows: Row[] }>();
    expect(page2.rows).toHaveLength(1);
    expect(page2.rows[0]!.event_id).not.toBe(b1.rows[0]!.event_id);
    const all = (await r({ path: '/audit/events?limit=500', token: await token('acme', ['auditor']) })).json<{ rows: Row[] }>().rows;
    expect(all.length).toBeGreaterThan(8);
    expect(all.every((x) => x.tenant === 'acme')).toBe(true);
    const adam = (await r({ path: '/audit/events?actor=adam&decision=allow&kind=decision', token: await token('acme', ['auditor']) })).json<{ rows: Row[] }>().rows;
    expect(adam.map((x) => x.route)).toEqual(['memories.delete']);
    // Another tenant's rows: refused to a tenant auditor, there for a platform auditor.
    const cross = await r({ path: '/audit/events?tenant=globex', token: await token('acme', ['auditor']) });
    expect([cross.status, cross.json<{ reason: string }>().reason]).toEqual([403, 'cross_tenant']);
    const globex = (await r({ path: '/audit/events?tenant=globex', token: await token('platform', ['platform-auditor']) })).json<{ rows: Row[] }>().rows;
    expect(globex.length).toBeGreaterThan(0);
    expect(globex.every((x) => x.tenant === 'globex')).toBe(true);
    expect((await r({ path: '/audit/events?limit=0', token: await token('acme', ['auditor']) })).json<{ reason: string }>().reason).toBe('invalid_parameter');
  });

  it('other roles get 403, no token 401; the page itself needs no token', async () => {
    for (const roles of [['agent-reader'], ['agent-writer'], ['admin'], ['platform-admin'], ['phi-reader']]) {
      const res = await r({ path: '/audit/events', token: await token('acme', roles) });
      expect([roles[0], res.status, res.json<{ reason: string }>().reason]).toEqual([roles[0], 403, 'role_missing']);
    }
    expect((await r({ path: '/audit/chains' })).status).toBe(401);
    const page = await r({ path: '/audit/ui/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect((await r({ path: '/audit/ui/app.js' })).headers['content-type']).toContain('javascript');
  });

  it('every read is itself an audit row: the decision, and the API\'s outcome row naming it', async () => {
    const res = await r({ path: '/audit/events?actor=rita&limit=5', token: await token('acme', ['auditor'], 'audrey') });
    const id = res.headers['x-mem0-gov-decision-id']!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [decision] = await selectRows(db, 'WHERE event_id = $1', [id]);
    expect(decision).toMatchObject({ kind: 'decision', decision: 'allow', route: 'audit.events', actor_sub: 'audrey', tenant: 'acme', path: '/audit/events' });
    const [outcome] = await selectRows(db, 'WHERE ref_event_id = $1', [id]);
    expect(outcome).toMatchObject({ kind: 'outcome', route: 'audit.events', actor_sub: 'audrey', status: 200 });
    const detail = JSON.parse(outcome!.detail!);
    expect(detail.returned).toBe(res.json<{ rows: unknown[] }>().rows.length);
    expect(detail.query).toMatchObject({ actor: 'rita', tenant: 'acme' });
    // A refused read is a decision row too.
    const denied = await r({ path: '/audit/events', token: await token('acme', ['agent-reader'], 'nosy') });
    const [d] = await selectRows(db, 'WHERE event_id = $1', [denied.headers['x-mem0-gov-decision-id']!]);
    expect(d).toMatchObject({ decision: 'deny', route: 'audit.events', actor_sub: 'nosy', reasons: ['role_missing'] });
  });

  it('the API trusts the audit chain, not headers: around Envoy, with a used or a denied decision, it refuses', async () => {
    const direct = async (headers: Record<string, string>): Promise<{ status: number; reason: string }> => {
      const res = await fetch(`http://127.0.0.1:${stack.authz.httpPort}/audit/events?tenant=globex`, { headers });
      return { status: res.status, reason: ((await res.json()) as { reason: string }).reason };
    };
    const forged = { 'x-mem0-gov-tenant': 'acme', 'x-mem0-gov-subject': 'mallory', 'x-mem0-gov-roles': 'platform-auditor' };
    expect(await direct(forged)).toEqual({ status: 403, reason: 'audit_decision_unknown' });
    const used = await r({ path: '/audit/events', token: await token('platform', ['platform-auditor']) });
    expect(await direct({ ...forged, 'x-mem0-gov-decision-id': used.headers['x-mem0-gov-decision-id']! })).toEqual({ status: 403, reason: 'audit_decision_unknown' });
    const deny = await r({ path: '/audit/events', token: await token('acme', ['agent-reader']) });
    expect(await direct({ 'x-mem0-gov-decision-id': deny.headers['x-mem0-gov-decision-id']! })).toEqual({ status: 403, reason: 'audit_decision_unknown' });
    // A caller cannot pass identity headers through Envoy either (the edge removes them).
    const spoof = await r({ path: '/audit/events?tenant=globex', token: await token('acme', ['auditor']), headers: { 'x-mem0-gov-tenant': 'globex' } });
    expect(spoof.status).toBe(403);
  });

  it('exports download as rows + manifest that `audit verify --file` accepts; a tenant auditor\'s holds its tenant only; the evidence pack too', async () => {
    const key = loadVerifier(readFileSync(stack.env.MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE!, 'utf8'));
    for (const format of ['jsonl', 'csv'] as const) {
      const res = await download(`/audit/export?format=${format}&since=2000-01-01T00:00:00Z`, await token('acme', ['auditor']));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/x-tar');
      const files = untar(res.body);
      const dir = mkdtempSync(join(tmpdir(), 'audit-api-export-'));
      const rowsName = [...files.keys()].find((n) => n.endsWith(`.${format}`))!;
      const manifestName = [...files.keys()].find((n) => n.endsWith('.manifest.json'))!;
      for (const [n, b] of files) writeFileSync(join(dir, n), b);
      const manifest = JSON.parse(files.get(manifestName)!.toString('utf8'));
      expect(manifest.tenant).toBe('acme');
      expect(manifest.row_count).toBeGreaterThan(5);
      const v = verifyExport(join(dir, rowsName), join(dir, manifestName), [key]);
      expect(v.manifestProblems).toEqual([]);
      expect(v.reports.map((x) => x.problem)).toEqual(v.reports.map(() => null));
      expect(files.get(rowsName)!.toString('utf8')).not.toContain('globex');
    }
    const ev = await download('/audit/evidence?since=2000-01-01T00:00:00Z', await token('acme', ['auditor']));
    expect(ev.status).toBe(200);
    const pack = untar(ev.body);
    expect([...pack.keys()]).toEqual(expect.arrayContaining(['manifest.json', 'chain-verification.json', 'decisions-by-tenant.csv', 'role-matrix.json', 'policy.json']));
    expect(pack.has('config.json')).toBe(false);
    const csv = pack.get('decisions-by-tenant.csv')!.toString('utf8');
    expect(csv).toContain('acme,');
    expect(csv).not.toContain('globex');
  });

  it('chain status shows verified, then — after a tamper — broken with the first bad row, and the alert\'s metric moves', async () => {
    const chain = stack.env.MEM0_GOV_AUDIT_CHAIN_ID!;
    await waitFor('the verifier loop has verified the chain', async () => {
      const body = (await r({ path: '/audit/chains', token: await token('acme', ['auditor']) })).json<{ chains: { chain_id: string; verified: string }[] }>();
      return body.chains.some((c) => c.chain_id === chain && c.verified === 'verified');
    }, 30_000, 250);
    const metric = async (): Promise<string> => (await fetch(`http://127.0.0.1:${stack.authz.httpPort}/metrics`)).text();
    expect(await metric()).toMatch(new RegExp(`mem0gov_audit_chain_broken\\{chain="${chain}"\\} 0`));
    // The attacker turns globex's denied attempt into an allow and fixes that row's hash.
    const [row] = await selectRows(db, "WHERE chain_id = $1 AND actor_sub = 'gina' AND decision = 'deny'", [chain]);
    const forged = { ...row!, decision: 'allow' as const };
    const hash = chainHash(forged.prev_hash, canonicalHashed(forged));
    await db.query('SET session_replication_role = replica');
    await db.query("UPDATE audit.events SET decision = 'allow', hash = $1 WHERE chain_id = $2 AND seq = $3", [hash, chain, row!.seq]);
    await db.query('SET session_replication_role = DEFAULT');
    await waitFor('mem0gov_audit_chain_broken = 1', async () => new RegExp(`mem0gov_audit_chain_broken\\{chain="${chain}"\\} 1`).test(await metric()), 30_000, 250);
    expect(await metric()).toMatch(new RegExp(`mem0gov_audit_chain_verify_failures_total\\{chain="${chain}"\\} [1-9]`));
    const body = (await r({ path: '/audit/chains', token: await token('acme', ['auditor']) })).json<{ chains: { chain_id: string; verified: string; status: { problem: { seq: number; reason: string } } }[] }>();
    const c = body.chains.find((x) => x.chain_id === chain)!;
    expect(c.verified).toBe('broken');
    // The next row no longer links to the rewritten one.
    expect(c.status.problem).toMatchObject({ seq: row!.seq + 1, reason: 'prev_hash_mismatch' });
  });
});

describe('audit API through the HTTP-service variant of Envoy', () => {
  it('answers the auditor and refuses other roles the same way', async () => {
    const h = await startStack({ variant: 'http' });
    try {
      const rr = (o: Parameters<typeof call>[2]): Promise<Reply> => call(h.envoy.baseUrl, h.envoy.caFile, o);
      const ok = await rr({ path: '/audit/events', token: await h.token({ tenant: 'acme', roles: ['auditor'] }) });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.json<{ scope: { tenant: string } }>().scope.tenant).toBe('acme');
      const no = await rr({ path: '/audit/events', token: await h.token({ tenant: 'acme', roles: ['agent-reader'] }) });
      expect([no.status, no.json<{ reason: string }>().reason]).toEqual([403, 'role_missing']);
      expect((await rr({ path: '/audit/ui/' })).status).toBe(200);
    } finally {
      await h.stop();
    }
  });
});

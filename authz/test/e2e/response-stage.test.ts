// The response stage through the real Envoy (ext_authz + ext_proc), the real authz service,
// redis-server and PostgreSQL, to the Mem0 stand-in: what leaves Mem0 obeys the same rules as
// what enters it, and the audit trail says what Mem0 actually did.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../../testing/stack.js';
import { call } from '../../../testing/https.js';
import type { StoredMemory } from '../../../testing/mem0-standin.js';
import { verifyDatabase } from '../../src/audit/verify-db.js';

let stack: Stack;
let db: pg.Client;
const MEM0_KEY = 'mem0-test-key-not-a-secret';
let plain: StoredMemory;
let phi: StoredMemory;
let labelled: StoredMemory;

beforeAll(async () => {
  // Policy data: the shipped roles plus tenants with content rules.
  const shipped = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'policies', 'data.json'), 'utf8'));
  const rules = (mode: string) => ({ content_rules: { mode, detectors: ['email', 'ssn', 'card'], custom: [{ name: 'mrn', pattern: 'MRN-[0-9]{6}' }] } });
  shipped.mem0gov.tenants = { maskco: rules('mask'), flagco: rules('flag'), blockco: rules('block'), offco: rules('off') };
  const dataFile = join(mkdtempSync(join(tmpdir(), 'mem0gov-policy-')), 'data.json');
  writeFileSync(dataFile, JSON.stringify(shipped));
  stack = await startStack({ mem0ApiKey: MEM0_KEY, env: { MEM0_GOV_POLICY_DATA: dataFile } });
  db = new pg.Client(stack.pgOwnerUrl);
  await db.connect();
  plain = stack.mem0!.seed({ memory: 'Alice likes green tea', user_id: 'acme:alice' });
  phi = stack.mem0!.seed({ memory: 'Alice diagnosis: asthma', user_id: 'acme:alice', metadata: { phi: true } });
  labelled = stack.mem0!.seed({ memory: 'Alice medication: tea tree oil', user_id: 'acme:alice', metadata: { classification: 'phi' } });
  stack.mem0!.seed({ memory: 'Bob secret roadmap tea', user_id: 'globex:bob' });
  stack.mem0!.seed({ memory: 'agent note', agent_id: 'acme:support-bot' });
});
afterAll(async () => {
  await db?.end();
  await stack?.stop();
});

function req(o: Parameters<typeof call>[2]) {
  return call(stack.envoy.baseUrl, stack.envoy.caFile, o);
}

async function outcomeOf(decisionId: string): Promise<{ status: number; phi: boolean; reasons: string[]; detail: Record<string, unknown> }> {
  // The outcome row is durable before the answer is released, so it is there already.
  const r = await db.query('SELECT status, phi, reasons, detail FROM audit.events WHERE kind = $1 AND ref_event_id = $2', ['outcome', decisionId]);
  expect(r.rows).toHaveLength(1);
  const row = r.rows[0] as { status: number; phi: boolean; reasons: string[]; detail: string | null };
  return { ...row, detail: row.detail === null ? {} : JSON.parse(row.detail) };
}

const ROLE_SETS: { roles: string[]; phi: boolean }[] = [
  { roles: ['agent-reader'], phi: false },
  { roles: ['agent-writer'], phi: false },
  { roles: ['agent-reader', 'phi-reader'], phi: true },
  { roles: ['admin'], phi: true },
];

describe('PHI on the way out: role × route × PHI/non-PHI', () => {
  for (const { roles, phi: mayPhi } of ROLE_SETS) {
    const who = roles.join('+');

    it(`${who}: list and search release PHI only with the phi permission, and the outcome row says so`, async () => {
      const token = await stack.token({ tenant: 'acme', sub: `u-${who}`, roles });
      const list = await req({ path: '/memories?user_id=acme:alice', token });
      const search = await req({ method: 'POST', path: '/search', token, body: { query: 'Alice tea diagnosis medication', filters: { user_id: 'acme:alice' }, threshold: 0 } });
      for (const r of [list, search]) {
        expect(r.status).toBe(200);
        const ids = r.json<{ results: { id: string }[] }>().results.map((m) => m.id);
        expect(ids).toContain(plain.id);
        expect(ids.includes(phi.id)).toBe(mayPhi);
        expect(ids.includes(labelled.id)).toBe(mayPhi);
        expect(r.text.includes('asthma')).toBe(mayPhi);
        const out = await outcomeOf(r.headers['x-mem0-gov-decision-id']!);
        expect(out.phi).toBe(mayPhi);
        expect(out.status).toBe(200);
        if (mayPhi) expect(out.detail.withheld_phi).toBeUndefined();
        else {
          expect((out.detail.withheld_phi as string[]).sort()).toEqual([phi.id, labelled.id].sort());
          expect(out.reasons).toContain('phi_withheld');
        }
      }
    });

    it(`${who}: get and history of a PHI memory need phi; of a plain one they do not`, async () => {
      const token = await stack.token({ tenant: 'acme', sub: `u-${who}`, roles });
      for (const path of [`/memories/${phi.id}`, `/memories/${phi.id}/history`]) {
        const r = await req({ path, token });
        if (mayPhi) {
          expect(r.status).toBe(200);
          expect(r.text).toContain('asthma');
          expect((await outcomeOf(r.headers['x-mem0-gov-decision-id']!)).phi).toBe(true);
        } else {
          expect([r.status, r.json().reason]).toEqual([403, 'phi_permission_missing']);
          expect(r.text).not.toContain('asthma');
        }
      }
      for (const path of [`/memories/${plain.id}`, `/memories/${plain.id}/history`]) {
        const r = await req({ path, token });
        expect(r.status).toBe(200);
        expect(r.text).toContain('green tea');
        expect((await outcomeOf(r.headers['x-mem0-gov-decision-id']!)).phi).toBe(false);
      }
    });
  }

  it('a platform admin lists every tenant, still without PHI', async () => {
    const token = await stack.token({ tenant: 'platform', sub: 'ops', roles: ['platform-admin'] });
    const r = await req({ path: '/memories', token });
    expect(r.status).toBe(200);
    const texts = r.json<{ results: { memory: string }[] }>().results.map((m) => m.memory);
    expect(texts).toContain('Bob secret roadmap tea');
    expect(texts).toContain('Alice likes green tea');
    expect(r.text).not.toContain('asthma');
  });

  it('a tenant admin cannot list every tenant (the global route is platform-only)', async () => {
    const token = await stack.token({ tenant: 'acme', sub: 'boss', roles: ['admin'] });
    const r = await req({ path: '/memories', token });
    expect([r.status, r.json().reason]).toEqual([403, 'platform_admin_required']);
    expect(r.text).not.toContain('roadmap');
  });
});

describe('tenant on the way out', () => {
  it('GET /entities answers only the caller\'s tenant', async () => {
    const token = await stack.token({ tenant: 'acme', sub: 'r', roles: ['agent-reader'] });
    const r = await req({ path: '/entities', token });
    expect(r.status).toBe(200);
    const ids = r.json<{ id: string }[]>().map((e) => e.id).sort();
    expect(ids).toEqual(['acme:alice', 'acme:support-bot']);
    expect(r.text).not.toContain('globex');
    const out = await outcomeOf(r.headers['x-mem0-gov-decision-id']!);
    expect(out.detail.returned).toBe(2);
    expect(out.reasons).not.toContain('response_cross_tenant'); // expected filtering, not an incident
  });

  it('a memory of another tenant in a per-tenant answer is removed and recorded as response_cross_tenant', async () => {
    // Mem0 misbehaving: it returns a memory that also names another tenant's agent.
    const mixed = stack.mem0!.seed({ memory: 'leaky tea', user_id: 'acme:carol', agent_id: 'globex:agent' });
    const token = await stack.token({ tenant: 'acme', sub: 'r', roles: ['agent-reader'] });
    const r = await req({ path: '/memories?user_id=acme:carol', token });
    expect(r.status).toBe(200);
    expect(r.json<{ results: unknown[] }>().results).toEqual([]);
    const out = await outcomeOf(r.headers['x-mem0-gov-decision-id']!);
    expect(out.reasons).toContain('response_cross_tenant');
    expect(out.detail.withheld_cross_tenant).toEqual([mixed.id]);
    const metrics = await (await fetch(`http://127.0.0.1:${stack.authz.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/mem0gov_response_cross_tenant_total\{tenant="acme",route="memories.list"\} [1-9]/);
  });
});

describe('outcome rows: did Mem0 actually do it', () => {
  it('every allowed request has exactly one outcome row naming its decision, with Mem0\'s status and counts', async () => {
    const token = await stack.token({ tenant: 'acme', sub: 'w', roles: ['admin'] });
    const add = await req({ method: 'POST', path: '/memories', token, body: { messages: [{ role: 'user', content: 'Dave likes coffee' }, { role: 'assistant', content: 'noted' }], user_id: 'acme:dave', infer: false } });
    expect(add.status).toBe(200);
    const added = await outcomeOf(add.headers['x-mem0-gov-decision-id']!);
    expect(added.detail).toMatchObject({ upstream_status: 200, affected: 2 });
    const id = add.json<{ results: { id: string }[] }>().results[0]!.id;

    // Mem0 refuses: the outcome says so, although the decision was allow.
    const bad = await req({ method: 'PUT', path: `/memories/00000000-0000-0000-0000-00000000dead`, token, body: { text: 'x' } });
    expect(bad.status).toBe(404); // owner unknown: policy's memory_not_found, never reached Mem0
    const del = await req({ method: 'DELETE', path: `/memories/${id}`, token });
    expect(del.status).toBe(200);
    expect((await outcomeOf(del.headers['x-mem0-gov-decision-id']!)).detail).toMatchObject({ upstream_status: 200, affected: 1 });
    const again = await req({ method: 'DELETE', path: '/memories?user_id=acme:dave', token });
    expect(again.status).toBe(200);
    expect((await outcomeOf(again.headers['x-mem0-gov-decision-id']!)).detail).toMatchObject({ upstream_status: 200, affected: null });

    const counts = await db.query(`SELECT
      (SELECT count(*) FROM audit.events WHERE kind = 'decision' AND decision = 'allow')::int AS allowed,
      (SELECT count(*) FROM audit.events o WHERE o.kind = 'outcome'
         AND EXISTS (SELECT 1 FROM audit.events d WHERE d.event_id = o.ref_event_id AND d.kind = 'decision' AND d.decision = 'allow'))::int AS outcomes`);
    expect(counts.rows[0].outcomes).toBe(counts.rows[0].allowed);
    const reports = await verifyDatabase(db, { keys: [] });
    expect(reports.length).toBeGreaterThan(0);
    for (const rep of reports) expect(rep.problem).toBeNull();
  });

  it('the history of a deleted memory stays readable by its own tenant, never by another', async () => {
    const admin = await stack.token({ tenant: 'acme', sub: 'boss', roles: ['admin'] });
    const m = stack.mem0!.seed({ memory: 'to be deleted', user_id: 'acme:erin' });
    expect((await req({ path: `/memories/${m.id}`, token: admin })).status).toBe(200); // caches the owner
    expect((await req({ method: 'DELETE', path: `/memories/${m.id}`, token: admin })).status).toBe(200);
    // The cached owner was evicted: the deleted memory is gone, not served from the cache.
    const get = await req({ path: `/memories/${m.id}`, token: admin });
    expect([get.status, get.json().reason]).toEqual([404, 'memory_not_found']);
    const again = await req({ method: 'DELETE', path: `/memories/${m.id}`, token: admin });
    expect([again.status, again.json().reason]).toEqual([404, 'memory_not_found']);
    const reader = await stack.token({ tenant: 'acme', sub: 'r', roles: ['agent-reader'] });
    const hist = await req({ path: `/memories/${m.id}/history`, token: reader });
    expect(hist.status).toBe(200);
    expect(hist.json<{ event: string }[]>().map((e) => e.event)).toEqual(['ADD', 'DELETE']);
    const globex = await stack.token({ tenant: 'globex', sub: 'g', roles: ['admin'] });
    const foreign = await req({ path: `/memories/${m.id}/history`, token: globex });
    expect([foreign.status, foreign.json().reason]).toEqual([404, 'memory_not_found']);
  });
});

describe('content rules on the way in', () => {
  const body = (tenant: string, content: string) => ({ messages: [{ role: 'user', content }], user_id: `${tenant}:pat`, infer: false });
  const SECRET = 'mail pat@example.com, SSN 123-45-6789, MRN-123456';

  it('mask: Mem0 stores typed placeholders; audit has detector types and counts, never the text', async () => {
    const token = await stack.token({ tenant: 'maskco', sub: 'w', roles: ['agent-writer'] });
    const before = stack.mem0!.requests.length;
    const r = await req({ method: 'POST', path: '/memories', token, body: body('maskco', SECRET) });
    expect(r.status).toBe(200);
    const sent = stack.mem0!.requests.slice(before).find((x) => x.path === '/memories')!;
    expect(sent.rawBody).not.toContain('pat@example.com');
    expect(sent.rawBody).not.toContain('123-45-6789');
    expect(sent.rawBody).toContain('[EMAIL]');
    expect(sent.rawBody).toContain('[SSN]');
    expect(sent.rawBody).toContain('[CUSTOM:mrn]');
    const rows = await db.query('SELECT detail FROM audit.events WHERE request_id = $1 ORDER BY seq', [r.headers['x-request-id']]);
    const all = rows.rows.map((x) => x.detail as string).join('\n');
    expect(all).toContain('"findings"');
    expect(all).toContain('"ssn"');
    expect(all).not.toContain('123-45-6789');
    expect(all).not.toContain('pat@example.com');
  });

  it('mask on PUT text too', async () => {
    const m = stack.mem0!.seed({ memory: 'old', user_id: 'maskco:pat' });
    const token = await stack.token({ tenant: 'maskco', sub: 'w', roles: ['agent-writer'] });
    const r = await req({ method: 'PUT', path: `/memories/${m.id}`, token, body: { text: 'reach me at pat@example.com' } });
    expect(r.status).toBe(200);
    expect(stack.mem0!.memories().find((x) => x.id === m.id)!.memory).toBe('reach me at [EMAIL]');
  });

  it('flag: the memory is labelled PHI, so a reader without phi never gets it back', async () => {
    const token = await stack.token({ tenant: 'flagco', sub: 'w', roles: ['agent-writer'] });
    const r = await req({ method: 'POST', path: '/memories', token, body: body('flagco', 'my SSN is 123-45-6789') });
    expect(r.status).toBe(200);
    const stored = stack.mem0!.memories().filter((m) => m.user_id === 'flagco:pat');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.metadata).toMatchObject({ phi: true });
    const reader = await stack.token({ tenant: 'flagco', sub: 'r', roles: ['agent-reader'] });
    const list = await req({ path: '/memories?user_id=flagco:pat', token: reader });
    expect(list.json<{ results: unknown[] }>().results).toEqual([]);
  });

  it('block: refused before Mem0 (and its LLM) sees it, with a reason', async () => {
    const token = await stack.token({ tenant: 'blockco', sub: 'w', roles: ['agent-writer'] });
    const before = stack.mem0!.requests.length;
    const r = await req({ method: 'POST', path: '/memories', token, body: body('blockco', 'card 4111 1111 1111 1111') });
    expect([r.status, r.json().reason, r.json().error]).toEqual([422, 'content_blocked', 'deny']);
    expect(stack.mem0!.requests.length).toBe(before);
    const clean = await req({ method: 'POST', path: '/memories', token, body: body('blockco', 'I like tea') });
    expect(clean.status).toBe(200);
  });

  it('off: the text reaches Mem0 as sent', async () => {
    const token = await stack.token({ tenant: 'offco', sub: 'w', roles: ['agent-writer'] });
    const before = stack.mem0!.requests.length;
    expect((await req({ method: 'POST', path: '/memories', token, body: body('offco', SECRET) })).status).toBe(200);
    expect(stack.mem0!.requests.slice(before)[0]!.rawBody).toContain('123-45-6789');
  });
});

describe('what the stage refuses to release', () => {
  it('a 2xx answer that is not JSON → 502 upstream_invalid_json, audited', async () => {
    stack.mem0!.intercept = (r) => (r.path === '/memories' && r.method === 'GET' ? { status: 200, body: '<html>oops', contentType: 'text/html' } : undefined);
    try {
      const token = await stack.token({ tenant: 'acme', sub: 'r', roles: ['agent-reader'] });
      const r = await req({ path: '/memories?user_id=acme:alice', token });
      expect([r.status, r.json().reason]).toEqual([502, 'upstream_invalid_json']);
      expect(r.text).not.toContain('oops');
      const out = await outcomeOf(r.headers['x-mem0-gov-decision-id']!);
      expect(out.status).toBe(502);
      expect(out.reasons).toContain('upstream_invalid_json');
    } finally {
      stack.mem0!.intercept = undefined;
    }
  });

  it('when the response stage is down, nothing is released', async () => {
    // Mem0 answers slowly; the service goes away while Envoy waits for it.
    stack.mem0!.intercept = (r) => (r.path === '/memories' && r.method === 'GET'
      ? { status: 200, body: JSON.stringify({ results: [{ id: 'x', memory: 'asthma leak', user_id: 'acme:alice', metadata: { phi: true } }] }), delayMs: 1500 }
      : undefined);
    try {
      const token = await stack.token({ tenant: 'acme', sub: 'r', roles: ['agent-reader'] });
      const before = stack.mem0!.requests.length;
      const pending = req({ path: '/memories?user_id=acme:alice', token });
      await new Promise((r) => setTimeout(r, 500));
      // allowed and forwarded: Mem0 is working on it
      expect(stack.mem0!.requests.slice(before).some((x) => x.path === '/memories')).toBe(true);
      await stack.authz.abort(); // a crash, not a drain: in-flight streams break
      const r = await pending;
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(r.text).not.toContain('asthma');
    } finally {
      stack.mem0!.intercept = undefined;
      await stack.restartAuthz();
    }
  });
});

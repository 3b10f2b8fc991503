// The policy matrix (policies/matrix.json — the same cases `opa test` and the wasm engine
// tests run) replayed as real HTTP requests: Envoy → authz (JWT, Redis gate with real
// break-glass grants, owner lookup against the Mem0 stand-in, wasm policy, PostgreSQL audit)
// → Mem0 stand-in. Every role × every route × own tenant / other tenant / PHI / break-glass /
// missing memory / no entity; then every decision is checked in the audit chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { startStack } from '../../../testing/stack.js';
import type { Stack } from '../../../testing/stack.js';
import { call } from '../../../testing/https.js';
import { ROOT } from '../../../testing/tools.js';
import { storeGrant } from '../../src/gate/breakglass-store.js';
import type { EntityRef, MemoryOwner, PolicyInput } from '../../src/types.js';

interface MatrixCase {
  name: string;
  scenario: { roles: string[]; route: string; scope: string; tenant: string };
  input: PolicyInput;
  expect: { allow: boolean; reasons: string[]; status?: number; break_glass: boolean; phi: boolean; audit_reasons: string[] };
}
const matrix = JSON.parse(readFileSync(join(ROOT, 'policies/matrix.json'), 'utf8')).mem0gov_matrix as { data: unknown; cases: MatrixCase[] };

const SCOPES = new Set(['own-tenant', 'other-tenant', 'phi', 'phi-other-tenant', 'phi-in-body', 'break-glass-admin', 'missing', 'no-entity']);
// `/entities/user/` (no id) is not a request HTTP can make distinct from an unknown route, and a
// GET /memories naming no entity is memories.list_all (its own cases), never memories.list.
const cases = matrix.cases.filter(
  (c) => SCOPES.has(c.scenario.scope) && c.scenario.route !== 'bogus.route'
    && !(c.scenario.scope === 'no-entity' && (c.scenario.route === 'entities.delete' || c.scenario.route === 'memories.list')),
);

let stack: Stack;
let redis: Redis;

beforeAll(async () => {
  // Replay needs many requests from one tenant: limits high enough not to interfere.
  const dir = (await import('node:os')).tmpdir();
  const dataFile = join(dir, `matrix-data-${process.pid}.json`);
  writeFileSync(dataFile, JSON.stringify(matrix.data));
  stack = await startStack({ env: { MEM0_GOV_POLICY_DATA: dataFile, MEM0_GOV_LIMIT_DEFAULT: '100000/m', MEM0_GOV_LIMIT_TENANT_DEFAULT: '100000/m' } });
  redis = new Redis(stack.redis.url);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

/** Builds the HTTP request that makes authz produce `input.request`. */
function httpRequest(c: MatrixCase, memoryId: string | undefined): { method: string; path: string; body?: unknown } {
  const r = c.input.request;
  const by = (src: EntityRef['source']): EntityRef[] => r.entities.filter((e) => e.source === src);
  const query = new URLSearchParams(by('query').map((e) => [e.kind, e.id]));
  const body: Record<string, unknown> = {};
  for (const e of by('body')) body[e.kind] = e.id;
  const filters: Record<string, unknown> = {};
  for (const e of by('filters')) {
    const prev = filters[e.kind];
    filters[e.kind] = prev === undefined ? e.id : { in: [...(typeof prev === 'string' ? [prev] : (prev as { in: string[] }).in), e.id] };
  }
  if (Object.keys(filters).length > 0) body.filters = filters;
  if (r.phi_in_body) body.metadata = { phi: true };
  const qs = query.toString() ? `?${query.toString()}` : '';
  switch (r.route) {
    case 'memories.create':
      return { method: 'POST', path: `/memories${qs}`, body: { messages: [{ role: 'user', content: 'likes tea' }], ...body } };
    case 'memories.list':
      return { method: 'GET', path: `/memories${qs}` };
    case 'memories.bulk_delete':
      return { method: 'DELETE', path: `/memories${qs}` };
    case 'memories.get':
      return { method: 'GET', path: `/memories/${memoryId}` };
    case 'memories.history':
      return { method: 'GET', path: `/memories/${memoryId}/history` };
    case 'memories.update':
      return { method: 'PUT', path: `/memories/${memoryId}`, body: { text: 'likes green tea', ...body } };
    case 'memories.delete':
      return { method: 'DELETE', path: `/memories/${memoryId}` };
    case 'search':
      return { method: 'POST', path: `/search${qs}`, body: { query: 'tea', ...body } };
    case 'entities.delete':
      return { method: 'DELETE', path: r.path };
    case 'memories.list_all':
      return { method: 'GET', path: '/memories' };
    case 'entities.list':
    case 'configure.get':
    case 'configure.providers':
    case 'requests.list':
    case 'docs':
      return { method: 'GET', path: r.path };
    case 'reset':
      return { method: 'POST', path: '/reset' };
    case 'instructions.generate':
      return { method: 'POST', path: '/generate-instructions', body: { use_case: 'a support agent' } };
    case 'mem0.account':
      return { method: 'POST', path: '/auth/login', body: { email: 'a@example.com', password: 'x' } };
    case 'audit.events':
    case 'audit.memory':
    case 'audit.chains':
    case 'audit.export':
    case 'audit.evidence':
      return { method: 'GET', path: r.path };
    default:
      return { method: r.method, path: r.path, body: {} };
  }
}

function seedOwner(owner: MemoryOwner): string {
  const ids: Record<string, string> = {};
  if (owner.user_id) ids.user_id = owner.user_id;
  if (owner.agent_id) ids.agent_id = owner.agent_id;
  if (owner.run_id) ids.run_id = owner.run_id;
  return stack.mem0!.seed({ ...ids, memory: 'seeded', metadata: owner.phi ? { phi: true } : { topic: 'drinks' } }).id;
}

describe('policy matrix through Envoy', () => {
  const decisions: { name: string; decisionId: string; c: MatrixCase }[] = [];

  it(`replays ${cases.length} matrix cases end to end`, async () => {
    expect(cases.length).toBeGreaterThan(300);
    const failures: string[] = [];
    for (const c of cases) {
      const sub = `u-${randomUUID().slice(0, 8)}`;
      const owner = c.input.owner;
      const memoryId = c.input.request.memory_id === undefined ? undefined : owner?.exists ? seedOwner(owner) : randomUUID();
      if (c.input.break_glass) {
        const now = Date.now();
        await storeGrant(redis, {
          grantId: randomUUID(), subject: sub, tenant: c.scenario.tenant, role: c.input.break_glass.role,
          justification: 'matrix replay: incident drill', grantedBy: 'matrix-test', grantedAt: now, expiresAt: now + 600_000,
        });
      }
      const token = await stack.token({ tenant: c.scenario.tenant, roles: c.scenario.roles, sub });
      // Forwarded by Envoy (carries our decision id), as opposed to authz's own owner lookups.
      const forwarded = (): number => stack.mem0!.requests.filter((q) => q.headers['x-mem0-gov-decision-id'] !== undefined).length;
      const before = forwarded();
      const http = httpRequest(c, memoryId);
      const res = await call(stack.envoy.baseUrl, stack.envoy.caFile, { ...http, token });
      const reachedMem0 = forwarded() > before;
      const got = res.status >= 200 && res.status < 300 ? 'allow' : `${res.status} ${res.headers['content-type']?.includes('json') ? (res.json().reason as string) : res.text.slice(0, 60)}`;
      const want = c.expect.allow ? 'allow' : `${c.expect.status ?? 403} ${c.expect.reasons[0]}`;
      // The audit API is mem0-gov's own (authz :9192): an allowed read never reaches Mem0.
      const toMem0 = c.expect.allow && !c.scenario.route.startsWith('audit.');
      if (got !== want || reachedMem0 !== toMem0) failures.push(`${c.name}: got ${got}${reachedMem0 ? ' (reached Mem0)' : ''}, want ${want}`);
      const decisionId = res.headers['x-mem0-gov-decision-id'];
      if (decisionId) decisions.push({ name: c.name, decisionId, c });
      else failures.push(`${c.name}: no decision id`);
    }
    expect(failures).toEqual([]);
  });

  it('every decision is in the audit chain with its break-glass, PHI and audit-only reasons', async () => {
    expect(decisions.length).toBe(cases.length);
    const db = new pg.Client(stack.pgOwnerUrl);
    await db.connect();
    try {
      const { rows } = await db.query<{ event_id: string; decision: string; reasons: string[]; break_glass: boolean; phi: boolean; tenant: string }>(
        'SELECT event_id, decision, reasons, break_glass, phi, tenant FROM audit.events WHERE event_id = ANY($1)',
        [decisions.map((d) => d.decisionId)],
      );
      const byId = new Map(rows.map((r) => [r.event_id, r]));
      const problems: string[] = [];
      for (const d of decisions) {
        const row = byId.get(d.decisionId);
        if (!row) {
          problems.push(`${d.name}: no audit row`);
          continue;
        }
        const e = d.c.expect;
        if (row.decision !== (e.allow ? 'allow' : 'deny')) problems.push(`${d.name}: decision ${row.decision}`);
        if (row.break_glass !== e.break_glass) problems.push(`${d.name}: break_glass ${row.break_glass}`);
        if (e.phi && !row.phi) problems.push(`${d.name}: phi not recorded`);
        for (const a of e.audit_reasons) if (!row.reasons.includes(a)) problems.push(`${d.name}: audit reason ${a} missing`);
        if (row.tenant !== d.c.scenario.tenant) problems.push(`${d.name}: tenant ${row.tenant}`);
      }
      expect(problems).toEqual([]);
    } finally {
      await db.end();
    }
  });
});

// The authorization matrix (policies/matrix.json) through the compiled wasm and the real engine.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyEngine, type RunningPolicyEngine } from '../../../src/policy/engine.js';
import type { Expect, MatrixCase } from '../../../../policies/matrix.js';
import { buildShippedPolicy } from '../../../../policies/compile.js';
import { ROOT } from '../../../../testing/tools.js';
import { jcs } from '../../../src/audit/jcs.js';

const matrix = (JSON.parse(readFileSync(join(ROOT, 'policies', 'matrix.json'), 'utf8')) as {
  mem0gov_matrix: { data: unknown; cases: MatrixCase[] };
}).mem0gov_matrix;

let dir: string;
let engine: RunningPolicyEngine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mem0gov-matrix-'));
  const wasmPath = buildShippedPolicy(dir);
  const dataPath = join(dir, 'data.json');
  writeFileSync(dataPath, JSON.stringify(matrix.data));
  engine = await createPolicyEngine({ wasmPath, dataPath, watch: false }, pino({ level: 'silent' }));
});

afterAll(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

function observed(c: MatrixCase): Expect {
  const d = engine.evaluate(c.input);
  const o: Expect = { allow: d.allow, reasons: d.reasons, break_glass: d.break_glass === true, phi: d.phi === true, audit_reasons: d.audit_reasons };
  if (!d.allow) o.status = d.status;
  if (d.allow) {
    o.answer = d.answer;
    o.content = d.content ?? null;
  }
  return o;
}

describe('policy matrix through the compiled wasm', () => {
  it('covers every role × route × scope', () => {
    const routes = new Set(matrix.cases.map((c) => c.scenario.route));
    const scopes = new Set(matrix.cases.map((c) => c.scenario.scope));
    expect(routes.size).toBeGreaterThanOrEqual(20); // 19 routes of today's Mem0 + an unknown one
    for (const s of ['own-tenant', 'other-tenant', 'phi', 'break-glass-admin', 'missing']) expect(scopes).toContain(s);
    for (const r of ['agent-reader', 'agent-writer', 'admin', 'auditor']) {
      expect(matrix.cases.filter((c) => c.scenario.roles.length === 1 && c.scenario.roles[0] === r).length).toBeGreaterThan(50);
    }
  });

  it('every case decides as expected', () => {
    const wrong = matrix.cases
      .map((c) => ({ name: c.name, want: c.expect, got: observed(c) }))
      .filter((r) => jcs(r.got) !== jcs(r.want));
    expect(wrong).toEqual([]);
  });

  it('every decision names the revision it was made under', () => {
    const d = engine.evaluate(matrix.cases[0]!.input);
    expect(d.revision).toBe(engine.revision());
    expect(d.revision).toMatch(/^[0-9a-f]{64}$/);
  });

  it('missing and cross-tenant memories give the caller the same answer; audit tells them apart', () => {
    for (const route of ['memories.get', 'memories.history', 'memories.update', 'memories.delete']) {
      for (const roles of [['agent-reader'], ['agent-writer'], ['admin']]) {
        const find = (scope: string): MatrixCase => matrix.cases.find((c) =>
          c.scenario.route === route && c.scenario.scope === scope && c.scenario.roles.join('+') === roles.join('+'))!;
        const missing = engine.evaluate(find('missing').input);
        const foreign = engine.evaluate(find('other-tenant').input);
        const foreignPhi = engine.evaluate(find('phi-other-tenant').input);
        expect(foreign.reasons).toEqual(missing.reasons);
        expect(foreign.status).toBe(missing.status);
        expect(foreignPhi.reasons).toEqual(missing.reasons);
        expect(foreignPhi.status).toBe(missing.status);
        expect(missing.audit_reasons).toEqual(['memory_absent']);
        expect(foreign.audit_reasons).toEqual(['memory_cross_tenant']);
      }
    }
  });

  it('spot checks of the security claims', () => {
    const get = (name: string) => {
      const c = matrix.cases.find((x) => x.name === name);
      if (!c) throw new Error(`no case ${name}`);
      return engine.evaluate(c.input);
    };
    expect(get('agent-reader memories.get own-tenant').allow).toBe(true);
    expect(get('agent-reader memories.create own-tenant').reasons[0]).toBe('role_missing');
    expect(get('agent-writer search other-tenant').reasons).toEqual(['cross_tenant']);
    expect(get('agent-writer memories.create mixed-entities').reasons).toEqual(['cross_tenant']);
    // Listing every tenant is the platform's, never a tenant admin's.
    expect(get('admin memories.list_all own-tenant').reasons).toEqual(['platform_admin_required']);
    expect(get('platform-admin memories.list_all own-tenant')).toMatchObject({ allow: true, answer: { tenant_prefixes: null } });
    expect(get('agent-reader memories.list no-entity')).toMatchObject({ status: 400, reasons: ['entity_id_required'] });
    expect(get('agent-writer memories.create no-entity')).toMatchObject({ allow: false, status: 400, reasons: ['entity_id_required'] });
    // Reset wipes every tenant: a tenant admin's break-glass grant does not open it.
    expect(get('admin reset own-tenant').reasons).toEqual(['platform_admin_required', 'break_glass_required']);
    expect(get('admin reset break-glass-admin')).toMatchObject({ allow: false, break_glass: true, reasons: ['platform_admin_required'] });
    expect(get('admin reset break-glass-platform-grant').reasons).toEqual(['platform_admin_required']);
    expect(get('agent-reader reset break-glass-admin').reasons).toEqual(['platform_admin_required']);
    expect(get('platform-admin reset own-tenant').reasons).toEqual(['break_glass_required']);
    expect(get('platform-admin reset break-glass-expired').reasons).toEqual(['break_glass_required']);
    expect(get('platform-admin reset platform-with-break-glass')).toMatchObject({ allow: true, break_glass: true });
    expect(get('admin configure.set own-tenant').reasons).toEqual(['platform_admin_required']);
    expect(get('admin mem0.account own-tenant').reasons).toEqual(['mem0_account_route']);
    expect(get('agent-reader memories.get phi').reasons).toEqual(['phi_permission_missing']);
    expect(get('agent-reader+phi-reader memories.get phi')).toMatchObject({ allow: true, phi: true });
    expect(get('agent-writer memories.create phi-in-body')).toMatchObject({ allow: true, phi: true });
    expect(get('admin memories.get break-glass-other-tenant').reasons).toEqual(['memory_not_found']);
    expect(get('auditor memories.get own-tenant').reasons).toEqual(['role_missing']);
    expect(get('agent-writer memories.create suspended').reasons).toEqual(['tenant_suspended']);
    expect(get('agent-writer memories.create cidr-outside').reasons).toEqual(['source_ip_not_allowed']);
    expect(get('agent-writer memories.create hours-end').reasons).toEqual(['outside_allowed_hours']);
    expect(get('agent-writer memories.create prefix-confusion').reasons).toEqual(['cross_tenant']);
    expect(get('admin bogus.route unknown-route').reasons).toEqual(['unknown_route']);
    expect(get('agent-writer memories.get writes-denied').allow).toBe(true);
    expect(get('agent-writer memories.create writes-denied')).toMatchObject({ allow: false, status: 403, reasons: ['action_denied_for_tenant'] });
    expect(get('admin memories.delete writes-denied').reasons).toEqual(['action_denied_for_tenant']);
    expect(get('agent-reader entities.delete writes-denied-break-glass-admin')).toMatchObject({ allow: false, break_glass: true, reasons: ['action_denied_for_tenant'] });
  });
});

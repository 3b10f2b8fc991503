// The shadow bundle in the real engine (opa-wasm, bundles compiled by the OPA CLI): evaluated
// with the same input after the enforced one, never deciding; loaded, rejected and hot-reloaded
// like the enforced one; a shadow failure never changes a decision.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyEngine, type RunningPolicyEngine } from '../../../src/policy/engine.js';
import { bundleRevision } from '../../../src/policy/bundle.js';
import { registry } from '../../../src/metrics.js';
import type { PolicyInput } from '../../../src/types.js';
import { buildShippedPolicy, compileRego } from '../../../../policies/compile.js';
import { ROOT, waitFor } from '../../../../testing/tools.js';
import { candidateWasm, CREATE_NEEDS_ADMIN_REGO } from './shadow-candidate.js';

let shippedWasm: Buffer;
let createNeedsAdmin: Buffer;
let failsOnWrites: Buffer;
const shippedData = readFileSync(join(ROOT, 'policies', 'data.json'));
const phiForWritersData = Buffer.from(JSON.stringify({
  mem0gov: { ...(JSON.parse(shippedData.toString()) as { mem0gov: { roles: Record<string, string[]> } }).mem0gov,
    roles: { ...(JSON.parse(shippedData.toString()) as { mem0gov: { roles: Record<string, string[]> } }).mem0gov.roles, 'agent-writer': ['read', 'write', 'phi'] } },
}));

const createInput: PolicyInput = {
  now_ms: Date.UTC(2026, 0, 15, 12),
  request: {
    method: 'POST', path: '/memories', route: 'memories.create', action: 'write',
    entities: [{ kind: 'user_id', id: 'acme:alice', source: 'body' }], phi_in_body: false, source_ip: '10.0.0.1', options: {},
  },
  subject: { sub: 'alice', tenant: 'acme', roles: ['agent-writer'] },
};
const listInput: PolicyInput = { ...createInput, request: { ...createInput.request, method: 'GET', route: 'memories.list', action: 'read', entities: [{ kind: 'user_id', id: 'acme:alice', source: 'query' }] } };

beforeAll(() => {
  const out = mkdtempSync(join(tmpdir(), 'mem0gov-shipped-'));
  shippedWasm = readFileSync(buildShippedPolicy(out));
  rmSync(out, { recursive: true, force: true });
  createNeedsAdmin = candidateWasm(CREATE_NEEDS_ADMIN_REGO);
  // Passes the load probe (a list), fails on a write: a deny without a reason is malformed.
  failsOnWrites = compileRego({ 'bad.rego': `package mem0.authz

import rego.v1

default decision := {"allow": false, "reasons": []}

decision := {"allow": true, "reasons": [], "answer": {"tenant_prefixes": ["acme:"], "phi_allowed": false}} if input.request.action == "read"
` });
});

interface Rig { dir: string; shadowWasm: string; shadowData: string; engine: RunningPolicyEngine; logs: string[] }
const rigs: Rig[] = [];

async function rig(shadow: { wasm?: Buffer | string; data?: Buffer } | undefined, watch = false): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-shadow-'));
  const wasmPath = join(dir, 'policy.wasm');
  const dataPath = join(dir, 'data.json');
  const shadowWasm = join(dir, 'candidate', 'policy.wasm');
  const shadowData = join(dir, 'candidate', 'data.json');
  writeFileSync(wasmPath, shippedWasm);
  writeFileSync(dataPath, shippedData);
  mkdirSync(join(dir, 'candidate'));
  if (shadow?.wasm !== undefined) writeFileSync(shadowWasm, shadow.wasm);
  writeFileSync(shadowData, shadow?.data ?? shippedData);
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const engine = await createPolicyEngine({
    wasmPath, dataPath, watch,
    ...(shadow !== undefined ? { shadow: { wasmPath: shadow.wasm !== undefined ? shadowWasm : wasmPath, dataPath: shadowData } } : {}),
  }, pino({ level: 'info' }, sink));
  const r = { dir, shadowWasm, shadowData, engine, logs };
  rigs.push(r);
  return r;
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.engine.close();
    rmSync(r.dir, { recursive: true, force: true });
  }
});

describe('shadow policy in the engine', () => {
  it('off: no shadow in any decision', async () => {
    const r = await rig(undefined);
    expect(r.engine.shadowRevision()).toBeUndefined();
    expect(r.engine.evaluate(createInput).shadow).toBeUndefined();
    expect(await r.engine.reloadShadow()).toBe('unchanged');
  });

  it('a candidate Rego change: the enforced decision stands, the shadow says what it would have decided', async () => {
    const r = await rig({ wasm: createNeedsAdmin });
    expect(r.engine.shadowRevision()).toBe(bundleRevision(createNeedsAdmin, shippedData));
    const d = r.engine.evaluate(createInput);
    expect(d).toMatchObject({ allow: true, reasons: [], revision: bundleRevision(shippedWasm, shippedData) });
    expect(d.shadow).toEqual({
      revision: bundleRevision(createNeedsAdmin, shippedData), allow: false, status: 403, reasons: ['role_missing'], agree: false, differs: ['allow', 'status', 'reason'],
    });
    // Where they agree, the summary says so.
    expect(r.engine.evaluate(listInput).shadow).toMatchObject({ allow: true, agree: true, differs: [] });
    expect(r.engine.evaluate({ ...createInput, subject: { ...createInput.subject, roles: ['admin'] } }).shadow?.agree).toBe(true);
  });

  it('a candidate data change (enforced wasm): answer rules that differ are a disagreement', async () => {
    const r = await rig({ data: phiForWritersData });
    const d = r.engine.evaluate(listInput);
    expect(d.answer).toEqual({ tenant_prefixes: ['acme:'], phi_allowed: false });
    expect(d.shadow).toMatchObject({ allow: true, agree: false, differs: ['answer'] });
  });

  it('a shadow that fails to evaluate: the decision is unchanged, the failure counted and logged once per window', async () => {
    const r = await rig({ wasm: failsOnWrites });
    const before = await counter('mem0gov_policy_shadow_errors_total', { stage: 'eval' });
    for (let i = 0; i < 3; i++) {
      const d = r.engine.evaluate(createInput);
      expect(d).toMatchObject({ allow: true, reasons: [] });
      expect(d.shadow).toMatchObject({ allow: false, status: 503, reasons: ['policy_eval_failed'], agree: false });
    }
    expect(await counter('mem0gov_policy_shadow_errors_total', { stage: 'eval' })).toBe(before + 3);
    expect(r.logs.filter((l) => l.includes('shadow policy evaluation failed'))).toHaveLength(1);
  });

  it('a shadow that does not load never stops the service; a good file brings it in', async () => {
    const before = await counter('mem0gov_policy_shadow_errors_total', { stage: 'load' });
    const r = await rig({ wasm: Buffer.from('not wasm') });
    expect(await counter('mem0gov_policy_shadow_errors_total', { stage: 'load' })).toBe(before + 1);
    expect(r.engine.shadowRevision()).toBeUndefined();
    expect(r.engine.evaluate(createInput)).toMatchObject({ allow: true });
    expect(r.engine.evaluate(createInput).shadow).toBeUndefined();
    expect(r.logs.join('')).toContain('no shadow runs until it loads');
    writeFileSync(r.shadowWasm, createNeedsAdmin);
    expect(await r.engine.reloadShadow()).toBe('ok');
    expect(r.engine.evaluate(createInput).shadow?.agree).toBe(false);
  });

  it('hot reload: the watcher swaps a changed shadow file in; the enforced revision is untouched', async () => {
    const r = await rig({ wasm: shippedWasm }, true);
    const enforced = r.engine.revision();
    expect(r.engine.evaluate(createInput).shadow?.agree).toBe(true);
    writeFileSync(`${r.shadowWasm}.new`, createNeedsAdmin);
    renameSync(`${r.shadowWasm}.new`, r.shadowWasm);
    await waitFor('shadow swap', async () => r.engine.shadowRevision() === bundleRevision(createNeedsAdmin, shippedData), 5000);
    expect(r.engine.revision()).toBe(enforced);
    expect(r.engine.evaluate(createInput).shadow?.agree).toBe(false);
    const info = await registry.getSingleMetric('mem0gov_policy_shadow_revision_info')!.get();
    expect(info.values.find((v) => v.value === 1)?.labels.revision).toBe(r.engine.shadowRevision());
  });
  it('hot reload from a Kubernetes ConfigMap volume: kubelet swaps the ..data symlink, the file names stay', async () => {
    // The layout kubelet's atomic writer keeps: <dir>/..<ts>/policy.wasm, ..data -> ..<ts>,
    // policy.wasm -> ..data/policy.wasm; an update writes ..<ts2>, then renames a new ..data over the old.
    const cm = mkdtempSync(join(tmpdir(), 'mem0gov-configmap-'));
    mkdirSync(join(cm, '..2026_11_26_01'));
    writeFileSync(join(cm, '..2026_11_26_01', 'policy.wasm'), shippedWasm);
    symlinkSync('..2026_11_26_01', join(cm, '..data'));
    symlinkSync('..data/policy.wasm', join(cm, 'policy.wasm'));
    const dir = mkdtempSync(join(tmpdir(), 'mem0gov-shadow-'));
    writeFileSync(join(dir, 'policy.wasm'), shippedWasm);
    writeFileSync(join(dir, 'data.json'), shippedData);
    const engine = await createPolicyEngine({
      wasmPath: join(dir, 'policy.wasm'), dataPath: join(dir, 'data.json'), watch: true,
      shadow: { wasmPath: join(cm, 'policy.wasm'), dataPath: join(dir, 'data.json') },
    }, pino({ level: 'silent' }));
    const r = { dir, shadowWasm: join(cm, 'policy.wasm'), shadowData: join(dir, 'data.json'), engine, logs: [] };
    rigs.push(r);
    expect(r.engine.shadowRevision()).toBe(bundleRevision(shippedWasm, shippedData));
    mkdirSync(join(cm, '..2026_11_26_02'));
    writeFileSync(join(cm, '..2026_11_26_02', 'policy.wasm'), createNeedsAdmin);
    symlinkSync('..2026_11_26_02', join(cm, '..data_tmp'));
    renameSync(join(cm, '..data_tmp'), join(cm, '..data'));
    rmSync(join(cm, '..2026_11_26_01'), { recursive: true });
    await waitFor('shadow swap', async () => r.engine.shadowRevision() === bundleRevision(createNeedsAdmin, shippedData), 5000);
    expect(r.engine.evaluate(createInput).shadow?.agree).toBe(false);
    rmSync(cm, { recursive: true, force: true });
  });
});

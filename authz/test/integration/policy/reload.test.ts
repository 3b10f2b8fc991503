// Hot reload: a good bundle is swapped in whole; a broken one is rejected, logged, and the last
// good revision keeps answering.
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyEngine, type RunningPolicyEngine } from '../../../src/policy/engine.js';
import { bundleRevision } from '../../../src/policy/bundle.js';
import { registry } from '../../../src/metrics.js';
import type { PolicyInput } from '../../../src/types.js';
import { buildShippedPolicy, compileRego, TRIVIAL_ALLOW_REGO } from '../../../../policies/compile.js';
import { ROOT, waitFor } from '../../../../testing/tools.js';

let shippedWasm: Buffer;
let trivialWasm: Buffer;
let wrongEntrypointWasm: Buffer;
const shippedData = readFileSync(join(ROOT, 'policies', 'data.json'));
const suspendedData = Buffer.from(JSON.stringify({
  mem0gov: { ...(JSON.parse(shippedData.toString()) as { mem0gov: object }).mem0gov, tenants: { acme: { suspended: true } } },
}));

const readInput: PolicyInput = {
  now_ms: Date.UTC(2026, 0, 15, 12),
  request: {
    method: 'GET', path: '/memories', route: 'memories.list', action: 'read',
    entities: [{ kind: 'user_id', id: 'acme:alice', source: 'query' }], phi_in_body: false, source_ip: '10.0.0.1', options: {},
  },
  subject: { sub: 'alice', tenant: 'acme', roles: ['agent-reader'] },
};
const writeInput: PolicyInput = {
  ...readInput,
  request: { ...readInput.request, method: 'POST', route: 'memories.create', action: 'write', entities: [{ kind: 'user_id', id: 'acme:alice', source: 'body' }] },
  subject: { ...readInput.subject, roles: ['agent-writer'] },
};
const writesDeniedData = Buffer.from(JSON.stringify({
  mem0gov: {
    ...(JSON.parse(shippedData.toString()) as { mem0gov: object }).mem0gov,
    tenants: { acme: { denied_actions: ['write', 'delete', 'bulk_delete', 'admin'] } },
  },
}));
const foreignInput: PolicyInput = { ...readInput, request: { ...readInput.request, entities: [{ kind: 'user_id', id: 'globex:bob', source: 'query' }] } };

beforeAll(() => {
  const out = mkdtempSync(join(tmpdir(), 'mem0gov-shipped-'));
  shippedWasm = readFileSync(buildShippedPolicy(out));
  rmSync(out, { recursive: true, force: true });
  trivialWasm = compileRego({ 'trivial.rego': TRIVIAL_ALLOW_REGO });
  wrongEntrypointWasm = compileRego({ 'other.rego': 'package other\n\nimport rego.v1\n\nallow := true\n' }, 'other/allow');
});

interface Rig { dir: string; wasmPath: string; dataPath: string; engine: RunningPolicyEngine; logs: string[] }
const rigs: Rig[] = [];

async function rig(watch: boolean): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-reload-'));
  const wasmPath = join(dir, 'policy.wasm');
  const dataPath = join(dir, 'data.json');
  writeFileSync(wasmPath, shippedWasm);
  writeFileSync(dataPath, shippedData);
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const engine = await createPolicyEngine({ wasmPath, dataPath, watch }, pino({ level: 'info' }, sink));
  const r = { dir, wasmPath, dataPath, engine, logs };
  rigs.push(r);
  return r;
}

/** Replaces a file the way builds and config management do: write aside, rename over. */
function replace(path: string, bytes: Buffer | string): void {
  writeFileSync(`${path}.new`, bytes);
  renameSync(`${path}.new`, path);
}

async function reloadCount(result: string): Promise<number> {
  const m = await registry.getSingleMetric('mem0gov_policy_reloads_total')!.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.engine.close();
    rmSync(r.dir, { recursive: true, force: true });
  }
});


describe('policy hot reload', () => {
  it('revision is sha256 of wasm bytes + data bytes', async () => {
    const r = await rig(false);
    expect(r.engine.revision()).toBe(bundleRevision(shippedWasm, shippedData));
    const info = await registry.getSingleMetric('mem0gov_policy_revision_info')!.get();
    expect(info.values.find((v) => v.value === 1)?.labels.revision).toBe(r.engine.revision());
  });

  it('a changed data file is picked up by the watcher and swapped in', async () => {
    const r = await rig(true);
    const before = r.engine.revision();
    expect(r.engine.evaluate(readInput).allow).toBe(true);
    replace(r.dataPath, suspendedData);
    await waitFor('data swap', async () => r.engine.revision() !== before, 5000);
    expect(r.engine.revision()).toBe(bundleRevision(shippedWasm, suspendedData));
    expect(r.engine.evaluate(readInput).reasons).toEqual(['tenant_suspended']);
  });

  it('denied_actions in a reloaded data file stops writes and lets reads through (incident "deny writes")', async () => {
    const r = await rig(false);
    expect(r.engine.evaluate(writeInput).allow).toBe(true);
    replace(r.dataPath, writesDeniedData);
    expect(await r.engine.reload()).toBe('ok');
    expect(r.engine.revision()).toBe(bundleRevision(shippedWasm, writesDeniedData));
    expect(r.engine.evaluate(writeInput)).toMatchObject({ allow: false, reasons: ['action_denied_for_tenant'], status: 403 });
    expect(r.engine.evaluate({ ...readInput, subject: writeInput.subject }).allow).toBe(true);
    // Undo: the shipped data (no denied actions) allows the write again.
    replace(r.dataPath, shippedData);
    expect(await r.engine.reload()).toBe('ok');
    expect(r.engine.evaluate(writeInput).allow).toBe(true);
  });

  it('a changed wasm file is picked up by the watcher and swapped in', async () => {
    const r = await rig(true);
    const before = r.engine.revision();
    expect(r.engine.evaluate(foreignInput).allow).toBe(false);
    replace(r.wasmPath, trivialWasm);
    await waitFor('wasm swap', async () => r.engine.revision() !== before, 5000);
    expect(r.engine.evaluate(foreignInput).allow).toBe(true);
  });

  it.each([
    ['garbage wasm', 'wasm', Buffer.from('not a wasm module')],
    ['wasm without the decision entrypoint', 'wasm', 'WRONG_ENTRYPOINT'],
    ['unparseable data', 'data', '{"mem0gov": {'],
    ['data that is not an object', 'data', '[1,2,3]'],
    ['data without roles', 'data', '{"mem0gov": {"tenants": {}}}'],
    ['data with a malformed role', 'data', '{"mem0gov": {"roles": {"admin": "read"}}}'],
    ['data with an unknown denied action', 'data', '{"mem0gov": {"roles": {"admin": ["read"]}, "tenants": {"acme": {"denied_actions": ["writes"]}}}}'],
  ])('rejects %s and keeps the last good revision', async (_name, which, bytes) => {
    const r = await rig(false);
    const good = r.engine.revision();
    const errorsBefore = await reloadCount('error');
    const payload = bytes === 'WRONG_ENTRYPOINT' ? wrongEntrypointWasm : bytes;
    replace(which === 'wasm' ? r.wasmPath : r.dataPath, payload);
    expect(await r.engine.reload()).toBe('error');
    expect(r.engine.revision()).toBe(good);
    expect(r.engine.evaluate(readInput).allow).toBe(true);
    expect(r.engine.evaluate(foreignInput).reasons).toEqual(['cross_tenant']);
    expect(await reloadCount('error')).toBe(errorsBefore + 1);
    expect(r.logs.join('')).toContain('policy bundle rejected');
    // Fixing the file recovers on the next reload.
    copyFileSync(join(ROOT, 'policies', 'data.json'), r.dataPath);
    writeFileSync(r.wasmPath, shippedWasm);
    expect(await r.engine.reload()).toBe('unchanged');
  });

  it('a broken file seen by the watcher is rejected too', async () => {
    const r = await rig(true);
    const good = r.engine.revision();
    const errorsBefore = await reloadCount('error');
    replace(r.dataPath, 'nope');
    await waitFor('rejection', async () => (await reloadCount('error')) > errorsBefore, 5000);
    expect(r.engine.revision()).toBe(good);
    expect(r.engine.evaluate(readInput).allow).toBe(true);
  });

  it('refuses to start on a broken bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mem0gov-broken-'));
    try {
      writeFileSync(join(dir, 'policy.wasm'), 'junk');
      writeFileSync(join(dir, 'data.json'), shippedData);
      await expect(createPolicyEngine(
        { wasmPath: join(dir, 'policy.wasm'), dataPath: join(dir, 'data.json'), watch: false },
        pino({ level: 'silent' }),
      )).rejects.toMatchObject({ reason: 'policy_load_failed' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

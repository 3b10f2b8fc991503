import { describe, expect, it } from 'vitest';
import { bundleRevision, checkData, toDecision } from '../../../src/policy/bundle.js';
import { loadPolicyConfig } from '../../../src/policy/config.js';

describe('toDecision', () => {
  it('accepts a well-formed decision', () => {
    expect(toDecision([{ result: { allow: false, reasons: ['role_missing'], status: 403, phi: true, audit_reasons: [] } }], 'rev'))
      .toEqual({ allow: false, reasons: ['role_missing'], status: 403, phi: true, break_glass: false, audit_reasons: [], revision: 'rev' });
  });

  it('defaults a deny without status to 403', () => {
    expect(toDecision([{ result: { allow: false, reasons: ['x'] } }], 'r').status).toBe(403);
  });

  it.each([
    ['empty result set', []],
    ['undefined', undefined],
    ['result not an object', [{ result: true }]],
    ['allow not boolean', [{ result: { allow: 'yes', reasons: [] } }]],
    ['reasons missing', [{ result: { allow: true } }]],
    ['deny without reason', [{ result: { allow: false, reasons: [] } }]],
  ])('fails closed on %s', (_n, raw) => {
    expect(() => toDecision(raw, 'r')).toThrow(expect.objectContaining({ reason: 'policy_eval_failed' }));
  });
});

describe('bundleRevision', () => {
  it('changes with either file', () => {
    const a = bundleRevision(Buffer.from('w'), Buffer.from('d'));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(bundleRevision(Buffer.from('w'), Buffer.from('e'))).not.toBe(a);
    expect(bundleRevision(Buffer.from('x'), Buffer.from('d'))).not.toBe(a);
  });
});

describe('loadPolicyConfig', () => {
  it('has the documented defaults', () => {
    expect(loadPolicyConfig({}, '/srv')).toEqual({
      wasmPath: '/srv/policies/build/policy.wasm', dataPath: '/srv/policies/data.json', watch: true,
    });
  });

  it('reads overrides and rejects a bad boolean naming the variable', () => {
    // MEM0_GOV_PHI_LABELS is the service's (ServiceConfig.phiLabels, read once): authz/test/unit/config/spec.test.ts.
    expect(loadPolicyConfig({ MEM0_GOV_POLICY_WASM: '/x.wasm', MEM0_GOV_POLICY_WATCH: 'false' }, '/srv'))
      .toMatchObject({ wasmPath: '/x.wasm', watch: false });
    expect(() => loadPolicyConfig({ MEM0_GOV_POLICY_WATCH: 'maybe' })).toThrow(/MEM0_GOV_POLICY_WATCH/);
  });
});

describe('checkData: denied_actions', () => {
  const roles = { admin: ['read'] };

  it('accepts known actions for a tenant and in tenant_defaults, and an empty list', () => {
    expect(() => checkData({ mem0gov: { roles, tenants: { acme: { denied_actions: ['write', 'delete', 'bulk_delete', 'admin'] } } } })).not.toThrow();
    expect(() => checkData({ mem0gov: { roles, tenant_defaults: { denied_actions: [] }, tenants: { acme: { denied_actions: ['read'] } } } })).not.toThrow();
  });

  it.each([
    ['a typo in a tenant', { tenants: { acme: { denied_actions: ['writes'] } } }, /tenants\.acme\.denied_actions/],
    ['a bare string', { tenants: { acme: { denied_actions: 'write' } } }, /tenants\.acme\.denied_actions/],
    ['a permission that is not an action', { tenant_defaults: { denied_actions: ['phi'] } }, /tenant_defaults\.denied_actions/],
  ])('rejects %s, naming where', (_n, extra, where) => {
    expect(() => checkData({ mem0gov: { roles, ...extra } })).toThrow(where);
  });
});

describe('tenant settings checked at load', () => {
  it.each([
    [{ custom_prompt_roles: 'admin' }, /custom_prompt_roles/],
    [{ raw_storage_roles: [1] }, /raw_storage_roles/],
    [{ content_rules: { mode: 'redact', detectors: [], custom: [] } }, /content_rules/],
    [{ content_rules: { mode: 'mask', detectors: ['dna'], custom: [] } }, /content_rules/],
    [{ content_rules: { mode: 'mask', detectors: [], custom: [{ name: 'x', pattern: '(a+)+$' }] } }, /content_rules/],
  ])('%j is refused with a message naming it', (conf, msg) => {
    expect(() => checkData({ mem0gov: { roles: {}, tenants: { acme: conf } } })).toThrow(msg);
  });
  it('valid settings load', () => {
    expect(() => checkData({ mem0gov: { roles: {}, tenants: { acme: { custom_prompt_roles: ['admin'], raw_storage_roles: null, content_rules: { mode: 'mask', detectors: ['email'], custom: [{ name: 'mrn', pattern: 'MRN-[0-9]{6}' }] } } } } })).not.toThrow();
  });
});

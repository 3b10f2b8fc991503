import { describe, expect, it } from 'vitest';
import { bundleRevision, toDecision } from '../../../src/policy/bundle.js';
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
      wasmPath: '/srv/policies/build/policy.wasm', dataPath: '/srv/policies/data.json', watch: true, phiLabels: ['phi'],
    });
  });

  it('reads overrides and rejects a bad boolean naming the variable', () => {
    expect(loadPolicyConfig({ MEM0_GOV_POLICY_WASM: '/x.wasm', MEM0_GOV_POLICY_WATCH: 'false', MEM0_GOV_PHI_LABELS: 'phi, hipaa' }, '/srv'))
      .toMatchObject({ wasmPath: '/x.wasm', watch: false, phiLabels: ['phi', 'hipaa'] });
    expect(() => loadPolicyConfig({ MEM0_GOV_POLICY_WATCH: 'maybe' })).toThrow(/MEM0_GOV_POLICY_WATCH/);
  });
});

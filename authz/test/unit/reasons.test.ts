// Reasons are API: every reason the code or the policy can emit is in the one table
// (authz/src/reasons.ts), README documents exactly that table, and every documented reason is
// emitted somewhere.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../../src/reasons.js';
import { README, renderReadme } from '../../../scripts/docs.js';

const ROOT = join(__dirname, '..', '..', '..');

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p, ext) : p.endsWith(ext) ? [p] : [];
  });
}

const source = files(join(ROOT, 'authz', 'src'), '.ts').filter((f) => !f.endsWith('reasons.ts')).map((f) => readFileSync(f, 'utf8')).join('\n');
const rego = readFileSync(join(ROOT, 'policies', 'authz.rego'), 'utf8');
// Reasons the shipped Envoy configs answer on their own (local_reply_config: `reason: <name>`).
const envoyConfigs = ['envoy.yaml', 'envoy-http-authz.yaml'].map((f) => readFileSync(join(ROOT, 'envoy', f), 'utf8')).join('\n');

describe('reason table', () => {
  it('README documents exactly the table (regenerate: npx tsx scripts/docs.ts)', () => {
    const text = readFileSync(README, 'utf8');
    expect(renderReadme(text)).toBe(text);
  });

  it('every reason in the table is emitted by the code, the policy or the shipped Envoy configs', () => {
    const unused = Object.keys(REASONS).filter((r) => !source.includes(`'${r}'`) && !rego.includes(`"${r}"`) && !envoyConfigs.includes(`reason: ${r}\n`));
    expect(unused).toEqual([]);
  });

  it('every reason the shipped Envoy configs answer with is in the table, as stage envoy unless authz emits it too', () => {
    const emitted = [...new Set([...envoyConfigs.matchAll(/^\s+reason: ([a-z0-9_]+)$/gm)].map((m) => m[1]!))];
    expect(emitted.sort()).toEqual(['authz_unavailable', 'overloaded']);
    for (const r of emitted) expect(r in REASONS).toBe(true);
    expect(REASONS.authz_unavailable.stage).toBe('envoy');
  });

  it('every reason the policy emits (deny, audit_reasons) is in the table', () => {
    const emitted = [...rego.matchAll(/(?:deny|audit_reasons) contains "([a-z0-9_]+)"/g)].map((m) => m[1]!);
    expect(emitted.length).toBeGreaterThan(15);
    expect(emitted.filter((r) => !(r in REASONS))).toEqual([]);
  });

  it('every literal reason the code hands to stop(), invalid() or unauthenticated() is in the table', () => {
    const emitted = [...source.matchAll(/\b(?:stop|invalid|unauthenticated|immediate)\(\s*'([a-z0-9_]+)'/g)].map((m) => m[1]!);
    expect(emitted.length).toBeGreaterThan(20);
    expect(emitted.filter((r) => !(r in REASONS))).toEqual([]);
  });
});

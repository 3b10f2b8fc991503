// Test and bench helper: compiles Rego with the real OPA CLI (opa build -t wasm) into a temp dir
// and returns the wasm bytes. The shipped bundle is built by policies/build.sh.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, tool } from '../testing/tools.js';

/** Builds the real policy through policies/build.sh into `outDir`; returns the wasm path. */
export function buildShippedPolicy(outDir: string): string {
  execFileSync('bash', [join(ROOT, 'policies', 'build.sh')], { env: { ...process.env, POLICY_BUILD_OUT: outDir }, stdio: 'pipe' });
  return join(outDir, 'policy.wasm');
}

/** Compiles in-memory Rego modules (name → source) for `entrypoint`. */
export function compileRego(modules: Record<string, string>, entrypoint = 'mem0/authz/decision'): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-rego-'));
  try {
    const files = Object.entries(modules).map(([name, src]) => {
      const p = join(dir, name);
      writeFileSync(p, src);
      return p;
    });
    execFileSync(tool('opa'), ['build', '-t', 'wasm', '-e', entrypoint, '-o', join(dir, 'bundle.tar.gz'), ...files], { stdio: 'pipe' });
    execFileSync('tar', ['-xzf', join(dir, 'bundle.tar.gz'), '-C', dir, '/policy.wasm'], { stdio: 'pipe' });
    return readFileSync(join(dir, 'policy.wasm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A bundle that allows everything: the baseline for bench ratios and a "good swap" in tests. */
export const TRIVIAL_ALLOW_REGO = `package mem0.authz

import rego.v1

decision := {"allow": true, "reasons": []}
`;

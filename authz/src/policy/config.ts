// Policy engine settings (stage 5), read from MEM0_GOV_* variables.
import { resolve } from 'node:path';
import { bool, list, str, type Env } from '../config/env.js';
import { DEFAULT_PHI_LABELS } from '../request/phi.js';

export interface PolicyConfig {
  /** Compiled policy (opa build -t wasm), absolute path. */
  wasmPath: string;
  /** Policy data (roles, tenants), absolute path. */
  dataPath: string;
  /** Swap in a changed wasm/data file without restart. */
  watch: boolean;
  /** metadata.classification values that mark a memory as PHI. */
  phiLabels: string[];
}

export function loadPolicyConfig(env: Env, cwd: string = process.cwd()): PolicyConfig {
  return {
    wasmPath: resolve(cwd, str(env, 'POLICY_WASM', 'policies/build/policy.wasm')),
    dataPath: resolve(cwd, str(env, 'POLICY_DATA', 'policies/data.json')),
    watch: bool(env, 'POLICY_WATCH', true),
    phiLabels: list(env, 'PHI_LABELS', [...DEFAULT_PHI_LABELS]),
  };
}

// Shadow policy settings, read from MEM0_GOV_POLICY_SHADOW_* (declared in config/spec.ts). Either
// variable turns the shadow on; the other falls back to the enforced file, so a data-only change
// (roles, tenant settings) is shadowed with the enforced wasm, and a Rego change with the enforced data.
import { resolve } from 'node:path';
import type { Env } from '../config/env.js';
import { read } from '../config/read.js';

export interface ShadowConfig {
  /** Candidate wasm, absolute path. */
  wasmPath: string;
  /** Candidate data, absolute path. */
  dataPath: string;
}

/** undefined when neither variable is set: no shadow, no cost. */
export function loadShadowConfig(env: Env, enforced: { wasmPath: string; dataPath: string }, cwd: string = process.cwd()): ShadowConfig | undefined {
  const wasm = read(env, 'POLICY_SHADOW_WASM');
  const data = read(env, 'POLICY_SHADOW_DATA');
  if (wasm === undefined && data === undefined) return undefined;
  return {
    wasmPath: wasm !== undefined ? resolve(cwd, wasm) : enforced.wasmPath,
    dataPath: data !== undefined ? resolve(cwd, data) : enforced.dataPath,
  };
}

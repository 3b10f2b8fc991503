// Policy engine settings (stage 5), read from MEM0_GOV_POLICY_* (declared in config/spec.ts).
import { resolve } from 'node:path';
import type { Env } from '../config/env.js';
import { read } from '../config/read.js';

export interface PolicyConfig {
  /** Compiled policy (opa build -t wasm), absolute path. */
  wasmPath: string;
  /** Policy data (roles, tenants), absolute path. */
  dataPath: string;
  /** Swap in a changed wasm/data file without restart. */
  watch: boolean;
}

export function loadPolicyConfig(env: Env, cwd: string = process.cwd()): PolicyConfig {
  return {
    wasmPath: resolve(cwd, read(env, 'POLICY_WASM')),
    dataPath: resolve(cwd, read(env, 'POLICY_DATA')),
    watch: read(env, 'POLICY_WATCH'),
  };
}

// Policy engine settings (stage 5), read from MEM0_GOV_POLICY_* (declared in config/spec.ts).
import { resolve } from 'node:path';
import type { Env } from '../config/env.js';
import { read } from '../config/read.js';
import { loadShadowConfig, type ShadowConfig } from './shadow-config.js';

export interface PolicyConfig {
  /** Compiled policy (opa build -t wasm), absolute path. */
  wasmPath: string;
  /** Policy data (roles, tenants), absolute path. */
  dataPath: string;
  /** Swap in a changed wasm/data file without restart. */
  watch: boolean;
  /** A candidate bundle evaluated beside the enforced one, never enforced (policy/shadow.ts). */
  shadow?: ShadowConfig;
}

export function loadPolicyConfig(env: Env, cwd: string = process.cwd()): PolicyConfig {
  const cfg: PolicyConfig = {
    wasmPath: resolve(cwd, read(env, 'POLICY_WASM')),
    dataPath: resolve(cwd, read(env, 'POLICY_DATA')),
    watch: read(env, 'POLICY_WATCH'),
  };
  const shadow = loadShadowConfig(env, cfg, cwd);
  if (shadow !== undefined) cfg.shadow = shadow;
  return cfg;
}

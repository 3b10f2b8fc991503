// What only the `mem0-gov` CLI reads, through the spec like every other loader. The command
// modules get it from here (see authz/test/unit/config/spec.test.ts for the ones that still
// read their variable directly).
import { ConfigError, type Env } from './env.js';
import { read } from './read.js';
import { loadLogConfig, type LogConfig } from './log.js';

export interface CliConfig {
  /** who admin actions are recorded as (MEM0_GOV_ADMIN_ACTOR, else the OS user) */
  adminActor: string;
  /** the audit chain of this host's admin actions */
  adminChainId: string;
  /** the dev issuer's key directory (`mem0-gov token`) */
  devKeyDir: string;
  /** the dev token's issuer, when not given by --issuer or the dev stack's issuer file */
  devIssuer?: string;
  /** checkpoint public key for `audit verify` without --public-key */
  checkpointPublicKeyFile?: string;
  log: LogConfig;
}

export function loadCliConfig(env: Env): CliConfig {
  const devIssuer = read(env, 'DEV_ISSUER');
  const checkpointPublicKeyFile = read(env, 'AUDIT_CHECKPOINT_PUBLIC_KEY_FILE');
  return {
    adminActor: read(env, 'ADMIN_ACTOR'),
    adminChainId: read(env, 'AUDIT_ADMIN_CHAIN_ID'),
    devKeyDir: read(env, 'DEV_KEY_DIR'),
    ...(devIssuer !== undefined ? { devIssuer } : {}),
    ...(checkpointPublicKeyFile !== undefined ? { checkpointPublicKeyFile } : {}),
    log: loadLogConfig(env, 'cli'),
  };
}

/**
 * What the CLI entry (cli/bin.ts) needs before any command runs: log settings with the CLI's
 * defaults — or the invalid variable's message (exit 78).
 */
export function cliStart(env: Env): { log: LogConfig } | { error: string } {
  try {
    return { log: loadLogConfig(env, 'cli') };
  } catch (err) {
    if (err instanceof ConfigError) return { error: err.message };
    throw err;
  }
}

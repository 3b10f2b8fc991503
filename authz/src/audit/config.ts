// Audit configuration (DESIGN "Audit chain"; MEM0_GOV_PG_* and MEM0_GOV_AUDIT_* are declared in
// config/spec.ts, audit/README.md "Configuration" shows them).
import type { Env } from '../config/env.js';
import { read } from '../config/read.js';

export interface AuditConfig {
  /** Writer URL (role mem0gov_writer: INSERT + SELECT only), password filled in from PG_PASSWORD. */
  pgUrl: string;
  /** Owner URL for migrations; when unset, migrations (if needed) run on pgUrl. */
  adminUrl?: string;
  chainId: string;
  spoolDir: string;
  /** false: no spool (admin CLI), append() rejects while PostgreSQL is down. */
  spool: boolean;
  batchMs: number;
  maxBatch: number;
  /** PKCS8 PEM Ed25519 private key; undefined = no checkpoints (warned at start). */
  checkpointKeyPem?: string;
  checkpointEvery: number;
  checkpointSeconds: number;
  migrate: boolean;
  /** How often a writer retries PostgreSQL while spooling. */
  reconnectMs: number;
  // Set by loadAuditConfig; optional so hand-built writer configs (tests, benches) need not name them.
  /** Full months kept in PostgreSQL besides the current one (older partitions are due for archive). */
  retentionMonths?: number;
  /** Seconds between the service's verification rounds; 0 or unset = no verifier loop. */
  verifyIntervalSeconds?: number;
  /** File of the last signed checkpoint verified per chain (incremental verify); unset = in memory. */
  verifyStateFile?: string;
}

/** Puts a password into a postgres URL unless the URL already carries one. */
export function withPassword(pgUrl: string, password: string | undefined): string {
  if (password === undefined) return pgUrl;
  const u = new URL(pgUrl);
  if (u.password === '') u.password = password;
  return u.toString();
}

export function loadAuditConfig(env: Env): AuditConfig {
  const pgUrl = withPassword(read(env, 'PG_URL'), read(env, 'PG_PASSWORD'));
  const adminRaw = read(env, 'PG_ADMIN_URL');
  const adminUrl = adminRaw === undefined ? undefined : withPassword(adminRaw, read(env, 'PG_ADMIN_PASSWORD'));
  const chainId = read(env, 'AUDIT_CHAIN_ID');
  const checkpointKeyPem = read(env, 'AUDIT_CHECKPOINT_KEY_FILE');
  const cfg: AuditConfig = {
    pgUrl,
    chainId,
    spoolDir: read(env, 'AUDIT_SPOOL_DIR'),
    spool: read(env, 'AUDIT_SPOOL'),
    batchMs: read(env, 'AUDIT_BATCH_MS'),
    maxBatch: read(env, 'AUDIT_MAX_BATCH'),
    checkpointEvery: read(env, 'AUDIT_CHECKPOINT_EVERY'),
    checkpointSeconds: read(env, 'AUDIT_CHECKPOINT_SECONDS'),
    migrate: read(env, 'AUDIT_MIGRATE'),
    reconnectMs: read(env, 'AUDIT_RECONNECT_MS'),
    retentionMonths: read(env, 'AUDIT_RETENTION_MONTHS'),
    verifyIntervalSeconds: read(env, 'AUDIT_VERIFY_INTERVAL_SECONDS'),
    verifyStateFile: read(env, 'AUDIT_VERIFY_STATE'),
  };
  if (adminUrl !== undefined) cfg.adminUrl = adminUrl;
  if (checkpointKeyPem !== undefined) cfg.checkpointKeyPem = checkpointKeyPem;
  return cfg;
}

// Audit configuration (DESIGN "Audit chain"; audit/README.md "Configuration").
import { hostname } from 'node:os';
import { bool, int, secret, str, url, ConfigError, PREFIX } from '../config/env.js';
import type { Env } from '../config/env.js';

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
}

/** Puts a password into a postgres URL unless the URL already carries one. */
export function withPassword(pgUrl: string, password: string | undefined): string {
  if (password === undefined) return pgUrl;
  const u = new URL(pgUrl);
  if (u.password === '') u.password = password;
  return u.toString();
}

export function loadAuditConfig(env: Env): AuditConfig {
  const password = secret(env, 'PG_PASSWORD');
  const pgUrl = withPassword(url(env, 'PG_URL', 'postgres://mem0gov_writer@127.0.0.1:5432/mem0gov')!, password);
  const adminRaw = url(env, 'PG_ADMIN_URL');
  const adminUrl = adminRaw === undefined ? undefined : withPassword(adminRaw, secret(env, 'PG_ADMIN_PASSWORD'));
  const chainId = str(env, 'AUDIT_CHAIN_ID', hostname());
  if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(chainId)) {
    throw new ConfigError(`${PREFIX}AUDIT_CHAIN_ID`, 'use 1-128 characters of A-Z a-z 0-9 . _ : @ -');
  }
  let checkpointKeyPem: string | undefined;
  const keyFile = str(env, 'AUDIT_CHECKPOINT_KEY_FILE');
  if (keyFile !== undefined) {
    checkpointKeyPem = secret({ [`${PREFIX}AUDIT_CHECKPOINT_KEY_FILE`]: keyFile }, 'AUDIT_CHECKPOINT_KEY');
  }
  const cfg: AuditConfig = {
    pgUrl,
    chainId,
    spoolDir: str(env, 'AUDIT_SPOOL_DIR', '.state/spool'),
    spool: bool(env, 'AUDIT_SPOOL', true),
    batchMs: int(env, 'AUDIT_BATCH_MS', 5, 0, 1000),
    maxBatch: int(env, 'AUDIT_MAX_BATCH', 2000, 1, 20_000),
    checkpointEvery: int(env, 'AUDIT_CHECKPOINT_EVERY', 1000, 1),
    checkpointSeconds: int(env, 'AUDIT_CHECKPOINT_SECONDS', 60, 1),
    migrate: bool(env, 'AUDIT_MIGRATE', true),
    reconnectMs: int(env, 'AUDIT_RECONNECT_MS', 500, 10, 60_000),
  };
  if (adminUrl !== undefined) cfg.adminUrl = adminUrl;
  if (checkpointKeyPem !== undefined) cfg.checkpointKeyPem = checkpointKeyPem;
  return cfg;
}

// Admin actions (CLI) in the audit chain: their own chain per host, `admin:<hostname>`.
import type { Env } from '../config/env.js';
import { loadCliConfig } from '../config/cli.js';
import type { AdminAction } from '../types.js';
import { adminRow } from '../record.js';
import { createLogger } from '../logger.js';
import { loadAuditConfig, type AuditConfig } from './config.js';
import { ensureSchema } from './migrate.js';
import { ChainWriter } from './writer.js';

/** The chain admin actions of this host go to (one writer at a time, by advisory lock). */
export function adminChainId(env: Env): string {
  return loadCliConfig(env).adminChainId;
}

/**
 * Writes one audit row (kind `admin`) for a CLI admin action and waits for the PostgreSQL commit
 * (no spool: a CLI process may not come back to replay it). Throws if it cannot; the action must
 * not run. details are small operator-supplied values (limits, grant ids): stored as RFC 8785 JSON
 * in `detail`, and as before recorded in `reasons` as `detail:<key>=<value>` and digested into
 * body_digest. Never pass secrets in details.
 */
export async function recordAdminAction(env: Env, action: AdminAction): Promise<void> {
  const base = loadAuditConfig(env);
  const cfg: AuditConfig = { ...base, chainId: adminChainId(env), spool: false };
  const logger = createLogger(loadCliConfig(env).log);
  await ensureSchema({ pgUrl: cfg.pgUrl, migrate: cfg.migrate, logger, ...(cfg.adminUrl !== undefined ? { adminUrl: cfg.adminUrl } : {}) });
  const writer = await ChainWriter.open({ ...cfg, batchMs: 0 }, logger, { lockWaitMs: 10_000 });
  try {
    await writer.append(adminRow(action, Date.now()));
  } finally {
    await writer.close();
  }
}

// Stage 6 entry points: the service's audit sink and admin-action recording for the CLI.
import type { Logger } from '../logger.js';
import type { AuditSink } from '../types.js';
import type { AuditConfig } from './config.js';
import { ensureSchema } from './migrate.js';
import { startVerifierLoop, type VerifierLoop } from './verifier.js';
import { ChainWriter, type WriterHealth, type WriterOptions } from './writer.js';

export type { AuditConfig } from './config.js';
export { loadAuditConfig } from './config.js';

export type AuditSinkHandle = AuditSink & {
  health(): WriterHealth;
  /** Forces a signed checkpoint now (no-op without a key). */
  checkpoint(): Promise<void>;
  /** The verifier loop when MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS > 0 (runOnce: a round now). */
  verifier: VerifierLoop | null;
};

export async function createAuditSink(cfg: AuditConfig, logger: Logger, opts: WriterOptions = {}): Promise<AuditSinkHandle> {
  await ensureSchema({ pgUrl: cfg.pgUrl, migrate: cfg.migrate, logger, ...(cfg.adminUrl !== undefined ? { adminUrl: cfg.adminUrl } : {}) })
    .catch((err: unknown) => {
      // With PG down at start the spool may still carry us (ChainWriter decides); schema problems
      // with PG up are fatal there too, since the writer's INSERTs would fail.
      logger.warn({ err: { message: (err as Error).message } }, 'audit schema check failed');
    });
  const writer = await ChainWriter.open(cfg, logger, opts);
  logger.info({ chainId: cfg.chainId, ...writer.health() }, 'audit chain writer ready');
  // The service verifies what it and the other writers appended (MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS).
  const verifier = (cfg.verifyIntervalSeconds ?? 0) > 0
    ? startVerifierLoop(cfg, logger, { intervalMs: cfg.verifyIntervalSeconds! * 1000, name: `service:${cfg.chainId}` })
    : null;
  return {
    append: (ev) => writer.append(ev),
    async close() {
      await verifier?.stop();
      await writer.close();
    },
    health: () => writer.health(),
    async checkpoint() {
      await writer.checkpointNow();
    },
    verifier,
  };
}

export { recordAdminAction, adminChainId } from './admin.js';

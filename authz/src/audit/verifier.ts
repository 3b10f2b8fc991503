// The service's verifier loop (MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS): every interval, the replica
// holding the verifier's advisory lock verifies what was written since the last signed checkpoint
// it verified (verify-db.ts, on this thread between requests), exports the result as metrics
// (mem0gov_audit_chain_broken{chain}, mem0gov_audit_chain_verify_failures_total: the alert's),
// records it in audit.chain_status (the audit API's badges), keeps the month partitions ahead, and
// counts the months the retention makes due for archive. The other replicas wait for the lock.
import type pg from 'pg';
import type { Logger } from '../logger.js';
import * as metrics from '../metrics.js';
import { retentionBoundary } from './archive.js';
import { loadSigner, loadVerifier, type CheckpointVerifier } from './checkpoint.js';
import type { AuditConfig } from './config.js';
import { connect, ensurePartitions, listPartitions, saveChainStatus } from './pg.js';
import { describeProblem } from './verify.js';
import { statusOf, verifyDatabase, type DbChainReport } from './verify-db.js';
import { databaseKey, VerifyMarks } from './verify-state.js';

/** Advisory lock key of the verifier: one replica verifies at a time. */
const VERIFIER_LOCK = '7370134823751117001';

export interface VerifierLoop {
  /** One round now (tests); null when another replica holds the verifier lock or PostgreSQL is away. */
  runOnce(): Promise<DbChainReport[] | null>;
  stop(): Promise<void>;
}

export function startVerifierLoop(cfg: AuditConfig, logger: Logger, opts: { intervalMs: number; name: string; keys?: CheckpointVerifier[]; clock?: () => number }): VerifierLoop {
  const clock = opts.clock ?? Date.now;
  const keys = opts.keys ?? (cfg.checkpointKeyPem !== undefined ? [loadVerifier(loadSigner(cfg.checkpointKeyPem).publicKeyPem)] : []);
  let marks: VerifyMarks | null = null;
  const broken = new Set<string>();
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<DbChainReport[] | null> | null = null;
  let stopped = false;
  let lastRetentionWarn = 0;
  let saveWarned = false;

  async function session(): Promise<pg.Client | null> {
    if (client !== null) return client;
    const c = await connect(cfg.pgUrl, 'mem0gov-audit-verifier');
    const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [VERIFIER_LOCK]);
    if (r.rows[0]?.ok !== true) {
      await c.end().catch(() => undefined);
      return null;
    }
    c.on('error', () => { if (client === c) client = null; });
    client = c;
    return c;
  }

  async function round(): Promise<DbChainReport[] | null> {
    let c: pg.Client | null;
    try {
      c = await session();
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, 'audit verifier: PostgreSQL unreachable');
      return null;
    }
    if (c === null) return null;
    try {
      marks ??= cfg.verifyStateFile !== undefined ? VerifyMarks.load(cfg.verifyStateFile, await databaseKey(c)) : VerifyMarks.memory();
      await ensurePartitions(c).catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'audit verifier: could not create the next partitions'));
      const reports = await verifyDatabase(c, { keys, marks, yielding: true, workers: 0, unsignedMarks: true });
      try {
        marks.save();
      } catch (err) {
        // Kept in memory; a restart then starts with a full round. Said once.
        if (!saveWarned) logger.warn({ err: { message: (err as Error).message }, file: cfg.verifyStateFile }, 'audit verifier: cannot save its marks (MEM0_GOV_AUDIT_VERIFY_STATE)');
        saveWarned = true;
      }
      for (const r of reports) {
        metrics.auditChainBroken.set({ chain: r.chain_id }, r.problem === null ? 0 : 1);
        if (r.last_seq !== null) metrics.auditVerifiedSeq.set({ chain: r.chain_id }, r.last_seq);
        if (r.problem !== null && !broken.has(r.chain_id)) logger.error({ chainId: r.chain_id, problem: r.problem }, `audit chain verification failed: ${describeProblem(r.problem)}`);
        if (r.problem === null) broken.delete(r.chain_id);
        else broken.add(r.chain_id);
        await saveChainStatus(c, statusOf(r, opts.name, new Date(clock())));
      }
      const latest = retentionBoundary(new Date(clock()), cfg.retentionMonths ?? 12);
      const due = (await listPartitions(c)).filter((p) => p.upper !== null && p.upper.getTime() <= latest.getTime());
      metrics.auditPartitionsDue.set(due.length);
      if (due.length > 0 && clock() - lastRetentionWarn > 86_400_000) {
        lastRetentionWarn = clock();
        logger.warn({ partitions: due.map((p) => p.name), retentionMonths: cfg.retentionMonths ?? 12 },
          `audit partitions older than the retention: run mem0-gov audit archive --before ${latest.toISOString().slice(0, 7)} (exports and verifies before dropping)`);
      }
      metrics.auditVerifyLastRun.set(clock() / 1000);
      return reports;
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, 'audit verifier round failed');
      const dead = client;
      client = null;
      await dead?.end().catch(() => undefined);
      return null;
    }
  }

  const runOnce = (): Promise<DbChainReport[] | null> => {
    running ??= round().finally(() => { running = null; });
    return running;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void runOnce().finally(schedule), opts.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await running?.catch(() => undefined);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}

// The primary of the process group (MEM0_GOV_WORKERS > 1): forks one worker per index, each
// with its own audit chain; the workers share the gRPC and HTTP listening sockets (node:cluster
// hands the connections out round-robin). It serves nothing itself. A worker that ends without
// being asked is started again with the same index (so the same chain and spool); one that ends
// before the group first became ready stops the group (as a single process that cannot start
// exits). SIGTERM / SIGINT: every worker drains; the primary exits 0 once all ended cleanly.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../logger.js';
import { registry, workerRestarts } from '../metrics.js';
import { restartDelayMs } from './derive.js';
import { isGroupMessage } from './messages.js';
import { groupMetrics, Pending } from './metrics.js';

interface Slot {
  index: number;
  worker: Worker | null;
  /** It answers metrics requests. */
  up: boolean;
  /** SERVING at least once since its last start. */
  ready: boolean;
  /** Ends in a row without becoming ready in between (the restart delay). */
  failures: number;
  timer: NodeJS.Timeout | null;
}

export interface PrimaryOptions {
  count: number;
  logger: Logger;
  /** What worker `index` gets in its environment besides the primary's own. */
  workerEnv(index: number): Record<string, string>;
  /** Exits the process (tests of this module inject it). */
  exit?: (code: number) => void;
}

export function runPrimary(opts: PrimaryOptions): { stop(signal: string): void } {
  const { logger } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const slots: Slot[] = Array.from({ length: opts.count }, (_, index) => ({ index, worker: null, up: false, ready: false, failures: 0, timer: null }));
  const pending = new Pending<unknown[]>();
  let started = false; // every worker was ready once
  let stopping = false;
  let exitCode = 0;

  const finishIfDone = (): void => {
    if (!stopping || slots.some((s) => s.worker !== null)) return;
    logger.info({ exitCode }, 'stopped');
    exit(exitCode);
  };

  const stop = (signal: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info({ signal, workers: slots.filter((s) => s.worker !== null).length }, 'draining');
    for (const s of slots) {
      if (s.timer !== null) clearTimeout(s.timer);
      s.timer = null;
      // Not worker.kill(): it disconnects first, and a disconnected worker closes its listeners
      // at once — a drain keeps answering (NOT_SERVING) for MEM0_GOV_DRAIN_SECONDS.
      s.worker?.process.kill('SIGTERM');
    }
    finishIfDone();
  };

  const fork = (slot: Slot): void => {
    slot.timer = null;
    slot.up = false;
    slot.ready = false;
    const w = cluster.fork(opts.workerEnv(slot.index));
    slot.worker = w;
    w.on('message', (m: unknown) => {
      if (!isGroupMessage(m)) return;
      if (m.kind === 'mem0gov:up') slot.up = true;
      else if (m.kind === 'mem0gov:ready') {
        slot.ready = true;
        slot.failures = 0;
        logger.info({ worker: slot.index, pid: w.process.pid }, 'worker ready');
        if (!started && slots.every((s) => s.ready)) {
          started = true;
          logger.info({ workers: opts.count }, 'all workers ready');
        }
      } else if (m.kind === 'mem0gov:metrics-json-reply') {
        pending.settle(m.id, { value: m.json });
      } else if (m.kind === 'mem0gov:group-metrics') {
        const peers = slots.filter((s) => s.up && s.worker !== null && s.worker.isConnected()).map((s) => s.worker!);
        groupMetrics(registry, peers, pending)
          .then((text) => w.isConnected() && w.send({ kind: 'mem0gov:group-metrics-reply', id: m.id, text }))
          .catch((err: unknown) => w.isConnected() && w.send({ kind: 'mem0gov:group-metrics-reply', id: m.id, error: (err as Error).message }));
      }
    });
    w.on('exit', (code: number | null, signal: string | null) => {
      if (slot.worker !== w) return;
      slot.worker = null;
      slot.up = false;
      if (stopping) {
        if (code !== 0) exitCode = exitCode === 0 ? 1 : exitCode;
        finishIfDone();
        return;
      }
      if (!started && !slot.ready) {
        // Could not start (configuration, audit chain, PostgreSQL and no spool …): like a single
        // process that cannot start, the group ends with its code (78 for configuration).
        logger.fatal({ worker: slot.index, code, signal }, 'worker could not start: stopping the group');
        stop('worker-start-failed', code !== null && code !== 0 ? code : 1);
        return;
      }
      slot.failures += 1;
      const inMs = restartDelayMs(slot.failures);
      workerRestarts.inc({ worker: String(slot.index) });
      logger.error({ worker: slot.index, pid: w.process.pid, code, signal, restartInMs: inMs }, 'worker ended unexpectedly: starting it again (same index, same audit chain)');
      slot.timer = setTimeout(() => fork(slot), inMs);
    });
  };

  for (const s of slots) fork(s);
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return { stop };
}

// Entry point: `node --import tsx authz/src/main.ts` (npm start; dist/main.js in the image).
// Hands process.env to config/ (nothing else reads the environment); fails fast on bad config
// with the variable's name (exit 78); drains on SIGTERM/SIGINT.
// MEM0_GOV_WORKERS = 1: this process is the service. More: this process is the primary of a
// process group (authz/src/cluster/) and this same file, forked, is each worker.
import cluster from 'node:cluster';
import { ConfigError, type Env } from './config/env.js';
import { loadLogConfig } from './config/log.js';
import { createLogger, type Logger } from './logger.js';
import { loadWorkerCount, workerIndexOf } from './cluster/config.js';
import type { ServiceHandle } from './service.js';
import { read } from './config/read.js';
import { lowerHelperThreads } from './helper-threads.js';

function exitOnConfigError(err: unknown, logger?: Logger): void {
  if (!(err instanceof ConfigError)) return;
  logger?.fatal({ variable: err.variable }, `invalid configuration: ${err.message}`);
  process.stderr.write(`mem0-gov: invalid configuration: ${err.message}\n`);
  process.exit(78); // EX_CONFIG
}

let logger: Logger;
try {
  logger = createLogger(loadLogConfig(process.env));
} catch (err) {
  exitOnConfigError(err);
  throw err;
}

/** Runs the service in this process until SIGTERM/SIGINT; `onReady` once it is SERVING. */
async function serve(env: Env, log: Logger, onReady?: () => void): Promise<void> {
  // Handlers first: a signal during start (a worker told to stop while it warms) stops the
  // service once it has started, cleanly, rather than killing it half-way.
  let svc: ServiceHandle | undefined;
  let requested: string | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    if (svc === undefined) {
      requested ??= signal;
      return;
    }
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    svc
      .stop()
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err: { message: (err as Error).message } }, 'unclean stop');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Before anything starts a thread of its own (helper-threads.ts).
  try {
    log.info({ helperThreads: lowerHelperThreads(read(env, 'HELPER_THREADS_NICE')) }, 'V8 helper threads reniced');
  } catch (err) {
    exitOnConfigError(err, log);
    throw err;
  }
  // Loaded here, not at the top: a primary never runs the service and need not load it.
  const { startService } = await import('./service.js');
  try {
    svc = await startService(env, { logger: log });
  } catch (err) {
    exitOnConfigError(err, log);
    throw err;
  }
  onReady?.();
  if (requested !== undefined) stop(requested);
}

async function main(): Promise<void> {
  if (cluster.isWorker) {
    const index = workerIndexOf(process.env);
    const { joinGroup } = await import('./cluster/worker.js');
    const group = joinGroup();
    await serve(process.env, logger.child({ worker: index }), () => group.ready());
    return;
  }
  let count: number;
  try {
    count = loadWorkerCount(process.env);
  } catch (err) {
    exitOnConfigError(err, logger);
    throw err;
  }
  if (count === 1) {
    await serve(process.env, logger);
    return;
  }
  const { startPrimary } = await import('./cluster/start.js');
  try {
    startPrimary(process.env, count, logger);
  } catch (err) {
    exitOnConfigError(err, logger);
    throw err;
  }
}

main().catch((err: unknown) => {
  logger.fatal({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'start failed');
  process.exit(1);
});

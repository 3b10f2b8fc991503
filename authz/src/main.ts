// Entry point: `node --import tsx authz/src/main.ts` (npm start). Hands process.env to config/
// (nothing else reads the environment); fails fast on bad config with the variable's name
// (exit 78); drains on SIGTERM/SIGINT.
import { ConfigError } from './config/env.js';
import { loadLogConfig } from './config/log.js';
import { createLogger, type Logger } from './logger.js';
import { startService } from './service.js';

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

async function main(): Promise<void> {
  let svc;
  try {
    svc = await startService(process.env, { logger });
  } catch (err) {
    exitOnConfigError(err, logger);
    throw err;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    svc
      .stop()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err: { message: (err as Error).message } }, 'unclean stop');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  logger.fatal({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'start failed');
  process.exit(1);
});

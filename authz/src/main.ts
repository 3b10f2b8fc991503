// Entry point: `node --import tsx authz/src/main.ts` (npm start). Fails fast on bad config
// with the variable's name; drains on SIGTERM/SIGINT.
import { ConfigError } from './config/env.js';
import { createLogger } from './logger.js';
import { startService } from './service.js';

const logger = createLogger();

async function main(): Promise<void> {
  let svc;
  try {
    svc = await startService(process.env, { logger });
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal({ variable: err.variable }, `invalid configuration: ${err.message}`);
      process.stderr.write(`mem0-gov: invalid configuration: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
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

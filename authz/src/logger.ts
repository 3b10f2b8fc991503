// Structured logs. Tokens and memory content never reach a log line: the redact list is a
// second line of defence behind not passing them in the first place.
import pino from 'pino';

export type Logger = pino.Logger;

/** The service logs to stdout; the CLI (bin.ts) sets MEM0_GOV_LOG_DESTINATION=stderr so its
 * stdout carries only command output (a token, a report). */
export function createLogger(level = process.env.MEM0_GOV_LOG_LEVEL ?? 'info'): Logger {
  const fd = process.env.MEM0_GOV_LOG_DESTINATION === 'stderr' ? 2 : 1;
  return pino({
    name: 'mem0-gov',
    level,
    base: { service: 'mem0-gov-authz' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['authorization', 'token', 'headers.authorization', '*.authorization', 'body', '*.body', 'apiKey', '*.apiKey'],
      censor: '[redacted]',
    },
  }, pino.destination({ fd, sync: true }));
}

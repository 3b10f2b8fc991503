// Structured logs. Tokens and memory content never reach a log line: the redact list is a
// second line of defence behind not passing them in the first place.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = process.env.MEM0_GOV_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: 'mem0-gov',
    level,
    base: { service: 'mem0-gov-authz' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['authorization', 'token', 'headers.authorization', '*.authorization', 'body', '*.body', 'apiKey', '*.apiKey'],
      censor: '[redacted]',
    },
  });
}

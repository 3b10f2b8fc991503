// Structured logs. Tokens and memory content never reach a log line: the redact list is a
// second line of defence behind not passing them in the first place.
import pino from 'pino';
import { loadLogConfig, type LogConfig } from './config/log.js';

export type Logger = pino.Logger;

// Level and destination come from config (MEM0_GOV_LOG_LEVEL / _DESTINATION, config/spec.ts);
// this module never reads the environment. Until an entry point says otherwise: the spec's defaults.
let defaults: LogConfig = loadLogConfig({});

/** What createLogger() uses for what its caller leaves out; the CLI entry (cli/bin.ts) sets stderr. */
export function setLogDefaults(cfg: LogConfig): void {
  defaults = cfg;
}

/**
 * createLogger(loadLogConfig(env)) is the way; a bare level string (e.g. 'warn') is accepted for
 * callers that only choose the level.
 */
export function createLogger(opts: Partial<LogConfig> | string = {}): Logger {
  const o: { level?: string; destination?: LogConfig['destination'] } = typeof opts === 'string' ? { level: opts } : opts;
  const fd = (o.destination ?? defaults.destination) === 'stderr' ? 2 : 1;
  return pino({
    name: 'mem0-gov',
    level: o.level ?? defaults.level,
    base: { service: 'mem0-gov-authz' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['authorization', 'token', 'headers.authorization', '*.authorization', 'body', '*.body', 'apiKey', '*.apiKey'],
      censor: '[redacted]',
    },
  }, pino.destination({ fd, sync: true }));
}

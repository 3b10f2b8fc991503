// Rate-limited log lines for errors that repeat once per request during an outage (a full spool,
// Redis down): the first occurrence of each kind is logged at once, later ones within the window
// are counted, and when the window closes one line says how many were left out. So an outage
// costs a few lines per minute instead of one per request, and the counts are still there.
import type { Logger } from './logger.js';

export type LimitedLevel = 'error' | 'warn' | 'info';

export interface LogLimiter {
  /** Logs `msg` under `key` now, or counts it if a line for `key` went out within the window. */
  (level: LimitedLevel, logger: Logger, key: string, obj: Record<string, unknown>, msg: string): void;
}

interface Window {
  suppressed: number;
  timer: NodeJS.Timeout | null;
}

/** One limiter per subsystem; `windowMs` between two lines of the same key (default 10 s). */
export function createLogLimiter(windowMs = 10_000): LogLimiter {
  const windows = new Map<string, Window>();
  return (level, logger, key, obj, msg) => {
    const w = windows.get(key);
    if (w !== undefined) {
      w.suppressed++;
      return;
    }
    logger[level](obj, msg);
    const fresh: Window = { suppressed: 0, timer: null };
    windows.set(key, fresh);
    const close = (): void => {
      windows.delete(key);
      if (fresh.suppressed > 0) {
        logger[level]({ ...obj, repeated: fresh.suppressed, windowMs }, `${msg} (${fresh.suppressed} more in the last ${Math.round(windowMs / 1000)} s)`);
      }
    };
    fresh.timer = setTimeout(close, windowMs);
    fresh.timer.unref();
  };
}

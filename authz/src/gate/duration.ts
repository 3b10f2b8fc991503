// Durations as operators type them: `90s`, `30m`, `4h`, `30d`, or a bare number of seconds.

import { UNIT_MS } from '../ratelimit/rate.js';

export class DurationFormatError extends Error {
  readonly reason = 'invalid_duration';
}

export function parseDuration(input: string): number {
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(input);
  if (!m) throw new DurationFormatError(`malformed duration ${JSON.stringify(input)}: expected e.g. 90s, 30m, 4h, 30d`);
  const n = Number(m[1]);
  const unit = (m[2] as string).toLowerCase() || 's';
  const ms = n * (UNIT_MS[unit] as number);
  if (ms <= 0) throw new DurationFormatError(`duration must be positive, got ${JSON.stringify(input)}`);
  return ms;
}

export function formatDuration(ms: number): string {
  for (const u of ['d', 'h', 'm'] as const) {
    const f = UNIT_MS[u]!;
    if (ms % f === 0) return `${ms / f}${u}`;
  }
  return `${Math.ceil(ms / 1000)}s`;
}

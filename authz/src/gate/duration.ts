// Durations as operators type them: `90s`, `30m`, `4h`, `30d`, or a bare number of seconds.

export class DurationFormatError extends Error {
  readonly reason = 'invalid_duration';
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

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
  for (const [u, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms % f === 0) return `${ms / f}${u}`;
  }
  return `${Math.ceil(ms / 1000)}s`;
}

// Minimal, strict flag parsing for the admin CLI (node:util parseArgs), and durations.
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from './context.js';

export function flags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `15m`, `8h`, `30d` → seconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m) throw new UsageError(`${what}: expected a number with s, m, h or d (e.g. 15m), got ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}

// Primitive readers for MEM0_GOV_* variables, used by config/read.ts. Loaders do not call these:
// they read through the spec (`read(env, 'NAME')`), which supplies type, default and bounds
// (`str` is still called by two CLI modules: see authz/test/unit/config/spec.test.ts).
// Every failure names the variable, so a bad deployment fails at start with a message an
// operator can act on.
import { readFileSync } from 'node:fs';
import { PREFIX } from './spec.js';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export { PREFIX };

/** The variable's value; unset and empty are the same. */
export function raw(env: Env, name: string): string | undefined {
  const v = env[PREFIX + name];
  return v === undefined || v === '' ? undefined : v;
}

export function str(env: Env, name: string, fallback: string): string;
export function str(env: Env, name: string): string | undefined;
export function str(env: Env, name: string, fallback?: string): string | undefined {
  return raw(env, name) ?? fallback;
}

export function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v.trim())) throw new ConfigError(PREFIX + name, `expected an integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(PREFIX + name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(PREFIX + name, `expected true or false, got ${JSON.stringify(v)}`);
}

export function list(env: Env, name: string, fallback: string[] = []): string[] {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function url(env: Env, name: string, fallback?: string): string | undefined {
  const v = raw(env, name) ?? fallback;
  if (v === undefined) return undefined;
  try {
    const u = new URL(v);
    if (!/^https?:$/.test(u.protocol) && !/^rediss?:$/.test(u.protocol) && !/^postgres(ql)?:$/.test(u.protocol)) {
      throw new Error('unsupported scheme');
    }
  } catch {
    throw new ConfigError(PREFIX + name, `expected a URL, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * A secret: `MEM0_GOV_<NAME>` or `MEM0_GOV_<NAME>_FILE` (Docker/Kubernetes secrets), not both.
 * The value is never echoed in errors.
 */
export function secret(env: Env, name: string): string | undefined {
  const direct = raw(env, name);
  const file = raw(env, `${name}_FILE`);
  if (direct !== undefined && file !== undefined) {
    throw new ConfigError(PREFIX + name, `set either ${PREFIX}${name} or ${PREFIX}${name}_FILE, not both`);
  }
  if (file === undefined) return direct;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`${PREFIX}${name}_FILE`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

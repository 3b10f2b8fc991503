// Reads one variable as its spec entry (config/spec.ts) says: type, default, bounds, `_FILE`.
// `read(env, 'OWNER_TIMEOUT_MS')` is a number; `read(env, 'MEM0_API_KEY')` is string | undefined.
// Loaders call only this, so what a variable accepts is declared in one place.
// config/ imports no subsystem (the subsystems import it): a value in a subsystem's own format
// (a rate `600/m`, a duration `4h`) is read with readParsed(env, name, thatFormat'sParser).
import { readFileSync } from 'node:fs';
import { ConfigError, bool, int, list, raw, secret, url, type Env } from './env.js';
import { PREFIX, SPEC, type Name, type VarSpec } from './spec.js';

export interface HostPort {
  host: string;
  port: number;
}

type Parsed<S> =
  S extends { type: 'int' } ? number
  : S extends { type: 'bool' } ? boolean
  : S extends { type: 'list' } ? string[]
  : S extends { type: 'enum'; values: readonly (infer V)[] } ? V
  : S extends { type: 'roleSeconds' } ? Record<string, number>
  : S extends { type: 'hostPorts' } ? HostPort[]
  : S extends { type: 'json' } ? unknown
  : string;

/** Entries that always yield a value: a default, required, or an empty value of their own. */
type Always = { default: unknown } | { required: true } | { type: 'roleSeconds' | 'hostPorts' };

/** What `read(env, name)` returns for that entry. */
export type Value<K extends Name> = (typeof SPEC)[K] extends Always ? Parsed<(typeof SPEC)[K]> : Parsed<(typeof SPEC)[K]> | undefined;

/** Which process reads: the CLI takes an entry's `cliDefault` when it has one. */
export type ReadAs = 'service' | 'cli';

/** Entries in a subsystem's own text format (rate, duration): read with readParsed(). */
export type FormatName = { [K in Name]: (typeof SPEC)[K] extends { type: 'rate' | 'duration' } ? K : never }[Name];

/** The variable `MEM0_GOV_<name>` as its spec entry declares it. Throws ConfigError naming it. */
export function read<K extends Exclude<Name, FormatName>>(env: Env, name: K, as: ReadAs = 'service'): Value<K> {
  return readSpec(SPEC[name], env, name, as) as Value<K>;
}

/**
 * A rate or duration variable: its text (or the spec's default) through the format's parser
 * (ratelimit/rate.ts parseRate, gate/duration.ts parseDuration); a parse error becomes a
 * ConfigError naming the variable.
 */
export function readParsed<K extends FormatName, T>(env: Env, name: K, parse: (text: string) => T): (typeof SPEC)[K] extends { default: string } ? T : T | undefined;
export function readParsed<T>(env: Env, name: FormatName, parse: (text: string) => T): T | undefined {
  const s: VarSpec = SPEC[name];
  const text = raw(env, name) ?? ('default' in s && typeof s.default === 'string' ? s.default : undefined);
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (err) {
    throw new ConfigError(PREFIX + name, (err as Error).message);
  }
}

function fallback<T>(d: T | (() => T) | undefined): T | undefined {
  return typeof d === 'function' ? (d as () => T)() : d;
}

/** read() for any entry; exported for tests of entry shapes the spec does not use yet. */
export function readSpec(s: VarSpec, env: Env, name: string, as: ReadAs = 'service'): unknown {
  const variable = PREFIX + name;
  if (s.required === true && raw(env, name) === undefined && (s.type !== 'secret' || raw(env, `${name}_FILE`) === undefined)) {
    throw new ConfigError(variable, 'required');
  }
  switch (s.type) {
    case 'string': {
      const d = as === 'cli' && s.cliDefault !== undefined ? s.cliDefault : undefined;
      const v = raw(env, name) ?? d ?? fallback(s.default);
      if (v !== undefined && s.pattern && !s.pattern.test(v)) throw new ConfigError(variable, s.patternHint ?? `must match ${String(s.pattern)}`);
      return v;
    }
    case 'path':
      return raw(env, name) ?? s.default;
    case 'int':
      return raw(env, name) === undefined ? s.default : int(env, name, 0, s.min, s.max);
    case 'bool':
      return raw(env, name) === undefined ? s.default : bool(env, name, false);
    case 'url':
      return url(env, name, s.default);
    case 'list': {
      const v = raw(env, name) === undefined ? (s.default === undefined ? undefined : [...s.default]) : list(env, name);
      for (const item of v ?? []) {
        if (s.items === 'url') {
          try {
            new URL(item);
          } catch {
            throw new ConfigError(variable, `not a URL: ${JSON.stringify(item)}`);
          }
        }
        if (s.values && !s.values.includes(item)) {
          throw new ConfigError(variable, `${item} is not allowed (${s.valuesLabel ?? 'one of'}: ${s.values.join(', ')})`);
        }
      }
      return v;
    }
    case 'enum': {
      const v = raw(env, name) ?? (as === 'cli' && s.cliDefault !== undefined ? s.cliDefault : s.default);
      if (v !== undefined && !s.values.includes(v)) {
        throw new ConfigError(variable, `must be one of ${s.values.join(', ')}, got ${JSON.stringify(v)}`);
      }
      return v;
    }
    case 'duration':
    case 'rate':
      throw new Error(`${variable}: a ${s.type} is read with readParsed()`);
    case 'roleSeconds': {
      const out: Record<string, number> = {};
      for (const part of list(env, name)) {
        const m = /^([^=\s]+)\s*=\s*(\d+)$/.exec(part);
        if (!m || Number(m[2]) < 1) throw new ConfigError(variable, `expected role=seconds[,role=seconds…], got ${JSON.stringify(part)}`);
        out[m[1] as string] = Number(m[2]) * 1000;
      }
      return out;
    }
    case 'hostPorts':
      return list(env, name).map((hp): HostPort => {
        const m = /^(.+):(\d{1,5})$/.exec(hp);
        if (!m) throw new ConfigError(variable, `expected host:port, got ${JSON.stringify(hp)}`);
        return { host: m[1] as string, port: Number(m[2]) };
      });
    case 'json': {
      const v = raw(env, name);
      if (v === undefined) return undefined;
      try {
        return JSON.parse(v) as unknown;
      } catch {
        throw new ConfigError(variable, 'not valid JSON');
      }
    }
    case 'secret':
      return secret(env, name);
    case 'secretFile': {
      const path = raw(env, name);
      if (path === undefined) return undefined;
      try {
        return readFileSync(path, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(variable, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
  }
}

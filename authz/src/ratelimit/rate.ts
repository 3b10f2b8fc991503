// Limit values and scopes as written in `mem0gov:limits` (by redis-cli or `mem0-gov limits set`).
// Pure parsing: a malformed value is an error here; the service then keeps its last good value.

/** A parsed limit: `count` requests per `periodMs`, up to `burst` at once. */
export interface Rate {
  count: number;
  periodMs: number;
  burst: number;
  /** the normalized text, e.g. `600/m` */
  text: string;
}

/** Milliseconds per unit letter, for rates (`600/m`) and durations (`30m`, gate/duration.ts). */
export const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX = 1_000_000_000;

export class RateFormatError extends Error {
  readonly reason = 'invalid_rate';
}

/**
 * `<count>/<unit>` or `<count>/<n><unit>`, unit s|m|h|d, optional `,burst=<b>`:
 * `600/m`, `10/s`, `1000/h`, `100/10s`, `600/m,burst=50`. Burst defaults to count.
 */
export function parseRate(input: string): Rate {
  const m = /^\s*(\d+)\s*\/\s*(\d*)\s*([smhd])\s*(?:,\s*burst\s*=\s*(\d+)\s*)?$/i.exec(input);
  if (!m) throw new RateFormatError(`malformed rate ${JSON.stringify(input)}: expected e.g. 600/m, 10/s, 1000/h, 100/10s or 600/m,burst=50`);
  const count = Number(m[1]);
  const mult = m[2] === '' || m[2] === undefined ? 1 : Number(m[2]);
  const unit = (m[3] as string).toLowerCase();
  const periodMs = mult * (UNIT_MS[unit] as number);
  const burst = m[4] === undefined ? count : Number(m[4]);
  if (count < 1 || count > MAX) throw new RateFormatError(`rate count must be between 1 and ${MAX}, got ${count}`);
  if (mult < 1 || periodMs > 366 * UNIT_MS.d!) throw new RateFormatError(`rate period must be between 1${unit} and 366d`);
  if (burst < 1 || burst > MAX) throw new RateFormatError(`burst must be between 1 and ${MAX}, got ${burst}`);
  if ((periodMs * 1000) / count < 1) throw new RateFormatError(`rate too high: more than one request per microsecond`);
  const period = mult === 1 ? unit : `${mult}${unit}`;
  return { count, periodMs, burst, text: `${count}/${period}${burst !== count ? `,burst=${burst}` : ''}` };
}

/** GCRA parameters in integer microseconds (exact arithmetic in Lua doubles). */
export interface GcraParams {
  /** emission interval T */
  intervalUs: number;
  /** burst tolerance: burst × T */
  toleranceUs: number;
}

export function gcraParams(rate: Rate): GcraParams {
  const intervalUs = Math.max(1, Math.round((rate.periodMs * 1000) / rate.count));
  return { intervalUs, toleranceUs: intervalUs * rate.burst };
}

/** Where a limit applies. Field names in `mem0gov:limits`. */
export type Scope =
  | { kind: 'default' }          // per-subject default (every subject without a better match)
  | { kind: 'tenant-default' }   // aggregate default for every tenant
  | { kind: 'tenant-subject-default'; tenant: string } // per-subject default within one tenant
  | { kind: 'role'; role: string }
  | { kind: 'tenant-role'; tenant: string; role: string } // role limit within one tenant
  | { kind: 'tenant'; tenant: string }
  | { kind: 'subject'; tenant: string; subject: string };

export class ScopeFormatError extends Error {
  readonly reason = 'invalid_scope';
}

const ID = /^[^\s/]+$/;

/** `default`, `tenant-default`, `role:<role>`, `tenant:<tenant>`, `subject:<tenant>/<sub>`. */
export function parseScope(field: string): Scope {
  if (field === 'default') return { kind: 'default' };
  if (field === 'tenant-default') return { kind: 'tenant-default' };
  const m = /^(role|tenant|subject|default):(.+)$/.exec(field);
  if (m) {
    const rest = m[2] as string;
    if (m[1] === 'default' && ID.test(rest)) return { kind: 'tenant-subject-default', tenant: rest };
    if (m[1] === 'role' && ID.test(rest)) return { kind: 'role', role: rest };
    if (m[1] === 'role') {
      const [tenant, role, extra] = rest.split('/');
      if (extra === undefined && tenant && role && ID.test(tenant) && ID.test(role)) return { kind: 'tenant-role', tenant, role };
    }
    if (m[1] === 'tenant' && ID.test(rest)) return { kind: 'tenant', tenant: rest };
    if (m[1] === 'subject') {
      const slash = rest.indexOf('/');
      const tenant = rest.slice(0, slash);
      const subject = rest.slice(slash + 1);
      if (slash > 0 && ID.test(tenant) && subject.length > 0 && !/\s/.test(subject)) return { kind: 'subject', tenant, subject };
    }
  }
  throw new ScopeFormatError(
    `malformed scope ${JSON.stringify(field)}: expected default, default:<tenant>, tenant-default, role:<role>, role:<tenant>/<role>, tenant:<tenant> or subject:<tenant>/<subject>`,
  );
}

export function scopeField(s: Scope): string {
  switch (s.kind) {
    case 'default':
    case 'tenant-default':
      return s.kind;
    case 'tenant-subject-default':
      return `default:${s.tenant}`;
    case 'role':
      return `role:${s.role}`;
    case 'tenant-role':
      return `role:${s.tenant}/${s.role}`;
    case 'tenant':
      return `tenant:${s.tenant}`;
    case 'subject':
      return `subject:${s.tenant}/${s.subject}`;
  }
}

// Per-replica limiter used only while Redis is down and MEM0_GOV_RATELIMIT_FAILURE_MODE=open:
// the same GCRA and limits, in memory. With N replicas the effective limit is up to N×.
import { gcraStep } from '../ratelimit/gcra.js';
import { gcraParams } from '../ratelimit/rate.js';
import type { EffectiveLimits } from './limits.js';

export type LocalOutcome =
  | { allowed: true; sub: { remaining: number; resetUs: number }; tenant: { remaining: number; resetUs: number } }
  | { allowed: false; which: 'sub' | 'tenant'; retryAfterUs: number; resetUs: number };

export class LocalLimiter {
  private readonly tats = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  check(tenant: string, subject: string, limits: EffectiveLimits, nowMs: number): LocalOutcome {
    const nowUs = Math.round(nowMs * 1000);
    const subKey = `${tenant}\u0000${subject}`;
    const s = gcraStep(this.tats.get(subKey), nowUs, gcraParams(limits.subject));
    const t = gcraStep(this.tats.get(tenant), nowUs, gcraParams(limits.tenant));
    if (!s.allowed) return { allowed: false, which: 'sub', retryAfterUs: s.retryAfterUs, resetUs: s.resetUs };
    if (!t.allowed) return { allowed: false, which: 'tenant', retryAfterUs: t.retryAfterUs, resetUs: t.resetUs };
    if (this.tats.size >= this.maxEntries) this.prune(nowUs);
    this.tats.set(subKey, s.tatUs);
    this.tats.set(tenant, t.tatUs);
    return { allowed: true, sub: { remaining: s.remaining, resetUs: s.resetUs }, tenant: { remaining: t.remaining, resetUs: t.resetUs } };
  }

  /** Drops buckets that are full again (TAT in the past): they hold no state worth keeping. */
  private prune(nowUs: number): void {
    for (const [k, tat] of this.tats) if (tat <= nowUs) this.tats.delete(k);
    if (this.tats.size >= this.maxEntries) this.tats.clear();
  }
}

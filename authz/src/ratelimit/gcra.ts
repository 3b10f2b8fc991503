// GCRA (generic cell rate algorithm) step, the same arithmetic as the Lua gate script,
// used by the per-replica fallback limiter while Redis is down. All times in integer µs.
import type { GcraParams } from './rate.js';

export interface GcraStep {
  allowed: boolean;
  /** theoretical arrival time to store (unchanged when denied) */
  tatUs: number;
  /** requests still allowed right now after this one */
  remaining: number;
  /** µs until the bucket is full again */
  resetUs: number;
  /** µs until a request would be allowed (0 when allowed) */
  retryAfterUs: number;
}

export function gcraStep(storedTatUs: number | undefined, nowUs: number, p: GcraParams): GcraStep {
  const tat = storedTatUs === undefined || storedTatUs < nowUs ? nowUs : storedTatUs;
  const newTat = tat + p.intervalUs;
  const allowAt = newTat - p.toleranceUs;
  if (allowAt > nowUs) {
    return { allowed: false, tatUs: tat, remaining: 0, resetUs: tat - nowUs, retryAfterUs: allowAt - nowUs };
  }
  return {
    allowed: true,
    tatUs: newTat,
    remaining: Math.floor((nowUs + p.toleranceUs - newTat) / p.intervalUs),
    resetUs: newTat - nowUs,
    retryAfterUs: 0,
  };
}

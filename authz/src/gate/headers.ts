// RateLimit-* / Retry-After headers (IETF httpapi ratelimit-headers, delta-seconds form).
// Lowercase names: Envoy forwards HTTP/2-style header keys.
import type { Rate } from '../ratelimit/rate.js';

export interface BucketState {
  rate: Rate;
  remaining: number;
  resetUs: number;
}

function policy(rate: Rate): string {
  const w = Math.round(rate.periodMs / 1000);
  return `${rate.count};w=${w}${rate.burst !== rate.count ? `;burst=${rate.burst}` : ''}`;
}

const secs = (us: number): number => Math.max(0, Math.ceil(us / 1_000_000));

/** Headers for an allowed request: the bucket with fewer requests left is the one reported. */
export function passHeaders(sub: BucketState, tenant: BucketState): Record<string, string> {
  const b = tenant.remaining < sub.remaining ? tenant : sub;
  return {
    'ratelimit-limit': String(b.rate.count),
    'ratelimit-remaining': String(Math.max(0, b.remaining)),
    'ratelimit-reset': String(secs(b.resetUs)),
    'ratelimit-policy': policy(b.rate),
  };
}

/** Headers for a 429: Retry-After is at least one second. */
export function limitedHeaders(rate: Rate, retryAfterUs: number, resetUs: number): Record<string, string> {
  return {
    'retry-after': String(Math.max(1, secs(retryAfterUs))),
    'ratelimit-limit': String(rate.count),
    'ratelimit-remaining': '0',
    'ratelimit-reset': String(Math.max(1, secs(resetUs))),
    'ratelimit-policy': policy(rate),
  };
}

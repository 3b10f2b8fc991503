// A bounded cache of verified tokens: agents reuse one token for many requests, and signature
// verification is the largest single cost of a decision. Keyed by SHA-256 of the whole token
// (never the token itself), so another signature, claim or header is another entry. An entry
// ends at the token's exp (or its max age), when the key that verified it is no longer the one
// its issuer serves for that kid (rotation: the caller checks that on every hit), and with the
// authenticator (settings are read once; a change restarts the service). Revocation, sessions
// and limits are the gate's and are checked on every request, cached token or not.
import { createHash } from 'node:crypto';
import type { Identity } from '../types.js';

export interface CachedToken {
  identity: Identity;
  /** ms since epoch after which the entry is dead */
  endsAtMs: number;
  /** the key object that verified the signature */
  key: unknown;
}

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live entry for this digest, refreshed as most recently used; expired ones are dropped. */
  get(digest: string, nowMs: number): CachedToken | undefined {
    const e = this.entries.get(digest);
    if (e === undefined) return undefined;
    this.entries.delete(digest);
    if (e.endsAtMs <= nowMs) return undefined;
    this.entries.set(digest, e);
    return e;
  }

  set(digest: string, entry: CachedToken): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(digest);
    this.entries.set(digest, entry);
    // Oldest (least recently used) first in a Map's insertion order.
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(digest: string): void {
    this.entries.delete(digest);
  }

  /** Digests held (for tests: never tokens). */
  keys(): string[] {
    return [...this.entries.keys()];
  }
}

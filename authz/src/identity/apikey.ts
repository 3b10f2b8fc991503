// Stage 2 for API keys: `m0g_<id>_<secret>` → Identity (docs/api-keys.md). The record is looked
// up by key id in Redis, the secret's digest compared in constant time, then revocation and
// expiry checked. The Identity has the JWT's shape (subject, tenant, roles, agent; the key id as
// `jti`), so the gate, the policy and the audit treat the caller exactly as a JWT caller: jti,
// subject, agent and tenant revocation, suspension and rate limits all come from the gate.
//
// A replica may reuse a record it read for MEM0_GOV_APIKEY_CACHE_SECONDS: records do not change
// except for revocation, which `apikey revoke` also writes as the gate's jti revocation — read
// on every request in the gate's one round trip. The cache holds records (a digest, never the
// secret); the secret is checked against it on every request. No session: like a client-
// credentials agent, a key has no `sid` (no idle timeout) and no auth time (no absolute session
// limit); its own expiry is its lifetime, bounded by MEM0_GOV_APIKEY_MAX_TTL when created.
import { PipelineStop, stop } from '../errors.js';
import * as metrics from '../metrics.js';
import type { RedisClient } from '../redis/connect.js';
import type { Identity } from '../types.js';
import { TENANT_PATTERN } from './claims.js';
import { unauthenticated } from './errors.js';
import { apiKeyDigest, digestMatches, parseApiKey } from './apikey-format.js';
import { fetchRecord, type ApiKeyRecord } from './apikey-store.js';

/** The issuer recorded for API-key identities (no JWT issuer signed them). */
export const API_KEY_ISSUER = 'mem0-gov:api-key';

/** Default bound of the record cache (a few hundred bytes per key). */
export const APIKEY_CACHE_ENTRIES = 10_000;

export interface ApiKeyAuthenticator {
  /** The key as the client sent it (X-API-Key, or after `Authorization: Token`). */
  authenticate(key: string): Promise<Identity>;
  /** Key ids of the records held (tests: never secrets). */
  cachedKeyIds(): string[];
}

export function identityFor(r: ApiKeyRecord): Identity {
  const id: Identity = {
    subject: r.subject,
    issuer: API_KEY_ISSUER,
    tenant: r.tenant,
    roles: [...r.roles].sort(),
    jti: r.keyId,
    exp: Math.floor(r.expiresAt / 1000),
    credential: 'api_key',
    keyId: r.keyId,
  };
  if (r.agent !== undefined) id.agent = r.agent;
  return id;
}

export function createApiKeyAuthenticator(deps: {
  redis: RedisClient;
  cacheMs: number;
  clock?: () => number;
  maxEntries?: number;
}): ApiKeyAuthenticator {
  const clock = deps.clock ?? Date.now;
  const maxEntries = deps.maxEntries ?? APIKEY_CACHE_ENTRIES;
  const cache = new Map<string, { record: ApiKeyRecord; until: number }>();

  async function record(keyId: string, now: number): Promise<ApiKeyRecord | undefined> {
    const hit = cache.get(keyId);
    if (hit !== undefined) {
      cache.delete(keyId);
      if (hit.until > now) {
        cache.set(keyId, hit); // most recently used last
        return hit.record;
      }
    }
    let r: ApiKeyRecord | undefined;
    try {
      r = await fetchRecord(deps.redis, keyId);
    } catch (err) {
      // Without Redis nobody can say whether the key exists: fail closed, as the gate does.
      throw stop('redis_unavailable', {}, err);
    }
    if (r !== undefined && deps.cacheMs > 0 && maxEntries > 0) {
      cache.set(keyId, { record: r, until: now + deps.cacheMs });
      while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
    }
    return r;
  }

  return {
    cachedKeyIds: () => [...cache.keys()],
    async authenticate(text) {
      const parsed = parseApiKey(text);
      if (!parsed) throw unauthenticated('malformed_token');
      const now = clock();
      // Refusals of a well-formed key name its (public) key id in the audit row: guessing or a
      // leaked, revoked key shows up per key id. Never the secret.
      const named = (s: PipelineStop): PipelineStop => s.withAudit({ credential: 'api_key', api_key_id: parsed.keyId });
      const r = await record(parsed.keyId, now).catch((err: unknown) => {
        throw err instanceof PipelineStop ? named(err) : err;
      });
      // The secret first: whoever does not hold it learns nothing about the key's state.
      if (r === undefined || !digestMatches(apiKeyDigest(parsed.keyId, parsed.secret), r.digest)) throw named(unauthenticated('unknown_api_key'));
      if (!TENANT_PATTERN.test(r.tenant)) throw named(unauthenticated('unknown_api_key'));
      // As the gate answers a revoked jti: 401, no challenge (a new key, not a retry, is the fix),
      // counted for the revoked-credential alert.
      if (r.revokedAt !== undefined) {
        metrics.revokedTokenUse.inc({ tenant: r.tenant });
        throw named(stop('token_revoked'));
      }
      if (r.expiresAt <= now) throw named(unauthenticated('expired'));
      return identityFor(r);
    },
  };
}

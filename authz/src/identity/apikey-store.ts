// API key records in Redis (docs/api-keys.md "Storage"). One hash per key, found by its id —
// global keys (not under a tenant's hash tag): the tenant is what the record says, so it cannot
// be part of the lookup. A sorted-set index (score = expiry) lets `apikey list` find them on a
// Cluster without SCAN. Records outlive their expiry by LIST_RETENTION_MS, so recently expired
// and revoked keys are still listed; then Redis drops them.
//
// Revocation is written twice: into the record (permanent: a fresh lookup refuses the key) and
// as the gate's jti revocation of the key id (`rev:jti:<key id>` under the tenant's hash tag),
// which every replica reads on every request in the gate's one round trip — so a replica that
// reuses a cached record still refuses a revoked key on the next request.
import type { RedisClient } from '../redis/connect.js';
import { PREFIX, esc, tenantKeys } from '../redis/keys.js';

export const APIKEY_INDEX_KEY = `${PREFIX}apikeys:index`;
export const LIST_RETENTION_MS = 90 * 86_400_000;

export function apiKeyRecordKey(keyId: string): string {
  return `${PREFIX}apikey:${esc(keyId)}`;
}

/** One key as stored: never the secret, only its digest (apikey-format.ts). */
export interface ApiKeyRecord {
  keyId: string;
  tenant: string;
  subject: string;
  roles: string[];
  agent?: string;
  digest: string;
  /** ms since epoch */
  createdAt: number;
  expiresAt: number;
  createdBy: string;
  revokedAt?: number;
  revokedBy?: string;
  revokeReason?: string;
}

function int(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** A stored hash → record; undefined when a required field is missing or malformed. */
export function parseRecord(keyId: string, h: Record<string, string>): ApiKeyRecord | undefined {
  const createdAt = int(h.created_at);
  const expiresAt = int(h.expires_at);
  const roles = (h.roles ?? '').split(',').filter((r) => r !== '');
  if (!h.tenant || !h.sub || !h.digest || roles.length === 0 || createdAt === undefined || expiresAt === undefined) return undefined;
  const r: ApiKeyRecord = { keyId, tenant: h.tenant, subject: h.sub, roles, digest: h.digest, createdAt, expiresAt, createdBy: h.created_by ?? '' };
  if (h.agent) r.agent = h.agent;
  const revokedAt = int(h.revoked_at);
  if (revokedAt !== undefined) {
    r.revokedAt = revokedAt;
    if (h.revoked_by) r.revokedBy = h.revoked_by;
    if (h.revoke_reason) r.revokeReason = h.revoke_reason;
  }
  return r;
}

export async function fetchRecord(redis: RedisClient, keyId: string): Promise<ApiKeyRecord | undefined> {
  const h = await redis.hgetall(apiKeyRecordKey(keyId));
  return Object.keys(h).length === 0 ? undefined : parseRecord(keyId, h);
}

/** Record first, then the index: a listed key always has its record. */
export async function storeRecord(redis: RedisClient, r: ApiKeyRecord): Promise<void> {
  const key = apiKeyRecordKey(r.keyId);
  const fields: Record<string, string> = {
    tenant: r.tenant,
    sub: r.subject,
    roles: r.roles.join(','),
    digest: r.digest,
    created_at: String(r.createdAt),
    expires_at: String(r.expiresAt),
    created_by: r.createdBy,
    ...(r.agent !== undefined ? { agent: r.agent } : {}),
  };
  await redis.multi().hset(key, fields).pexpireat(key, r.expiresAt + LIST_RETENTION_MS).exec();
  await redis.zadd(APIKEY_INDEX_KEY, r.expiresAt, r.keyId);
}

/**
 * Marks the key revoked (record) and deny-lists its id for the gate until the key expires
 * (a minute more, for replicas whose clocks run behind).
 */
export async function revokeRecord(redis: RedisClient, r: ApiKeyRecord, by: string, reason: string | null, nowMs: number): Promise<void> {
  await redis.hset(apiKeyRecordKey(r.keyId), { revoked_at: String(nowMs), revoked_by: by, ...(reason !== null ? { revoke_reason: reason } : {}) });
  const until = Math.max(r.expiresAt, nowMs) + 60_000;
  await redis.set(tenantKeys.revoked(r.tenant, 'jti', r.keyId), JSON.stringify({ by, at: nowMs, reason, api_key: true }), 'PXAT', until);
}

export type KeyState = 'active' | 'expired' | 'revoked';

export function keyState(r: ApiKeyRecord, nowMs: number): KeyState {
  if (r.revokedAt !== undefined) return 'revoked';
  return r.expiresAt <= nowMs ? 'expired' : 'active';
}

/** Keys active or expired within the retention window, newest expiry first. */
export async function listRecords(redis: RedisClient, nowMs: number, tenant?: string): Promise<ApiKeyRecord[]> {
  const since = nowMs - LIST_RETENTION_MS;
  await redis.zremrangebyscore(APIKEY_INDEX_KEY, '-inf', `(${since}`);
  const ids = await redis.zrevrangebyscore(APIKEY_INDEX_KEY, '+inf', since);
  const out: ApiKeyRecord[] = [];
  for (const id of ids) {
    const r = await fetchRecord(redis, id);
    if (!r || (tenant !== undefined && r.tenant !== tenant)) continue;
    out.push(r);
  }
  return out;
}

// Stage 4: who owns a memory. Asks Mem0 (GET /memories/{id}) and caches only the owner ids and
// the PHI flag in Redis (never memory content) for a short TTL. A Redis failure only costs a
// cache miss; a Mem0 failure stops the request (OwnerLookupError → 503 upstream, fail closed).
// An allowed update or delete evicts the cached owner; an allowed delete leaves a tombstone
// (owner ids + PHI flag, no expiry) so the history Mem0 keeps stays readable by that tenant.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { createLogLimiter } from '../log-limit.js';
import { PipelineStop } from '../errors.js';
import { esc, PREFIX } from '../redis/keys.js';
import { isPhiMetadata } from '../request/phi.js';
import type { MemoryOwner, OwnerLookup } from '../types.js';

export class OwnerLookupError extends PipelineStop {
  constructor(readonly detail: string) {
    super('error', 'owner_lookup_failed', 503);
    this.name = 'OwnerLookupError';
    this.message = detail;
  }
}

export interface OwnerLookupDeps {
  mem0Url: string;
  apiKey?: string;
  redis: Redis | Cluster;
  ttlSeconds: number;
  timeoutMs: number;
  phiLabels: readonly string[];
  logger: Logger;
  fetchImpl?: typeof fetch;
}

export function ownerCacheKey(memoryId: string): string {
  return `${PREFIX}owner:${esc(memoryId)}`;
}

/** Owner of a memory deleted through mem0-gov; kept (no TTL) as long as Mem0 keeps its history. */
export function tombstoneKey(memoryId: string): string {
  return `${PREFIX}tomb:${esc(memoryId)}`;
}

const NOT_FOUND: MemoryOwner = Object.freeze({ exists: false, phi: false });
const ID_FIELDS = ['user_id', 'agent_id', 'run_id'] as const;

/** Mem0's memory JSON → owner. Mem0 answers 200 `null` for an unknown id. */
export function ownerFromMemory(body: unknown, phiLabels: readonly string[]): MemoryOwner {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { ...NOT_FOUND };
  const m = body as Record<string, unknown>;
  const owner: MemoryOwner = { exists: true, phi: isPhiMetadata(m.metadata, phiLabels) };
  for (const k of ID_FIELDS) {
    const v = m[k];
    if (typeof v === 'string' && v !== '') owner[k] = v;
  }
  return owner;
}

function fromCache(raw: string | null, tombstone = false): MemoryOwner | undefined {
  if (raw === null) return undefined;
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    if (v.exists !== true || typeof v.phi !== 'boolean') return undefined;
    const owner: MemoryOwner = tombstone ? { exists: false, deleted: true, phi: v.phi } : { exists: true, phi: v.phi };
    for (const k of ID_FIELDS) if (typeof v[k] === 'string') owner[k] = v[k] as string;
    return owner;
  } catch {
    return undefined;
  }
}

export function createOwnerLookup(deps: OwnerLookupDeps): OwnerLookup {
  const log = deps.logger.child({ component: 'owner' });
  // Redis or Mem0 down fails these once per request: one line per kind and window, with counts.
  const limited = createLogLimiter();
  const doFetch = deps.fetchImpl ?? fetch;
  const base = deps.mem0Url.replace(/\/+$/, '');
  // Concurrent lookups of one id share a single Mem0 request.
  const inflight = new Map<string, Promise<MemoryOwner>>();

  async function fetchOwner(memoryId: string, requestId: string): Promise<MemoryOwner> {
    const headers: Record<string, string> = { accept: 'application/json', 'x-request-id': requestId };
    if (deps.apiKey !== undefined) headers['x-api-key'] = deps.apiKey;
    let res: Response;
    let body: unknown;
    try {
      res = await doFetch(`${base}/memories/${encodeURIComponent(memoryId)}`, {
        headers, signal: AbortSignal.timeout(deps.timeoutMs),
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return { ...NOT_FOUND };
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new OwnerLookupError(`mem0 answered ${res.status}`);
      }
      body = await res.json();
    } catch (err) {
      if (err instanceof OwnerLookupError) throw err;
      throw new OwnerLookupError(`mem0 unreachable: ${(err as Error).name}`);
    }
    return ownerFromMemory(body, deps.phiLabels);
  }

  async function lookupUncached(memoryId: string, requestId: string): Promise<MemoryOwner> {
    const key = ownerCacheKey(memoryId);
    let cached: MemoryOwner | undefined;
    try {
      cached = fromCache(await deps.redis.get(key));
    } catch (err) {
      limited('warn', log, 'cache-read', { err: (err as Error).message, requestId }, 'owner cache read failed; asking mem0');
    }
    if (cached !== undefined) return cached;
    // A memory deleted through mem0-gov stays deleted (ids are never reused): its tombstone
    // answers without asking Mem0.
    try {
      const tomb = fromCache(await deps.redis.get(tombstoneKey(memoryId)), true);
      if (tomb !== undefined) return tomb;
    } catch (err) {
      limited('warn', log, 'tombstone-read', { err: (err as Error).message, requestId }, 'tombstone read failed; asking mem0');
    }
    let owner: MemoryOwner;
    try {
      owner = await fetchOwner(memoryId, requestId);
    } catch (err) {
      limited('error', log, 'lookup', { err: (err as Error).message, requestId, memoryId }, 'owner lookup failed');
      throw err;
    }
    // Only existing memories are cached: a "not found" may be a memory about to be created.
    if (owner.exists && deps.ttlSeconds > 0) {
      deps.redis.set(key, JSON.stringify(owner), 'EX', deps.ttlSeconds).catch((err: Error) => {
        limited('warn', log, 'cache-write', { err: err.message, requestId }, 'owner cache write failed');
      });
    }
    return owner;
  }

  return {
    async evict(memoryId: string): Promise<void> {
      inflight.delete(memoryId);
      await deps.redis.del(ownerCacheKey(memoryId));
    },
    async tombstone(memoryId: string, owner: MemoryOwner): Promise<void> {
      if (!owner.exists) return;
      const ids: Record<string, string> = {};
      for (const k of ID_FIELDS) if (owner[k] !== undefined) ids[k] = owner[k]!;
      await deps.redis.set(tombstoneKey(memoryId), JSON.stringify({ exists: true, phi: owner.phi, ...ids }));
    },
    lookup(memoryId: string, requestId: string): Promise<MemoryOwner> {
      const pending = inflight.get(memoryId);
      if (pending !== undefined) return pending;
      const p = lookupUncached(memoryId, requestId).finally(() => inflight.delete(memoryId));
      inflight.set(memoryId, p);
      return p;
    },
  };
}

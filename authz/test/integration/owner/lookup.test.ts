// Owner lookup against a small local Mem0-like HTTP server and a real redis-server.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createOwnerLookup, ownerCacheKey, tombstoneKey, type OwnerLookupDeps } from '../../../src/owner/lookup.js';
import { startMem0Standin } from '../../../../testing/mem0-standin.js';
import { startRedis, type RedisHandle } from '../../../../testing/redis.js';
import { freePort } from '../../../../testing/tools.js';

const MEMORIES: Record<string, unknown> = {
  'm-plain': { id: 'm-plain', memory: 'likes green tea', user_id: 'acme:alice', agent_id: 'acme:bot', metadata: {} },
  'm-phi': { id: 'm-phi', memory: 'diagnosis: secret', user_id: 'acme:alice', metadata: { phi: true } },
  'm-label': { id: 'm-label', memory: 'x', run_id: 'acme:run-1', metadata: { classification: ['HIPAA'] } },
  'm-null': null,
};

let redisSrv: RedisHandle;
let redis: Redis;
let mem0: Server;
let mem0Url: string;
let hits: IncomingMessage[] = [];
let mode: 'normal' | 'error' | 'hang' = 'normal';

beforeAll(async () => {
  redisSrv = await startRedis();
  redis = new Redis(redisSrv.url, { lazyConnect: false });
  const port = await freePort();
  mem0 = createServer((req, res) => {
    hits.push(req);
    if (mode === 'hang') return; // never answers
    if (mode === 'error') {
      res.writeHead(500).end('{"detail":"boom"}');
      return;
    }
    const id = decodeURIComponent((req.url ?? '').replace(/^\/memories\//, ''));
    if (!(id in MEMORIES)) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Memory not found"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(MEMORIES[id]));
  });
  await new Promise<void>((r) => mem0.listen(port, '127.0.0.1', r));
  mem0Url = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  mem0?.closeAllConnections();
  await new Promise((r) => mem0?.close(r));
  redis?.disconnect();
  await redisSrv?.stop();
});

beforeEach(async () => {
  hits = [];
  mode = 'normal';
  await redis.flushall();
});

function lookup(over: Partial<OwnerLookupDeps> = {}) {
  return createOwnerLookup({
    mem0Url, redis, ttlSeconds: 30, timeoutMs: 500, phiLabels: ['phi', 'hipaa'], logger: pino({ level: 'silent' }), ...over,
  });
}

describe('owner lookup', () => {
  it('returns owner ids and the PHI flag from Mem0', async () => {
    const l = lookup();
    expect(await l.lookup('m-plain', 'r1')).toEqual({ exists: true, user_id: 'acme:alice', agent_id: 'acme:bot', phi: false });
    expect(await l.lookup('m-phi', 'r1')).toEqual({ exists: true, user_id: 'acme:alice', phi: true });
    expect(await l.lookup('m-label', 'r1')).toEqual({ exists: true, run_id: 'acme:run-1', phi: true });
  });

  it('caches owner ids (not content) in Redis for the TTL; the next lookup skips Mem0', async () => {
    const l = lookup({ ttlSeconds: 30 });
    await l.lookup('m-phi', 'r1');
    await new Promise((r) => setTimeout(r, 20)); // cache write is fire-and-forget
    const raw = await redis.get(ownerCacheKey('m-phi'));
    expect(JSON.parse(raw!)).toEqual({ exists: true, user_id: 'acme:alice', phi: true });
    expect(raw).not.toContain('diagnosis');
    const ttl = await redis.ttl(ownerCacheKey('m-phi'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
    expect(ownerCacheKey('m-phi')).toBe('mem0gov:owner:m-phi');
    hits = [];
    expect(await lookup().lookup('m-phi', 'r2')).toEqual({ exists: true, user_id: 'acme:alice', phi: true });
    expect(hits).toHaveLength(0);
  });

  it('answers exists:false for 404 and for Mem0\'s 200 null, without caching it', async () => {
    const l = lookup();
    expect(await l.lookup('m-missing', 'r')).toEqual({ exists: false, phi: false });
    expect(await l.lookup('m-null', 'r')).toEqual({ exists: false, phi: false });
    await new Promise((r) => setTimeout(r, 20));
    expect(await redis.exists(ownerCacheKey('m-missing'), ownerCacheKey('m-null'))).toBe(0);
  });

  it('evict forgets the cached owner; a tombstone keeps the owner of a deleted memory without asking Mem0', async () => {
    const l = lookup();
    const owner = await l.lookup('m-plain', 'r');
    await new Promise((r) => setTimeout(r, 20));
    expect(await redis.exists(ownerCacheKey('m-plain'))).toBe(1);
    await l.tombstone('m-plain', owner);
    await l.evict('m-plain');
    expect(await redis.exists(ownerCacheKey('m-plain'))).toBe(0);
    const raw = await redis.get(tombstoneKey('m-plain'));
    expect(JSON.parse(raw!)).toEqual({ exists: true, phi: false, user_id: 'acme:alice', agent_id: 'acme:bot' });
    expect(await redis.ttl(tombstoneKey('m-plain'))).toBe(-1); // kept as long as Mem0 keeps the history
    hits = [];
    expect(await l.lookup('m-plain', 'r')).toEqual({ exists: false, deleted: true, user_id: 'acme:alice', agent_id: 'acme:bot', phi: false });
    expect(hits).toHaveLength(0);
    // a memory that never existed gets no tombstone
    await l.tombstone('m-missing', { exists: false, phi: false });
    expect(await redis.exists(tombstoneKey('m-missing'))).toBe(0);
  });

  it('sends X-API-Key only when configured, and URL-encodes the id', async () => {
    await lookup({ apiKey: 'k-123' }).lookup('m-plain', 'r');
    expect(hits[0]!.headers['x-api-key']).toBe('k-123');
    await redis.flushall();
    await lookup().lookup('m-plain', 'r');
    expect(hits[1]!.headers['x-api-key']).toBeUndefined();
    await lookup().lookup('../reset', 'r');
    expect(hits[2]!.url).toBe('/memories/..%2Freset');
  });

  it('throws owner_lookup_failed when Mem0 errors, hangs or is unreachable', async () => {
    mode = 'error';
    await expect(lookup().lookup('m-plain', 'r')).rejects.toMatchObject({ reason: 'owner_lookup_failed' });
    mode = 'hang';
    await expect(lookup({ timeoutMs: 100 }).lookup('m-plain', 'r')).rejects.toMatchObject({ reason: 'owner_lookup_failed' });
    const dead = `http://127.0.0.1:${await freePort()}`;
    await expect(lookup({ mem0Url: dead }).lookup('m-plain', 'r')).rejects.toMatchObject({ reason: 'owner_lookup_failed' });
  });

  it('falls back to Mem0 when Redis is down', async () => {
    const down = new Redis(await freePort(), '127.0.0.1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => undefined); // the refused connection is the point of this test
    try {
      expect(await lookup({ redis: down }).lookup('m-plain', 'r')).toMatchObject({ exists: true, user_id: 'acme:alice' });
    } finally {
      down.disconnect();
    }
  });

  it('ignores a corrupt cache entry', async () => {
    await redis.set(ownerCacheKey('m-plain'), '{not json');
    expect(await lookup().lookup('m-plain', 'r')).toMatchObject({ user_id: 'acme:alice' });
    expect(hits).toHaveLength(1);
  });

  it('coalesces concurrent lookups of one id', async () => {
    const l = lookup();
    const all = await Promise.all([l.lookup('m-plain', 'a'), l.lookup('m-plain', 'b'), l.lookup('m-plain', 'c')]);
    expect(all.every((o) => o.user_id === 'acme:alice')).toBe(true);
    expect(hits).toHaveLength(1);
  });

  it('reads the owner from the Mem0 stand-in (same response shape as Mem0 OSS)', async () => {
    const standin = await startMem0Standin({ requireApiKey: 'k-1' });
    try {
      const m = standin.seed({ memory: 'x', user_id: 'acme:alice', agent_id: 'acme:bot', metadata: { classification: 'phi' } });
      const l = lookup({ mem0Url: standin.url, apiKey: 'k-1' });
      expect(await l.lookup(m.id, 'r')).toEqual({ exists: true, user_id: 'acme:alice', agent_id: 'acme:bot', phi: true });
      expect(await l.lookup('00000000-0000-4000-8000-000000000000', 'r')).toEqual({ exists: false, phi: false });
      await expect(lookup({ mem0Url: standin.url }).lookup('00000000-0000-4000-8000-000000000001', 'r'))
        .rejects.toMatchObject({ reason: 'owner_lookup_failed' }); // 401 without the key
    } finally {
      await standin.stop();
    }
  });
});

// API keys against a real redis-server: `mem0-gov apikey create|list|revoke` (driven through
// run() with a CliContext that records admin actions), authentication by two authenticator
// instances (two replicas) with record caches, and the gate deciding as for a JWT.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '../../../../testing/redis.js';
import * as apikeyCli from '../../../src/cli/apikey.js';
import { createApiKeyAuthenticator } from '../../../src/identity/apikey.js';
import { APIKEY_INDEX_KEY, LIST_RETENTION_MS, apiKeyRecordKey, storeRecord } from '../../../src/identity/apikey-store.js';
import { generateApiKey, parseApiKey } from '../../../src/identity/apikey-format.js';
import { createRedisGate } from '../../../src/gate/index.js';
import { connectRedis, loadRedisConfig, closeRedis, type RedisClient } from '../../../src/redis/connect.js';
import { tenantKeys } from '../../../src/redis/keys.js';
import { PipelineStop } from '../../../src/errors.js';
import type { Gate } from '../../../src/types.js';
import * as revokeCli from '../../../src/cli/revoke.js';
import * as tenantCli from '../../../src/cli/tenant.js';
import * as metrics from '../../../src/metrics.js';
import { REQ, capturingLogger, counterValue, fakeCliContext, gateConfig, type FakeCliContext } from '../gate/helpers.js';

let server: RedisHandle;
let admin: Redis;
let client: RedisClient;
let gate: Gate;

const ctx = (opts: { failRecord?: boolean; env?: Record<string, string> } = {}): FakeCliContext => fakeCliContext(server.url, opts);

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    if (err instanceof PipelineStop) return err.reason;
    throw err;
  }
}

/** Creates a key through the CLI; returns the printed key and the context. */
async function create(args: string[]): Promise<{ key: string; c: FakeCliContext; code: number }> {
  const c = ctx();
  const code = await apikeyCli.run(['create', ...args], c);
  return { key: c.outLines[0] ?? '', c, code };
}

beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
  client = connectRedis(loadRedisConfig({ MEM0_GOV_REDIS_URL: server.url }), capturingLogger().logger);
  gate = await createRedisGate({ redis: client, config: gateConfig(), logger: capturingLogger().logger });
});
afterAll(async () => {
  await gate.close();
  await closeRedis(client);
  admin.disconnect();
  await server.stop();
});
beforeEach(async () => {
  await admin.flushall();
});

describe('apikey create', () => {
  it('prints the key once; Redis holds its digest and the caller\'s attributes, never the secret; audited first', async () => {
    const { key, c, code } = await create(['--tenant', 'acme', '--sub', 'bot-7', '--role', 'agent-writer', '--role', 'agent-reader', '--agent', 'support-bot', '--ttl', '90d']);
    expect(code, c.errLines.join('\n')).toBe(0);
    expect(c.outLines).toHaveLength(1);
    const parsed = parseApiKey(key)!;
    expect(parsed).toBeDefined();
    const h = await admin.hgetall(apiKeyRecordKey(parsed.keyId));
    expect(h).toMatchObject({ tenant: 'acme', sub: 'bot-7', roles: 'agent-reader,agent-writer', agent: 'support-bot', created_by: 'ops-oncall' });
    expect(Number(h.expires_at) - Number(h.created_at)).toBe(90 * 86_400_000);
    // Nothing in Redis contains the secret.
    const dump = JSON.stringify(await Promise.all((await admin.keys('*')).map(async (k) => [k, await admin.type(k) === 'hash' ? await admin.hgetall(k) : await admin.zrange(k, 0, -1)])));
    expect(dump).not.toContain(parsed.secret);
    expect(dump).toContain(parsed.keyId);
    // The record expires from Redis LIST_RETENTION_MS after the key.
    expect(await admin.pexpiretime(apiKeyRecordKey(parsed.keyId))).toBe(Number(h.expires_at) + LIST_RETENTION_MS);
    expect(c.actions).toEqual([{
      command: 'apikey.create',
      target: `apikey:${parsed.keyId}@acme`,
      details: { key_id: parsed.keyId, tenant: 'acme', sub: 'bot-7', roles: 'agent-reader,agent-writer', agent: 'support-bot', ttl_seconds: 90 * 86_400, expires_at: new Date(Number(h.expires_at)).toISOString() },
    }]);
    expect(JSON.stringify(c.actions)).not.toContain(parsed.secret);
    expect(c.errLines.join('\n')).toContain('shown only once');
  });

  it.each([
    [['--sub', 'b', '--role', 'agent-writer', '--ttl', '1d'], /--tenant is required/],
    [['--tenant', 'acme:x', '--sub', 'b', '--role', 'agent-writer', '--ttl', '1d'], /--tenant/],
    [['--tenant', 'acme', '--role', 'agent-writer', '--ttl', '1d'], /--sub is required/],
    [['--tenant', 'acme', '--sub', 'b', '--ttl', '1d'], /--role is required/],
    [['--tenant', 'acme', '--sub', 'b', '--role', 'agent-writer'], /--ttl is required/],
    [['--tenant', 'acme', '--sub', 'b', '--role', 'agent-writer', '--ttl', 'forever'], /--ttl: malformed duration/],
    [['--tenant', 'acme', '--sub', 'b', '--role', 'agent-writer', '--ttl', '366d'], /exceeds the maximum 365d \(MEM0_GOV_APIKEY_MAX_TTL\)/],
    [['--tenant', 'acme', '--sub', 'b', '--role', 'wizard', '--ttl', '1d'], /--role wizard: not a role of the policy data/],
    [['--tenant', 'acme', '--sub', 'b', '--role', 'platform-admin', '--ttl', '1d'], /acts on every tenant/],
  ])('refuses %j with exit 2, nothing recorded or stored', async (argv, message) => {
    const { c, code } = await create(argv);
    expect(code).toBe(2);
    expect(c.errLines.join('\n')).toMatch(message);
    expect(c.actions).toEqual([]);
    expect(await admin.dbsize()).toBe(0);
  });

  it('MEM0_GOV_APIKEY_MAX_TTL bounds --ttl', async () => {
    const c = ctx({ env: { MEM0_GOV_APIKEY_MAX_TTL: '30d' } });
    expect(await apikeyCli.run(['create', '--tenant', 'acme', '--sub', 'b', '--role', 'agent-reader', '--ttl', '31d'], c)).toBe(2);
    expect(c.errLines.join('\n')).toContain('exceeds the maximum 30d');
    expect(await apikeyCli.run(['create', '--tenant', 'acme', '--sub', 'b', '--role', 'agent-reader', '--ttl', '30d'], c)).toBe(0);
  });

  it('stores nothing when the admin action cannot be recorded', async () => {
    const c = ctx({ failRecord: true });
    expect(await apikeyCli.run(['create', '--tenant', 'acme', '--sub', 'b', '--role', 'agent-reader', '--ttl', '1d'], c)).toBe(1);
    expect(c.outLines).toEqual([]);
    expect(await admin.dbsize()).toBe(0);
  });
});

describe('authentication', () => {
  it('a created key authenticates as its subject, tenant, roles and agent, with the key id as jti; the gate passes it', async () => {
    const { key } = await create(['--tenant', 'acme', '--sub', 'bot-7', '--role', 'agent-writer', '--agent', 'support-bot', '--ttl', '1d']);
    const auth = createApiKeyAuthenticator({ redis: client, cacheMs: 30_000 });
    const id = await auth.authenticate(key);
    const keyId = parseApiKey(key)!.keyId;
    expect(id).toMatchObject({ subject: 'bot-7', tenant: 'acme', roles: ['agent-writer'], agent: 'support-bot', jti: keyId, credential: 'api_key', keyId });
    expect(await gate.check(id, REQ, Date.now())).toMatchObject({ ok: true });
  });

  it('a wrong secret or an unknown id: unknown_api_key; a malformed key: malformed_token', async () => {
    const { key } = await create(['--tenant', 'acme', '--sub', 'bot-7', '--role', 'agent-writer', '--ttl', '1d']);
    const auth = createApiKeyAuthenticator({ redis: client, cacheMs: 30_000 });
    await auth.authenticate(key); // cached: a wrong secret must still fail from the cache
    const { keyId, secret } = parseApiKey(key)!;
    const other = generateApiKey().secret;
    expect(await reason(auth.authenticate(`m0g_${keyId}_${other}`))).toBe('unknown_api_key');
    expect(await reason(auth.authenticate(`m0g_${'0'.repeat(16)}_${secret}`))).toBe('unknown_api_key');
    expect(await reason(auth.authenticate(generateApiKey().text))).toBe('unknown_api_key');
    expect(await reason(auth.authenticate('mem0-admin-key'))).toBe('malformed_token');
  });

  it('an expired key: expired (by the authenticator\'s clock, cached record or not)', async () => {
    let now = Date.now();
    const { key } = await create(['--tenant', 'acme', '--sub', 'bot-7', '--role', 'agent-writer', '--ttl', '1h']);
    const auth = createApiKeyAuthenticator({ redis: client, cacheMs: 300_000, clock: () => now });
    await expect(auth.authenticate(key)).resolves.toMatchObject({ subject: 'bot-7' });
    now += 3_600_000 + 1000;
    expect(await reason(auth.authenticate(key))).toBe('expired');
    expect(await reason(createApiKeyAuthenticator({ redis: client, cacheMs: 0, clock: () => now }).authenticate(key))).toBe('expired');
  });

  it('Redis down and no cached record: 503 redis_unavailable (fail closed)', async () => {
    const dead = connectRedis(loadRedisConfig({ MEM0_GOV_REDIS_URL: 'redis://127.0.0.1:1' }), capturingLogger().logger, { commandTimeoutMs: 200 });
    try {
      const auth = createApiKeyAuthenticator({ redis: dead, cacheMs: 30_000 });
      expect(await reason(auth.authenticate(generateApiKey().text))).toBe('redis_unavailable');
    } finally {
      await closeRedis(dead);
    }
  });
});

describe('revocation', () => {
  it('apikey revoke: refused at once by every replica — also one that cached the record — and by fresh ones', async () => {
    const { key } = await create(['--tenant', 'acme', '--sub', 'bot-7', '--role', 'agent-writer', '--ttl', '1d']);
    const keyId = parseApiKey(key)!.keyId;
    // Two replicas, each with the record cached for 5 minutes.
    const replicas = [createApiKeyAuthenticator({ redis: client, cacheMs: 300_000 }), createApiKeyAuthenticator({ redis: client, cacheMs: 300_000 })];
    for (const r of replicas) {
      const id = await r.authenticate(key);
      expect(await gate.check(id, REQ, Date.now())).toMatchObject({ ok: true });
      expect(r.cachedKeyIds()).toEqual([keyId]);
    }
    const c = ctx();
    expect(await apikeyCli.run(['revoke', keyId, '--reason', 'leaked in a log'], c)).toBe(0);
    expect(c.actions).toEqual([{ command: 'apikey.revoke', target: `apikey:${keyId}@acme`, details: { key_id: keyId, tenant: 'acme', sub: 'bot-7', reason: 'leaked in a log' } }]);
    for (const r of replicas) {
      // The cached record still authenticates; the gate's round trip refuses — the next request.
      const id = await r.authenticate(key);
      expect(await gate.check(id, REQ, Date.now())).toMatchObject({ ok: false, reason: 'token_revoked', status: 401 });
    }
    const counted = await counterValue(metrics.revokedTokenUse, { tenant: 'acme' });
    expect(await reason(createApiKeyAuthenticator({ redis: client, cacheMs: 300_000 }).authenticate(key))).toBe('token_revoked');
    // A fresh lookup refuses it too, counted for the revoked-credential alert as the gate counts.
    expect(await counterValue(metrics.revokedTokenUse, { tenant: 'acme' })).toBe(counted + 1);
    // The gate's revocation lasts as long as the key could.
    const h = await admin.hgetall(apiKeyRecordKey(keyId));
    expect(await admin.pexpiretime(tenantKeys.revoked('acme', 'jti', keyId))).toBe(Number(h.expires_at) + 60_000);
  });

  it('revoke --sub / --agent / --tenant and tenant suspend apply to key callers as to JWT callers', async () => {
    const { key } = await create(['--tenant', 'acme', '--sub', 'bot-7', '--role', 'agent-writer', '--agent', 'support-bot', '--ttl', '1d']);
    const id = await createApiKeyAuthenticator({ redis: client, cacheMs: 0 }).authenticate(key);
    const cases: [string[], string[], string][] = [
      [['--tenant', 'acme', '--sub', 'bot-7'], ['--tenant', 'acme', '--sub', 'bot-7'], 'subject_revoked'],
      [['--tenant', 'acme', '--agent', 'support-bot'], ['--tenant', 'acme', '--agent', 'support-bot'], 'agent_revoked'],
      [['--tenant', 'acme'], ['--tenant', 'acme'], 'tenant_revoked'],
    ];
    for (const [args, undo, want] of cases) {
      expect(await revokeCli.run(args, ctx())).toBe(0);
      expect(await gate.check(id, REQ, Date.now())).toMatchObject({ ok: false, reason: want });
      expect(await revokeCli.runUnrevoke(undo, ctx())).toBe(0);
    }
    expect(await tenantCli.run(['suspend', 'acme', '--reason', 'incident 42'], ctx())).toBe(0);
    expect(await gate.check(id, REQ, Date.now())).toMatchObject({ ok: false, reason: 'tenant_suspended', status: 403 });
  });

  it('an unknown key id: exit 1, nothing recorded; a malformed one: exit 2', async () => {
    const c = ctx();
    expect(await apikeyCli.run(['revoke', '0123456789abcdef'], c)).toBe(1);
    expect(c.errLines.join('\n')).toContain('no API key 0123456789abcdef');
    expect(await apikeyCli.run(['revoke', 'not-an-id'], c)).toBe(2);
    expect(c.actions).toEqual([]);
  });
});

describe('apikey list', () => {
  it('lists active, expired and revoked keys with their state, by tenant; never the key or its digest; audited', async () => {
    const a = await create(['--tenant', 'acme', '--sub', 'bot-1', '--role', 'agent-writer', '--ttl', '1d']);
    const b = await create(['--tenant', 'acme', '--sub', 'bot-2', '--role', 'agent-reader', '--ttl', '2d']);
    const g = await create(['--tenant', 'globex', '--sub', 'bot-3', '--role', 'agent-reader', '--ttl', '1d']);
    const now = Date.now();
    const old = generateApiKey();
    await storeRecord(client, { keyId: old.keyId, tenant: 'acme', subject: 'bot-0', roles: ['agent-reader'], digest: old.digest, createdAt: now - 86_400_000, expiresAt: now - 1000, createdBy: 'ops' });
    const bId = parseApiKey(b.key)!.keyId;
    expect(await apikeyCli.run(['revoke', bId], ctx())).toBe(0);

    const c = ctx();
    expect(await apikeyCli.run(['list', '--tenant', 'acme'], c)).toBe(0);
    expect(c.outLines[0]).toBe('3 key(s)');
    const rows = c.outLines.slice(1);
    const state = (keyId: string): string | undefined => rows.find((l) => l.includes(keyId))?.split('\t')[0]?.trim();
    expect(state(parseApiKey(a.key)!.keyId)).toBe('active');
    expect(state(bId)).toBe('revoked');
    expect(state(old.keyId)).toBe('expired');
    expect(rows.some((l) => l.includes(parseApiKey(g.key)!.keyId))).toBe(false);
    const text = c.outLines.join('\n');
    for (const k of [a, b, g]) {
      const p = parseApiKey(k.key)!;
      expect(text).not.toContain(p.secret);
      expect(text).not.toContain((await admin.hget(apiKeyRecordKey(p.keyId), 'digest'))!);
    }
    expect(c.actions).toEqual([{ command: 'apikey.list', target: 'tenant:acme', details: {} }]);

    const all = ctx();
    expect(await apikeyCli.run(['list'], all)).toBe(0);
    expect(all.outLines[0]).toBe('4 key(s)');
    expect(await admin.zcard(APIKEY_INDEX_KEY)).toBe(4);
  });
});

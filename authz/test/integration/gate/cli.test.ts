// The Redis-backed admin commands, driven through run() with a fake CliContext.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisHandle } from '../../../../testing/redis.js';
import * as limits from '../../../src/cli/limits.js';
import * as revoke from '../../../src/cli/revoke.js';
import * as tenant from '../../../src/cli/tenant.js';
import * as breakglass from '../../../src/cli/breakglass.js';
import { createRedisGate } from '../../../src/gate/index.js';
import { connectRedis, loadRedisConfig, closeRedis, type RedisClient } from '../../../src/redis/connect.js';
import { LIMITS_KEY, tenantKeys } from '../../../src/redis/keys.js';
import { storeGrant } from '../../../src/gate/breakglass-store.js';
import type { Gate } from '../../../src/types.js';
import { REQ, capturingLogger, fakeCliContext, gateConfig, identity, type FakeCliContext } from './helpers.js';

let server: RedisHandle;
let admin: Redis;
let gateClient: RedisClient;
let gate: Gate;

const ctx = (opts: { failRecord?: boolean; env?: Record<string, string> } = {}): FakeCliContext => fakeCliContext(server.url, opts);

beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
  gateClient = connectRedis(loadRedisConfig({ MEM0_GOV_REDIS_URL: server.url }), capturingLogger().logger);
  gate = await createRedisGate({ redis: gateClient, config: gateConfig(), logger: capturingLogger().logger });
});
afterAll(async () => {
  await gate.close();
  await closeRedis(gateClient);
  admin.disconnect();
  await server.stop();
});
beforeEach(async () => {
  await admin.flushall();
});

describe('limits', () => {
  it('set records the action first, then writes the normalized rate; get and unset', async () => {
    const c = ctx();
    expect(await limits.run(['set', 'tenant:acme', '600/m'], c)).toBe(0);
    expect(await admin.hget(LIMITS_KEY, 'tenant:acme')).toBe('600/m');
    expect(c.actions).toEqual([{ command: 'limits.set', target: 'tenant:acme', details: { rate: '600/m', previous: null } }]);
    await admin.hset(LIMITS_KEY, 'role:agent-writer', 'lots');
    expect(await limits.run(['limits', 'get'], c)).toBe(0);
    expect(c.outLines.some((l) => l.startsWith('role:agent-writer\tlots\t(INVALID'))).toBe(true);
    expect(c.outLines).toContain('tenant:acme\t600/m');
    expect(await limits.run(['unset', 'tenant:acme'], c)).toBe(0);
    expect(await admin.hexists(LIMITS_KEY, 'tenant:acme')).toBe(0);
    expect(c.actions[1]).toMatchObject({ command: 'limits.unset', target: 'tenant:acme', details: { previous: '600/m' } });
  });

  it('rejects a malformed rate or scope with exit 2 and changes nothing', async () => {
    for (const argv of [['set', 'tenant:acme', '600/minute'], ['set', 'tenant:acme', '0/m'], ['set', 'tenant:', '10/s'], ['set', 'subject:alice', '10/s'], ['frobnicate']]) {
      const c = ctx();
      expect(await limits.run(argv, c)).toBe(2);
      expect(c.errLines.join('\n')).toMatch(/usage error/);
      expect(c.actions).toEqual([]);
    }
    expect(await admin.exists(LIMITS_KEY)).toBe(0);
  });

  it('does not change anything when the admin action cannot be recorded', async () => {
    const c = ctx({ failRecord: true });
    expect(await limits.run(['set', 'tenant:acme', '5/s'], c)).toBe(1);
    expect(await admin.exists(LIMITS_KEY)).toBe(0);
  });
});

describe('revoke / unrevoke', () => {
  it('revokes a jti for the next request, with a TTL; unrevoke restores it', async () => {
    const id = identity({ jti: 'tok-9' });
    const c = ctx();
    expect(await revoke.run(['--tenant', 'acme', '--jti', 'tok-9', '--ttl', '1h', '--reason', 'leaked'], c)).toBe(0);
    expect(await gate.check(id, REQ, Date.now())).toMatchObject({ ok: false, reason: 'token_revoked', status: 401 });
    const ttl = await admin.pttl(tenantKeys.revoked('acme', 'jti', 'tok-9'));
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    expect(c.actions[0]).toMatchObject({ command: 'revoke', target: 'jti:tok-9@acme', details: { ttl_seconds: 3600, reason: 'leaked' } });
    expect(await revoke.runUnrevoke(['unrevoke', '--tenant', 'acme', '--jti', 'tok-9'], c)).toBe(0);
    expect((await gate.check(id, REQ, Date.now())).ok).toBe(true);
  });

  it('revokes a subject, an agent, a whole tenant', async () => {
    expect(await revoke.run(['--tenant', 'acme', '--sub', 'alice'], ctx())).toBe(0);
    expect(await gate.check(identity(), REQ, Date.now())).toMatchObject({ reason: 'subject_revoked' });
    expect(await revoke.run(['--tenant', 'beta', '--agent', 'bot'], ctx())).toBe(0);
    expect(await gate.check(identity({ tenant: 'beta', agent: 'bot' }), REQ, Date.now())).toMatchObject({ reason: 'agent_revoked' });
    expect(await revoke.run(['--tenant', 'gamma'], ctx())).toBe(0);
    expect(await gate.check(identity({ tenant: 'gamma' }), REQ, Date.now())).toMatchObject({ reason: 'tenant_revoked' });
  });

  it('usage errors (exit 2) and an unrecordable action change nothing', async () => {
    expect(await revoke.run(['--jti', 'x'], ctx())).toBe(2);
    expect(await revoke.run(['--tenant', 'acme', '--jti', 'x', '--sub', 'y'], ctx())).toBe(2);
    expect(await revoke.run(['--tenant', 'acme', '--ttl', 'soon'], ctx())).toBe(2);
    expect(await revoke.run(['--tenant', 'acme', '--jti', 'x'], ctx({ failRecord: true }))).toBe(1);
    expect(await admin.dbsize()).toBe(0);
  });
});

describe('tenant suspend / resume / status', () => {
  it('suspends (403 on the next request), reports status, resumes', async () => {
    const c = ctx();
    expect(await tenant.run(['suspend', 'acme', '--reason', 'incident 7'], c)).toBe(0);
    expect(await gate.check(identity(), REQ, Date.now())).toMatchObject({ ok: false, reason: 'tenant_suspended', status: 403 });
    expect(await tenant.run(['tenant', 'status', 'acme'], c)).toBe(0);
    expect(c.outLines.at(-1)).toMatch(/^tenant acme: suspended since .* by ops-oncall \(reason: incident 7\)$/);
    expect(await tenant.run(['resume', 'acme'], c)).toBe(0);
    expect((await gate.check(identity(), REQ, Date.now())).ok).toBe(true);
    expect(c.actions.map((a) => a.command)).toEqual(['tenant.suspend', 'tenant.resume']);
  });

  it('does not suspend when the action cannot be recorded', async () => {
    expect(await tenant.run(['suspend', 'acme'], ctx({ failRecord: true }))).toBe(1);
    expect((await gate.check(identity(), REQ, Date.now())).ok).toBe(true);
    expect(await tenant.run(['suspend'], ctx())).toBe(2);
  });
});

describe('breakglass grant / review', () => {
  it('grants a time-limited, justified elevation the gate returns; review lists active and expired grants', async () => {
    const c = ctx();
    expect(await breakglass.run(['grant', '--tenant', 'acme', '--sub', 'alice', '--role', 'admin', '--ttl', '30m', '--justification', 'restore after incident 42'], c)).toBe(0);
    const r = await gate.check(identity(), REQ, Date.now());
    expect(r.ok && r.breakGlass).toMatchObject({ tenant: 'acme', subject: 'alice', role: 'admin', grantedBy: 'ops-oncall', justification: 'restore after incident 42' });
    expect(c.actions[0]).toMatchObject({ command: 'breakglass.grant', target: 'subject:acme/alice', details: { role: 'admin', ttl_seconds: 1800 } });
    const pttl = await admin.pttl(tenantKeys.breakGlass('acme', 'alice'));
    expect(pttl).toBeGreaterThan(1_790_000);
    expect(pttl).toBeLessThanOrEqual(1_800_000);

    // A grant that expired 10 days ago is gone from the gate but still in review.
    const past = Date.now() - 10 * 86_400_000;
    await storeGrant(admin, { grantId: 'old-1', subject: 'bob', tenant: 'acme', role: 'admin', justification: 'old incident 1', grantedBy: 'x', grantedAt: past - 60_000, expiresAt: past });
    await storeGrant(admin, { grantId: 'other-1', subject: 'eve', tenant: 'beta', role: 'admin', justification: 'other tenant', grantedBy: 'x', grantedAt: past - 60_000, expiresAt: past });
    const bob = await gate.check(identity({ subject: 'bob' }), REQ, Date.now());
    expect(bob.ok && bob.breakGlass).toBeFalsy();
    const rc = ctx();
    expect(await breakglass.run(['review', '--tenant', 'acme'], rc)).toBe(0);
    expect(rc.outLines[0]).toMatch(/^2 grant/);
    expect(rc.outLines[1]).toMatch(/^ACTIVE \t.*sub=alice/);
    expect(rc.outLines[2]).toMatch(/^expired\told-1\ttenant=acme\tsub=bob/);
    expect(rc.actions).toEqual([{ command: 'breakglass.review', target: 'tenant:acme', details: {} }]);
  });

  it('refuses a TTL above MEM0_GOV_BREAKGLASS_MAX_TTL, a missing/short justification, or an unrecordable grant', async () => {
    const base = ['grant', '--tenant', 'acme', '--sub', 'alice', '--role', 'admin'];
    expect(await breakglass.run([...base, '--ttl', '5h', '--justification', 'restore after incident'], ctx())).toBe(2);
    expect(await breakglass.run([...base, '--ttl', '2h', '--justification', 'restore after incident'], ctx({ env: { MEM0_GOV_BREAKGLASS_MAX_TTL: '1h' } }))).toBe(2);
    expect(await breakglass.run([...base, '--ttl', '30m'], ctx())).toBe(2);
    expect(await breakglass.run([...base, '--ttl', '30m', '--justification', 'because'], ctx())).toBe(2);
    expect(await breakglass.run([...base, '--ttl', '30m', '--justification', 'restore after incident'], ctx({ failRecord: true }))).toBe(1);
    // a platform role acts on every tenant: never a break-glass grant
    const platform = ['grant', '--tenant', 'acme', '--sub', 'alice', '--ttl', '30m', '--justification', 'restore after incident'];
    expect(await breakglass.run([...platform, '--role', 'platform-admin'], ctx())).toBe(2);
    expect(await breakglass.run([...platform, '--role', 'platform-auditor'], ctx())).toBe(2);
    expect(await admin.dbsize()).toBe(0);
    const r = await gate.check(identity(), REQ, Date.now());
    expect(r.ok && r.breakGlass).toBeFalsy();
  });
});

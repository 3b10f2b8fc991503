import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { loadGateConfig, sessionLimitsFor } from '../../../src/gate/config.js';
import { applySnapshot, resolveLimits } from '../../../src/gate/limits.js';
import { parseRate, type Rate } from '../../../src/ratelimit/rate.js';
import { esc, tenantKeys } from '../../../src/redis/keys.js';
import { loadRedisConfig } from '../../../src/redis/connect.js';
import { limitedHeaders, passHeaders } from '../../../src/gate/headers.js';
import { LocalLimiter } from '../../../src/gate/fallback.js';

const silent = pino({ level: 'silent' });

describe('loadGateConfig', () => {
  it('has the documented defaults', () => {
    const c = loadGateConfig({});
    expect(c.defaultSubjectLimit.text).toBe('600/m');
    expect(c.defaultTenantLimit.text).toBe('6000/m');
    expect(c.session).toMatchObject({ idleMs: 900_000, maxMs: 28_800_000 });
    expect(c).toMatchObject({ revocationFailureMode: 'closed', rateLimitFailureMode: 'open', timeoutMs: 50, limitsRefreshMs: 1000, breakGlassMaxTtlMs: 14_400_000 });
  });
  it('parses per-role session overrides and names the bad variable', () => {
    const c = loadGateConfig({ MEM0_GOV_SESSION_IDLE_SECONDS_BY_ROLE: 'admin=300, agent-reader=3600' });
    expect(c.session.idleByRoleMs).toEqual({ admin: 300_000, 'agent-reader': 3_600_000 });
    expect(() => loadGateConfig({ MEM0_GOV_SESSION_IDLE_SECONDS_BY_ROLE: 'admin:300' })).toThrow(/MEM0_GOV_SESSION_IDLE_SECONDS_BY_ROLE/);
    expect(() => loadGateConfig({ MEM0_GOV_LIMIT_DEFAULT: 'fast' })).toThrow(/MEM0_GOV_LIMIT_DEFAULT/);
    expect(() => loadGateConfig({ MEM0_GOV_RATELIMIT_FAILURE_MODE: 'maybe' })).toThrow(/MEM0_GOV_RATELIMIT_FAILURE_MODE/);
    expect(() => loadGateConfig({ MEM0_GOV_LIMITS_REFRESH_MS: '5000' })).toThrow(/MEM0_GOV_LIMITS_REFRESH_MS/);
  });
  it('takes the strictest of the caller roles (unlisted roles use the default)', () => {
    const s = loadGateConfig({ MEM0_GOV_SESSION_IDLE_SECONDS_BY_ROLE: 'admin=300,agent-reader=3600' }).session;
    expect(sessionLimitsFor(['agent-reader'], s).idleMs).toBe(3_600_000);
    expect(sessionLimitsFor(['agent-reader', 'agent-writer'], s).idleMs).toBe(900_000);
    expect(sessionLimitsFor(['agent-reader', 'admin'], s).idleMs).toBe(300_000);
    expect(sessionLimitsFor([], s).idleMs).toBe(900_000);
  });
});

describe('loadRedisConfig', () => {
  it('reads URL, cluster nodes and timeout', () => {
    expect(loadRedisConfig({})).toEqual({ url: 'redis://127.0.0.1:6379', clusterNodes: [], timeoutMs: 50 });
    expect(loadRedisConfig({ MEM0_GOV_REDIS_CLUSTER_NODES: 'a:7000, b:7001' }).clusterNodes).toEqual([{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }]);
    expect(() => loadRedisConfig({ MEM0_GOV_REDIS_CLUSTER_NODES: 'a' })).toThrow(/MEM0_GOV_REDIS_CLUSTER_NODES/);
    expect(loadRedisConfig({ MEM0_GOV_REDIS_PASSWORD: 'pw' }).password).toBe('pw');
  });
});

describe('limit resolution', () => {
  const d = { subject: parseRate('600/m'), tenant: parseRate('6000/m') };
  const table = (o: Record<string, string>): Map<string, Rate> => new Map(Object.entries(o).map(([k, v]) => [k, parseRate(v)]));
  it('subject > most generous role > default field > env; tenant field > tenant-default > env', () => {
    const t = table({ 'role:a': '10/m', 'role:b': '20/m', default: '5/m', 'subject:acme/alice': '1/m', 'tenant-default': '99/m', 'tenant:acme': '50/m' });
    expect(resolveLimits(t, { tenant: 'acme', subject: 'alice', roles: ['a'] }, d)).toMatchObject({ subject: { text: '1/m' }, tenant: { text: '50/m' } });
    expect(resolveLimits(t, { tenant: 'beta', subject: 'alice', roles: ['a', 'b'] }, d)).toMatchObject({ subject: { text: '20/m' }, tenant: { text: '99/m' } });
    expect(resolveLimits(t, { tenant: 'beta', subject: 'x', roles: ['c'] }, d).subject.text).toBe('5/m');
    expect(resolveLimits(new Map(), { tenant: 'beta', subject: 'x', roles: [] }, d)).toEqual(d);
  });
  it('per-tenant overrides of role limits and of the subject default', () => {
    const t = table({ 'role:a': '10/m', 'role:acme/a': '30/m', default: '5/m', 'default:acme': '7/m' });
    expect(resolveLimits(t, { tenant: 'acme', subject: 's', roles: ['a'] }, d).subject.text).toBe('30/m');
    expect(resolveLimits(t, { tenant: 'beta', subject: 's', roles: ['a'] }, d).subject.text).toBe('10/m');
    expect(resolveLimits(t, { tenant: 'acme', subject: 's', roles: ['z'] }, d).subject.text).toBe('7/m');
    expect(resolveLimits(t, { tenant: 'beta', subject: 's', roles: ['z'] }, d).subject.text).toBe('5/m');
  });
  it('keeps the last good value when a field turns malformed; removes deleted fields', () => {
    const state = { good: new Map<string, Rate>(), seen: new Map<string, string>() };
    expect(applySnapshot(state, { 'tenant:acme': '10/s' }, silent)).toHaveLength(1);
    expect(applySnapshot(state, { 'tenant:acme': '10/s' }, silent)).toHaveLength(0);
    expect(applySnapshot(state, { 'tenant:acme': 'ten' }, silent)).toHaveLength(0);
    expect(state.good.get('tenant:acme')?.text).toBe('10/s');
    expect(applySnapshot(state, { 'tenant:acme': 'ten', bogus: '5/s' }, silent)).toHaveLength(0);
    expect(state.good.has('bogus')).toBe(false);
    expect(applySnapshot(state, {}, silent)).toEqual([{ key: 'mem0gov:limits', field: 'tenant:acme', value: null, source: 'redis' }]);
    expect(state.good.size).toBe(0);
  });
});

describe('keys', () => {
  it('hash-tag by tenant and escape ids so they cannot change slot or collide', () => {
    expect(tenantKeys.rateSubject('acme', 'alice')).toBe('mem0gov:{t:acme}:rl:sub:alice');
    expect(tenantKeys.rateSubject('ac}me', 'x')).toBe('mem0gov:{t:ac%7Dme}:rl:sub:x');
    expect(tenantKeys.rateSubject('acme}:rl:sub:x', 'y')).not.toBe(tenantKeys.rateSubject('acme', 'x}:rl:sub:y'));
    expect(esc('a%b:{c}')).toBe('a%25b%3A%7Bc%7D');
  });
});

describe('headers and the local limiter', () => {
  it('reports the tighter bucket and a Retry-After of at least 1 s', () => {
    const r = parseRate('10/m');
    expect(passHeaders({ rate: r, remaining: 5, resetUs: 30_000_000 }, { rate: parseRate('100/m'), remaining: 2, resetUs: 1 })).toMatchObject({ 'ratelimit-limit': '100', 'ratelimit-remaining': '2' });
    expect(limitedHeaders(r, 1, 1)).toMatchObject({ 'retry-after': '1', 'ratelimit-remaining': '0', 'ratelimit-policy': '10;w=60' });
  });
  it('fallback limiter enforces the subject and tenant buckets', () => {
    const l = new LocalLimiter();
    const lim = { subject: parseRate('2/m'), tenant: parseRate('3/m') };
    const out = ['a', 'a', 'a', 'b', 'c'].map((s) => l.check('t', s, lim, 1000).allowed);
    expect(out).toEqual([true, true, false, true, false]);
  });
});

// API keys through the real Envoy, the real authz service (as its own process, so its log is
// read), redis-server and PostgreSQL, to the Mem0 stand-in, which records what reached it.
// Done when "a static-key agent is governed exactly like a JWT agent": the same requests get the
// same answers, limits, suspension, revocation and expiry apply alike, audit rows name the key
// (never the secret), and no client key reaches Mem0 — in both Envoy variants.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Redis } from 'ioredis';
import { startStack } from '../../../testing/stack.js';
import type { Stack } from '../../../testing/stack.js';
import { call, type Reply } from '../../../testing/https.js';
import { waitFor } from '../../../testing/tools.js';
import * as apikeyCli from '../../src/cli/apikey.js';
import * as revokeCli from '../../src/cli/revoke.js';
import * as tenantCli from '../../src/cli/tenant.js';
import type { CliContext } from '../../src/cli/context.js';
import { recordAdminAction } from '../../src/audit/admin.js';
import { generateApiKey, parseApiKey } from '../../src/identity/apikey-format.js';
import { storeRecord } from '../../src/identity/apikey-store.js';
import { LIMITS_KEY } from '../../src/redis/keys.js';

const MEM0_KEY = 'mem0-test-key-not-a-secret';
/** Every key this file creates: none may show up in audit rows, logs or what Mem0 received. */
const issued: string[] = [];

function cliContext(env: Record<string, string>): CliContext & { out_: string[]; err_: string[] } {
  const out_: string[] = [];
  const err_: string[] = [];
  return {
    env, out_, err_, actor: 'e2e-ops',
    out: (l) => out_.push(l),
    err: (l) => err_.push(l),
    recordAdmin: (a) => recordAdminAction(env, { ...a, actor: 'e2e-ops' }),
  };
}

async function createKey(env: Record<string, string>, args: string[]): Promise<{ key: string; keyId: string }> {
  const c = cliContext(env);
  const code = await apikeyCli.run(['create', ...args], c);
  expect(code, c.err_.join('\n')).toBe(0);
  const key = c.out_[0]!;
  issued.push(key);
  return { key, keyId: parseApiKey(key)!.keyId };
}

type Send = (o: Parameters<typeof call>[2]) => Promise<Reply>;
type As = { kind: 'jwt'; token: string } | { kind: 'x-api-key' | 'token-scheme'; key: string };

function asHeaders(a: As): Record<string, string> {
  if (a.kind === 'jwt') return { authorization: `Bearer ${a.token}` };
  return a.kind === 'x-api-key' ? { 'x-api-key': a.key } : { authorization: `Token ${a.key}` };
}

function outcome(r: Reply): string {
  return r.status === 200 ? '200' : `${r.status} ${(r.json() as { reason?: string }).reason}`;
}

describe('gRPC variant, Mem0 key injected by authz', () => {
  let stack: Stack;
  let env: Record<string, string>;
  let send: Send;
  let redis: Redis;
  let db: pg.Client;

  beforeAll(async () => {
    stack = await startStack({ mem0ApiKey: MEM0_KEY, authzProcesses: 1, logLevel: 'info' });
    env = { ...stack.replicas[0]!.env };
    send = (o) => call(stack.envoy.baseUrl, stack.envoy.caFile, o);
    redis = new Redis(stack.redis.url);
    db = new pg.Client(stack.pgOwnerUrl);
    await db.connect();
  }, 180_000);
  afterAll(async () => {
    await db?.end();
    redis?.disconnect();
    await stack?.stop();
  });

  const as = (a: As) => (o: Parameters<typeof call>[2]) => send({ ...o, headers: { ...o.headers, ...asHeaders(a) } });

  it('a key agent and a JWT agent with the same role get the same answers (X-API-Key and Authorization: Token alike)', async () => {
    const jwt = await stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'bot-jwt', agent: 'agent-jwt' });
    const { key } = await createKey(env, ['--tenant', 'acme', '--sub', 'bot-key', '--role', 'agent-writer', '--agent', 'agent-key', '--ttl', '30d']);
    const script = async (a: As): Promise<string[]> => {
      const r = as(a);
      return [
        outcome(await r({ method: 'POST', path: '/memories', body: { messages: [{ role: 'user', content: 'likes tea' }], user_id: 'acme:alice' } })),
        outcome(await r({ method: 'GET', path: '/memories?user_id=acme:alice' })),
        outcome(await r({ method: 'POST', path: '/search', body: { query: 'tea', user_id: 'acme:alice' } })),
        outcome(await r({ method: 'POST', path: '/search', body: { query: 'tea', user_id: 'globex:bob' } })),
        outcome(await r({ method: 'DELETE', path: '/memories?user_id=acme:alice' })),
        outcome(await r({ method: 'GET', path: '/memories' })),
        outcome(await r({ method: 'POST', path: '/reset' })),
      ];
    };
    const byJwt = await script({ kind: 'jwt', token: jwt });
    expect(byJwt.slice(0, 3)).toEqual(['200', '200', '200']);
    expect(byJwt.slice(3).every((o) => o.startsWith('403') || o.startsWith('400'))).toBe(true);
    expect(byJwt[3]).toBe('403 cross_tenant');
    expect(await script({ kind: 'x-api-key', key })).toEqual(byJwt);
    expect(await script({ kind: 'token-scheme', key })).toEqual(byJwt);
  });

  it('what Mem0 received from a key agent: identity headers, our Mem0 key, no client credential', async () => {
    const { key } = await createKey(env, ['--tenant', 'acme', '--sub', 'bot-fwd', '--role', 'agent-writer', '--ttl', '1d']);
    for (const a of [{ kind: 'x-api-key', key }, { kind: 'token-scheme', key }] as const) {
      const before = stack.mem0!.requests.length;
      const r = await as(a)({ method: 'GET', path: '/memories?user_id=acme:alice' });
      expect(r.status).toBe(200);
      const seen = stack.mem0!.requests.slice(before);
      expect(seen).toHaveLength(1);
      const h = seen[0]!.headers;
      expect(h['x-api-key']).toBe(MEM0_KEY);
      expect(h.authorization).toBeUndefined();
      expect(h['x-mem0-gov-subject']).toBe('bot-fwd');
      expect(h['x-mem0-gov-tenant']).toBe('acme');
      expect(h['x-mem0-gov-roles']).toBe('agent-writer');
    }
  });

  it('rate limits: 429 after the same count for both', async () => {
    const jwt = await stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'rl-jwt' });
    const { key } = await createKey(env, ['--tenant', 'acme', '--sub', 'rl-key', '--role', 'agent-reader', '--ttl', '1d']);
    const probe = await stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'rl-probe' });
    // One HSET: once the probe's limit is in force, so are the others (one table, read whole).
    await redis.hset(LIMITS_KEY, { 'subject:acme/rl-jwt': '3/h', 'subject:acme/rl-key': '3/h', 'subject:acme/rl-probe': '1/h' });
    await waitFor('the new limits', async () => {
      const r = await send({ path: '/memories?user_id=acme:alice', token: probe });
      return r.status === 429 || r.headers['ratelimit-limit'] === '1';
    }, 20_000, 200);
    const run = async (a: As): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await as(a)({ path: '/memories?user_id=acme:alice' });
        out.push(outcome(r) + (r.status === 429 && Number(r.headers['retry-after']) >= 1 ? ' retry-after' : ''));
      }
      return out;
    };
    const byJwt = await run({ kind: 'jwt', token: jwt });
    expect(byJwt).toEqual(['200', '200', '200', '429 rate_limited retry-after']);
    expect(await run({ kind: 'x-api-key', key })).toEqual(byJwt);
  });

  it('tenant suspension: both refused', async () => {
    const jwt = await stack.token({ tenant: 'initech', roles: ['agent-writer'], sub: 'bot-jwt' });
    const { key } = await createKey(env, ['--tenant', 'initech', '--sub', 'bot-key', '--role', 'agent-writer', '--ttl', '1d']);
    const list = { path: '/memories?user_id=initech:a' };
    expect([outcome(await as({ kind: 'jwt', token: jwt })(list)), outcome(await as({ kind: 'x-api-key', key })(list))]).toEqual(['200', '200']);
    expect(await tenantCli.run(['suspend', 'initech', '--reason', 'incident'], cliContext(env))).toBe(0);
    expect([outcome(await as({ kind: 'jwt', token: jwt })(list)), outcome(await as({ kind: 'x-api-key', key })(list))])
      .toEqual(['403 tenant_suspended', '403 tenant_suspended']);
  });

  it('revocation: a revoked key is refused on the next request (401 token_revoked, as a revoked JWT)', async () => {
    const jti = 'jti-e2e-revoke';
    const jwt = await stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'rv-jwt', jti });
    const { key, keyId } = await createKey(env, ['--tenant', 'acme', '--sub', 'rv-key', '--role', 'agent-reader', '--ttl', '1d']);
    const list = { path: '/memories?user_id=acme:alice' };
    expect(outcome(await as({ kind: 'x-api-key', key })(list))).toBe('200'); // the record is now cached by authz
    expect(await revokeCli.run(['--tenant', 'acme', '--jti', jti], cliContext(env))).toBe(0);
    expect(await apikeyCli.run(['revoke', keyId, '--reason', 'e2e'], cliContext(env))).toBe(0);
    const j = await as({ kind: 'jwt', token: jwt })(list);
    const k = await as({ kind: 'x-api-key', key })(list);
    expect([outcome(j), outcome(k)]).toEqual(['401 token_revoked', '401 token_revoked']);
    expect(k.headers['www-authenticate']).toBeUndefined(); // the gate's 401s carry no challenge, for either
    expect(j.headers['www-authenticate']).toBeUndefined();
  });

  it('expiry, unknown keys, foreign keys and two credentials', async () => {
    const now = Date.now();
    const old = generateApiKey();
    issued.push(old.text);
    await storeRecord(redis as unknown as Parameters<typeof storeRecord>[0], {
      keyId: old.keyId, tenant: 'acme', subject: 'old-key', roles: ['agent-reader'], digest: old.digest,
      createdAt: now - 2 * 86_400_000, expiresAt: now - 60_000, createdBy: 'e2e',
    });
    const expiredJwt = await stack.token({ tenant: 'acme', roles: ['agent-reader'], iat: Math.floor(now / 1000) - 3600, ttl: 600 });
    const list = { path: '/memories?user_id=acme:alice' };
    const before = stack.mem0!.requests.length;
    const e1 = await as({ kind: 'jwt', token: expiredJwt })(list);
    const e2 = await as({ kind: 'x-api-key', key: old.text })(list);
    expect([outcome(e1), outcome(e2)]).toEqual(['401 expired', '401 expired']);
    expect(e2.headers['www-authenticate']).toContain('error_description="expired"');
    const unknown = generateApiKey();
    issued.push(unknown.text);
    const guessed = await as({ kind: 'x-api-key', key: unknown.text })(list);
    expect(outcome(guessed)).toBe('401 unknown_api_key');
    // Refused before any identity: the row still names the (public) key id guessed at, never the secret.
    const guessedRow = (await db.query('SELECT actor_sub, detail FROM audit.events WHERE event_id = $1', [guessed.headers['x-mem0-gov-decision-id']])).rows[0];
    expect(guessedRow.actor_sub).toBeNull();
    expect(JSON.parse(guessedRow.detail)).toMatchObject({ credential: 'api_key', api_key_id: unknown.keyId });
    expect(guessedRow.detail).not.toContain(unknown.secret);
    expect(outcome(await send({ ...list, headers: { 'x-api-key': 'a-mem0-key' } }))).toBe('401 malformed_token');
    const { key } = await createKey(env, ['--tenant', 'acme', '--sub', 'two', '--role', 'agent-reader', '--ttl', '1d']);
    const jwt = await stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'two' });
    expect(outcome(await send({ ...list, token: jwt, headers: { 'x-api-key': key } }))).toBe('400 ambiguous_credentials');
    // A JWT beside a Mem0 key (not ours): the JWT decides; the Mem0 key is ours to set, not the client's.
    expect(outcome(await send({ ...list, token: jwt, headers: { 'x-api-key': 'a-mem0-key' } }))).toBe('200');
    const seen = stack.mem0!.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-api-key']).toBe(MEM0_KEY);
  });

  it('audit rows carry the credential type and key id; admin rows for every apikey command; no key anywhere in the trail', async () => {
    const { key, keyId } = await createKey(env, ['--tenant', 'acme', '--sub', 'audited', '--role', 'agent-writer', '--ttl', '1d']);
    const r = await as({ kind: 'token-scheme', key })({ path: '/memories?user_id=acme:alice' });
    expect(r.status).toBe(200);
    const decision = r.headers['x-mem0-gov-decision-id']!;
    const row = (await db.query('SELECT actor_sub, tenant, roles, decision, kind, detail FROM audit.events WHERE event_id = $1', [decision])).rows[0];
    expect(row).toMatchObject({ actor_sub: 'audited', tenant: 'acme', roles: ['agent-writer'], decision: 'allow', kind: 'decision' });
    expect(JSON.parse(row.detail)).toMatchObject({ credential: 'api_key', api_key_id: keyId });
    // Refusals name the key too (when it was identified).
    expect(await apikeyCli.run(['revoke', keyId], cliContext(env))).toBe(0);
    const refused = await as({ kind: 'x-api-key', key })({ path: '/memories?user_id=acme:alice' });
    const refusedRow = (await db.query('SELECT reasons, detail FROM audit.events WHERE event_id = $1', [refused.headers['x-mem0-gov-decision-id']])).rows[0];
    expect(refusedRow.reasons[0]).toBe('token_revoked');
    expect(JSON.parse(refusedRow.detail)).toMatchObject({ credential: 'api_key', api_key_id: keyId });
    // JWT rows carry no credential mark.
    const jwtRows = (await db.query("SELECT detail FROM audit.events WHERE kind = 'decision' AND actor_sub = 'bot-jwt' AND tenant = 'acme'")).rows;
    expect(jwtRows.length).toBeGreaterThan(0);
    for (const j of jwtRows) expect(j.detail ?? '').not.toContain('api_key');
    const admin = (await db.query("SELECT route, path, detail FROM audit.events WHERE kind = 'admin' AND route LIKE 'cli.apikey.%'")).rows;
    expect(admin.map((a) => a.route)).toEqual(expect.arrayContaining(['cli.apikey.create', 'cli.apikey.revoke']));
    expect(admin.some((a) => a.path === `apikey:${keyId}@acme` && a.route === 'cli.apikey.create')).toBe(true);
    // Not one key, not one secret, in any row.
    const trail = (await db.query('SELECT string_agg(e::text, E\'\\n\') AS t FROM audit.events e')).rows[0].t as string;
    expect(trail.length).toBeGreaterThan(1000);
    for (const k of issued) {
      expect(trail).not.toContain(k);
      expect(trail).not.toContain(parseApiKey(k)!.secret);
    }
  });

  it('no key reached Mem0 or authz\'s log', async () => {
    const received = JSON.stringify(stack.mem0!.requests);
    const log = stack.replicas[0]!.output();
    expect(log).toContain('"msg":"decision"'); // the log is there, at info
    expect(log).toContain('"sub":"bot-key"');
    expect(issued.length).toBeGreaterThan(5);
    for (const k of issued) {
      const { secret } = parseApiKey(k)!;
      expect(received).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });
});

describe('HTTP variant, no Mem0 key: client keys are removed', () => {
  let stack: Stack;
  let send: Send;

  beforeAll(async () => {
    stack = await startStack({ variant: 'http' });
    send = (o) => call(stack.envoy.baseUrl, stack.envoy.caFile, o);
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('a key agent is allowed through /check like a JWT agent, and Mem0 sees neither the key nor Authorization', async () => {
    const { key } = await createKey(stack.env, ['--tenant', 'acme', '--sub', 'http-key', '--role', 'agent-writer', '--ttl', '1d']);
    const jwt = await stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'http-jwt' });
    const before = stack.mem0!.requests.length;
    const body = { messages: [{ role: 'user', content: 'x' }], user_id: 'acme:alice' };
    const answers = [
      await send({ method: 'POST', path: '/memories', headers: { 'x-api-key': key }, body }),
      await send({ method: 'POST', path: '/memories', headers: { authorization: `Token ${key}` }, body }),
      await send({ method: 'POST', path: '/memories', token: jwt, headers: { 'x-api-key': 'a-mem0-key' }, body }),
      await send({ method: 'POST', path: '/search', headers: { 'x-api-key': key }, body: { query: 'x', user_id: 'globex:bob' } }),
    ];
    expect(answers.map(outcome)).toEqual(['200', '200', '200', '403 cross_tenant']);
    const seen = stack.mem0!.requests.slice(before);
    expect(seen.map((s) => s.headers['x-mem0-gov-subject'])).toEqual(['http-key', 'http-key', 'http-jwt']);
    for (const s of seen) {
      expect(s.headers['x-api-key']).toBeUndefined();
      expect(s.headers.authorization).toBeUndefined();
    }
    expect(JSON.stringify(seen)).not.toContain(parseApiKey(key)!.secret);
  });
});

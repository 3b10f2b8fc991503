// API keys, the parts without Redis: the key's format and digest, which header is the
// credential, and what the composed authenticator does with each (docs/api-keys.md).
import { describe, expect, it } from 'vitest';
import { API_KEY_PREFIX, apiKeyDigest, digestMatches, generateApiKey, isKeyId, looksLikeApiKey, parseApiKey } from '../../../src/identity/apikey-format.js';
import { chooseCredential, createCredentialAuthenticator } from '../../../src/identity/credentials.js';
import { identityFor } from '../../../src/identity/apikey.js';
import type { ApiKeyAuthenticator } from '../../../src/identity/apikey.js';
import type { Authenticator } from '../../../src/identity/jwt.js';
import { parseRecord } from '../../../src/identity/apikey-store.js';
import { PipelineStop } from '../../../src/errors.js';
import { allowVerdict } from '../../../src/respond/verdict.js';
import { decisionRow } from '../../../src/record.js';
import type { Identity } from '../../../src/types.js';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

async function reasonOf(p: Promise<unknown> | (() => unknown)): Promise<[string, number] | 'resolved'> {
  try {
    if (typeof p === 'function') p();
    else await p;
    return 'resolved';
  } catch (err) {
    if (!(err instanceof PipelineStop)) throw err;
    return [err.reason, err.status];
  }
}

describe('key format', () => {
  it('a new key is m0g_<16 hex>_<43 base64url> and parses back to its id and secret', () => {
    const k = generateApiKey();
    expect(k.text).toMatch(/^m0g_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(k.text.startsWith(API_KEY_PREFIX)).toBe(true);
    expect(parseApiKey(k.text)).toEqual({ keyId: k.keyId, secret: k.secret });
    expect(isKeyId(k.keyId)).toBe(true);
    // 256 bits of secret: 32 bytes decoded
    expect(Buffer.from(k.secret, 'base64url')).toHaveLength(32);
    expect(k.digest).toBe(apiKeyDigest(k.keyId, k.secret));
    expect(k.digest).not.toContain(k.secret);
  });

  it('keys are unique (ids and secrets)', () => {
    const keys = Array.from({ length: 200 }, () => generateApiKey());
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(200);
    expect(new Set(keys.map((k) => k.secret)).size).toBe(200);
  });

  it('a secret containing _ (base64url) still parses: the id is fixed-length hex', () => {
    const secret = `${'_'.repeat(10)}${'a'.repeat(33)}`;
    expect(parseApiKey(`m0g_0123456789abcdef_${secret}`)).toEqual({ keyId: '0123456789abcdef', secret });
  });

  it.each([
    ['', 'empty'],
    ['m0g_0123456789abcdef', 'no secret'],
    [`m0g_0123456789ABCDEF_${'a'.repeat(43)}`, 'upper-case id'],
    [`m0g_0123456789abcde_${'a'.repeat(43)}`, 'short id'],
    [`m0g_0123456789abcdef_${'a'.repeat(42)}`, 'short secret'],
    [`m0g_0123456789abcdef_${'a'.repeat(44)}`, 'long secret'],
    [`m0g_0123456789abcdef_${'a'.repeat(42)}=`, 'padding'],
    [`m0g_0123456789abcdef_${'a'.repeat(42)}+`, 'base64, not base64url'],
    [`M0G_0123456789abcdef_${'a'.repeat(43)}`, 'prefix case'],
    [`m0g_0123456789abcdef_${'a'.repeat(43)},m0g_0123456789abcdef_${'a'.repeat(43)}`, 'two keys joined'],
    ['mem0-admin-key', 'a Mem0 key'],
  ])('%s is not a key (%s)', (text) => {
    expect(parseApiKey(text)).toBeUndefined();
  });

  it('digests bind the key id: the same secret under another id does not match', () => {
    const k = generateApiKey();
    expect(digestMatches(apiKeyDigest(k.keyId, k.secret), k.digest)).toBe(true);
    expect(digestMatches(apiKeyDigest('ffffffffffffffff', k.secret), k.digest)).toBe(false);
    expect(digestMatches(apiKeyDigest(k.keyId, `${k.secret.slice(0, -1)}A`), k.digest)).toBe(k.secret.endsWith('A'));
    expect(digestMatches('', k.digest)).toBe(false);
    expect(digestMatches(k.digest.slice(1), k.digest)).toBe(false);
  });
});

describe('which header is the credential', () => {
  const key = generateApiKey().text;
  it.each<[string, Record<string, string>, ReturnType<typeof chooseCredential> | string]>([
    ['nothing', {}, { kind: 'jwt', authorization: undefined }],
    ['a bearer JWT', { authorization: `Bearer ${JWT}` }, { kind: 'jwt', authorization: `Bearer ${JWT}` }],
    ['Authorization: Token <key>', { authorization: `Token ${key}` }, { kind: 'api_key', key }],
    ['Authorization: token <key> (scheme case-insensitive)', { authorization: `token  ${key} ` }, { kind: 'api_key', key }],
    ['X-API-Key: <key>', { 'x-api-key': key }, { kind: 'api_key', key }],
    ['X-API-Key with a foreign value and no Authorization: judged as a key', { 'x-api-key': 'mem0-key' }, { kind: 'api_key', key: 'mem0-key' }],
    ['a JWT beside a foreign X-API-Key (a Mem0 key): the JWT', { authorization: `Bearer ${JWT}`, 'x-api-key': 'mem0-key' }, { kind: 'jwt', authorization: `Bearer ${JWT}` }],
    ['a JWT beside an m0g_ key: ambiguous', { authorization: `Bearer ${JWT}`, 'x-api-key': key }, 'ambiguous_credentials'],
    ['Token and X-API-Key keys: ambiguous', { authorization: `Token ${key}`, 'x-api-key': key }, 'ambiguous_credentials'],
    ['Basic auth: the JWT path (malformed there)', { authorization: 'Basic YTpi' }, { kind: 'jwt', authorization: 'Basic YTpi' }],
    ['Basic auth beside an X-API-Key: Authorization offers a (bad) credential, the JWT path judges it', { authorization: 'Basic YTpi', 'x-api-key': 'mem0-key' }, { kind: 'jwt', authorization: 'Basic YTpi' }],
  ])('%s', (_name, headers, want) => {
    if (typeof want === 'string') {
      expect(() => chooseCredential(headers)).toThrow(PipelineStop);
      try {
        chooseCredential(headers);
      } catch (err) {
        expect([(err as PipelineStop).reason, (err as PipelineStop).status, (err as PipelineStop).decision]).toEqual([want, 400, 'invalid_request']);
      }
    } else {
      expect(chooseCredential(headers)).toEqual(want);
    }
  });
});

describe('the composed authenticator', () => {
  const calls: string[] = [];
  const jwtIdentity: Identity = { subject: 'alice', issuer: 'https://idp', tenant: 'acme', roles: ['agent-writer'] };
  const jwt: Authenticator = { authenticate: async (a) => { calls.push(`jwt:${a}`); return jwtIdentity; }, warm: async () => ['x'] };
  const apiKeys: ApiKeyAuthenticator = {
    authenticate: async (k) => { calls.push(`key:${k}`); return { ...jwtIdentity, credential: 'api_key', keyId: 'k' }; },
    cachedKeyIds: () => [],
  };
  const auth = createCredentialAuthenticator({ jwt, apiKeys });

  it('hands each credential to its verifier, never the other', async () => {
    calls.length = 0;
    const key = generateApiKey().text;
    await auth.authenticate(`Bearer ${JWT}`, { authorization: `Bearer ${JWT}`, 'x-api-key': 'mem0-key' });
    await auth.authenticate(undefined, { 'x-api-key': key });
    await auth.authenticate(`Token ${key}`, { authorization: `Token ${key}` });
    // Callers that pass only Authorization (the JWT-only signature) still work.
    await auth.authenticate(`Bearer ${JWT}`);
    expect(calls).toEqual([`jwt:Bearer ${JWT}`, `key:${key}`, `key:${key}`, `jwt:Bearer ${JWT}`]);
    expect(await reasonOf(auth.authenticate(`Bearer ${JWT}`, { authorization: `Bearer ${JWT}`, 'x-api-key': key }))).toEqual(['ambiguous_credentials', 400]);
    expect(calls).toHaveLength(4);
    expect(await auth.warm!()).toEqual(['x']);
  });
});

describe('identity and audit of an API-key caller', () => {
  const rec = parseRecord('0123456789abcdef', {
    tenant: 'acme', sub: 'bot-7', roles: 'agent-writer,agent-reader', agent: 'support-bot', digest: 'd',
    created_at: '1000', expires_at: '7776001000', created_by: 'ops',
  })!;

  it('a record becomes the JWT identity shape, with the key id as jti', () => {
    expect(identityFor(rec)).toEqual({
      subject: 'bot-7', issuer: 'mem0-gov:api-key', tenant: 'acme', roles: ['agent-reader', 'agent-writer'], agent: 'support-bot',
      jti: '0123456789abcdef', exp: 7776001, credential: 'api_key', keyId: '0123456789abcdef',
    });
    // No session: no sid, no auth time, no iat (the gate's session checks do not apply; the key's expiry is its lifetime).
    const id = identityFor(rec);
    expect([id.sessionId, id.authTime, id.iat]).toEqual([undefined, undefined, undefined]);
  });

  it('malformed records are no records', () => {
    const good = { tenant: 'acme', sub: 'b', roles: 'agent-reader', digest: 'd', created_at: '1', expires_at: '2' };
    expect(parseRecord('k', good)).toBeDefined();
    for (const drop of ['tenant', 'sub', 'roles', 'digest', 'created_at', 'expires_at']) {
      const h: Record<string, string> = { ...good };
      delete h[drop];
      expect(parseRecord('k', h), drop).toBeUndefined();
    }
    expect(parseRecord('k', { ...good, expires_at: 'soon' })).toBeUndefined();
    expect(parseRecord('k', { ...good, roles: ',' })).toBeUndefined();
  });

  it('the decision row says api_key and the key id; a JWT row says nothing of the kind', () => {
    const ctx = { raw: { method: 'GET', path: '/memories', headers: {}, sourceIp: '127.0.0.1', requestId: 'r' }, decisionId: 'd', nowMs: 0, notes: [], policyRevision: 'p' };
    const keyRow = decisionRow({ ...ctx, identity: identityFor(rec) }, { decision: 'allow', reason: 'allowed', status: 200 }, 1);
    expect(JSON.parse(keyRow.detail!)).toMatchObject({ credential: 'api_key', api_key_id: '0123456789abcdef' });
    expect(keyRow.actor_sub).toBe('bot-7');
    const jwtRow = decisionRow({ ...ctx, identity: { subject: 'alice', issuer: 'i', tenant: 'acme', roles: [] } }, { decision: 'allow', reason: 'allowed', status: 200 }, 1);
    expect(jwtRow.detail).toBeNull();
  });
});

describe('what reaches Mem0', () => {
  const id: Identity = { subject: 'bot-7', issuer: 'mem0-gov:api-key', tenant: 'acme', roles: ['agent-writer'], credential: 'api_key', keyId: 'k' };
  const base = { identity: id, decisionId: 'd', requestId: 'r', clientHeaders: {}, breakGlass: false, context: '{}' };

  it('without a Mem0 key of ours: the client\'s X-API-Key and Authorization are removed, even when the check did not list them', () => {
    for (const incoming of [['x-api-key', 'authorization'], []]) {
      const v = allowVerdict({ ...base, incomingHeaders: incoming });
      if (!v.allowed) throw new Error('allowed');
      expect(v.removeHeaders).toEqual(expect.arrayContaining(['authorization', 'x-api-key']));
      expect(v.upstreamHeaders['x-api-key']).toBeUndefined();
    }
  });

  it('with a Mem0 key of ours: ours overwrites the client\'s', () => {
    const v = allowVerdict({ ...base, incomingHeaders: ['x-api-key'], mem0ApiKey: 'ours' });
    if (!v.allowed) throw new Error('allowed');
    expect(v.upstreamHeaders['x-api-key']).toBe('ours');
    expect(v.removeHeaders).toContain('authorization');
    expect(v.removeHeaders).not.toContain('x-api-key');
  });

  it('looksLikeApiKey tells our keys from Mem0\'s', () => {
    expect(looksLikeApiKey(generateApiKey().text)).toBe(true);
    expect(looksLikeApiKey('mem0-admin-key')).toBe(false);
  });
});

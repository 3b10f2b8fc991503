import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { createAuthenticator } from '../../../src/identity/jwt.js';
import { loadJwtConfig } from '../../../src/identity/config.js';
import type { JwtConfig } from '../../../src/identity/config.js';
import { ConfigError } from '../../../src/config/env.js';
import { PipelineStop } from '../../../src/types.js';

interface Key { kid: string; alg: string; priv: CryptoKey; pub: JWK }
async function makeKey(alg: string, kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, priv: privateKey, pub: { ...(await exportJWK(publicKey)), kid, alg } };
}

let server: Server;
let base = '';
let served: JWK[] = [];
let jwksFetches = 0;
const keys: Record<string, Key> = {};

beforeAll(async () => {
  keys.es = await makeKey('ES256', 'es-1');
  keys.rs = await makeKey('RS256', 'rs-1');
  keys.ps = await makeKey('PS256', 'ps-1');
  keys.ed = await makeKey('EdDSA', 'ed-1');
  keys.rotated = await makeKey('ES256', 'es-2');
  served = [keys.es.pub, keys.rs.pub, keys.ps.pub];
  server = createServer((req, res) => {
    if (req.url === '/realms/acme/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer: `${base}/realms/acme`, jwks_uri: `${base}/realms/acme/certs` }));
    } else if (req.url === '/realms/acme/certs' || req.url === '/jwks') {
      jwksFetches++;
      res.end(JSON.stringify({ keys: served }));
    } else if (req.url === '/realms/liar/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer: 'https://someone-else', jwks_uri: `${base}/jwks` }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function cfg(extra: Record<string, string> = {}): JwtConfig {
  return loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: `${base}/realms/acme`, MEM0_GOV_JWKS_COOLDOWN_MS: '1000', ...extra });
}

async function token(key: Key, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: number; iat?: number; nbf?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ typ: 'Bearer', tenant: 'acme', realm_access: { roles: ['agent-writer'] }, azp: 'support-bot', sid: 's-1', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuer(opts.iss ?? `${base}/realms/acme`)
    .setAudience(opts.aud ?? 'mem0-gov')
    .setSubject('alice')
    .setJti('jti-1')
    .setIssuedAt(opts.iat ?? now)
    .setExpirationTime(opts.exp ?? now + 300);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(key.priv);
}

async function reason(p: Promise<unknown>): Promise<[string, number, string | undefined]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof PipelineStop) return [err.reason, err.status, err.headers['www-authenticate']];
    throw err;
  }
  throw new Error('expected rejection');
}

describe('JWT verification (jose)', () => {
  it('accepts a valid ES256 token found through OIDC discovery and maps Keycloak claims', async () => {
    const auth = createAuthenticator(cfg({ MEM0_GOV_JWT_ROLE_CLIENTS: 'mem0-gov' }));
    const id = await auth.authenticate(`Bearer ${await token(keys.es!, { resource_access: { 'mem0-gov': { roles: ['phi-reader'] }, other: { roles: ['admin'] } } })}`);
    expect(id).toMatchObject({ subject: 'alice', tenant: 'acme', agent: 'support-bot', sessionId: 's-1', jti: 'jti-1' });
    // roles from other clients don't count
    expect(id.roles).toEqual(['agent-writer', 'phi-reader']);
  });

  it.each(['rs', 'ps'])('accepts %s-family tokens from a JWKS URL', async (k) => {
    const auth = createAuthenticator(cfg({ MEM0_GOV_JWKS_URL: `${base}/jwks` }));
    await expect(auth.authenticate(`Bearer ${await token(keys[k]!)}`)).resolves.toMatchObject({ subject: 'alice' });
  });

  it('accepts EdDSA from a JWKS file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [keys.ed!.pub] }));
    const auth = createAuthenticator(cfg({ MEM0_GOV_JWKS_FILE: join(dir, 'jwks.json') }));
    await expect(auth.authenticate(`Bearer ${await token(keys.ed!)}`)).resolves.toMatchObject({ tenant: 'acme' });
  });

  it('rejects expired tokens beyond the clock skew, accepts within it', async () => {
    const now = Math.floor(Date.now() / 1000);
    const auth = createAuthenticator(cfg({ MEM0_GOV_JWT_CLOCK_SKEW_SECONDS: '30' }));
    expect(await reason(auth.authenticate(`Bearer ${await token(keys.es!, {}, { iat: now - 600, exp: now - 60 })}`))).toEqual([
      'expired', 401, 'Bearer realm="mem0-gov", error="invalid_token", error_description="expired"',
    ]);
    await expect(auth.authenticate(`Bearer ${await token(keys.es!, {}, { iat: now - 600, exp: now - 10 })}`)).resolves.toBeTruthy();
  });

  it('rejects a token that is not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const auth = createAuthenticator(cfg());
    expect((await reason(auth.authenticate(`Bearer ${await token(keys.es!, {}, { nbf: now + 600 })}`)))[0]).toBe('not_yet_valid');
  });

  it('rejects the wrong audience and unknown issuers', async () => {
    const auth = createAuthenticator(cfg());
    expect((await reason(auth.authenticate(`Bearer ${await token(keys.es!, {}, { aud: 'account' })}`)))[0]).toBe('wrong_audience');
    expect((await reason(auth.authenticate(`Bearer ${await token(keys.es!, {}, { iss: 'https://evil.example/realms/acme' })}`)))[0]).toBe('unknown_issuer');
  });

  it('never accepts alg none', async () => {
    const auth = createAuthenticator(cfg());
    const unsigned = new UnsecuredJWT({ tenant: 'acme', sub: 'alice' }).setIssuer(`${base}/realms/acme`).setAudience('mem0-gov').setExpirationTime('5m').encode();
    expect((await reason(auth.authenticate(`Bearer ${unsigned}`)))[0]).toBe('alg_not_allowed');
  });

  it('never accepts HS256 signed with the public key as the secret (key confusion)', async () => {
    const auth = createAuthenticator(cfg());
    const pem = await exportSPKI((await generateKeyPair('RS256', { extractable: true })).publicKey);
    const forged = await new SignJWT({ typ: 'Bearer', tenant: 'acme', realm_access: { roles: ['admin'] } })
      .setProtectedHeader({ alg: 'HS256', kid: 'rs-1' })
      .setIssuer(`${base}/realms/acme`).setAudience('mem0-gov').setSubject('mallory').setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem));
    expect((await reason(auth.authenticate(`Bearer ${forged}`)))[0]).toBe('alg_not_allowed');
  });

  it('rejects a tampered payload as bad_signature', async () => {
    const auth = createAuthenticator(cfg());
    const [h, p, s] = (await token(keys.es!)).split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    claims.tenant = 'globex';
    const forged = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
    expect((await reason(auth.authenticate(`Bearer ${forged}`)))[0]).toBe('bad_signature');
  });

  it('refetches the JWKS for an unknown kid (rotation), at most once per cooldown', async () => {
    // jose's cooldown counts from the last fetch, including the first one.
    const auth = createAuthenticator(cfg({ MEM0_GOV_JWKS_COOLDOWN_MS: '400' }));
    await auth.authenticate(`Bearer ${await token(keys.es!)}`);
    served = [keys.es!.pub, keys.rotated!.pub];
    await new Promise((r) => setTimeout(r, 450));
    const before = jwksFetches;
    await expect(auth.authenticate(`Bearer ${await token(keys.rotated!)}`)).resolves.toMatchObject({ subject: 'alice' });
    expect(jwksFetches).toBe(before + 1);
    const stranger = await makeKey('ES256', 'nobody');
    for (let i = 0; i < 3; i++) {
      expect((await reason(auth.authenticate(`Bearer ${await token(stranger)}`)))[0]).toBe('unknown_kid');
    }
    expect(jwksFetches).toBe(before + 1); // cooldown: no refetch storm from random kids
    served = [keys.es!.pub, keys.rs!.pub, keys.ps!.pub];
  });

  it('warm() prefetches keys before the first request and reports issuers it could not reach', async () => {
    const before = jwksFetches;
    const auth = createAuthenticator(cfg());
    expect(await auth.warm!()).toEqual([]);
    expect(jwksFetches).toBe(before + 1);
    await auth.authenticate(`Bearer ${await token(keys.es!)}`);
    expect(jwksFetches).toBe(before + 1); // the request used the prefetched keys
    const down = createAuthenticator(loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: 'http://127.0.0.1:9/realms/x', MEM0_GOV_JWKS_TIMEOUT_MS: '300' }));
    expect(await down.warm!()).toEqual(['http://127.0.0.1:9/realms/x']);
  });

  it('refuses a discovery document that names another issuer', async () => {
    const auth = createAuthenticator(loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: `${base}/realms/liar` }));
    expect(await reason(auth.authenticate(`Bearer ${await token(keys.es!, {}, { iss: `${base}/realms/liar` })}`))).toEqual(['jwks_unavailable', 503, undefined]);
  });

  it('answers 503, not 401, when the key server is down', async () => {
    const auth = createAuthenticator(loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: 'http://127.0.0.1:9/realms/x', MEM0_GOV_JWKS_TIMEOUT_MS: '500' }));
    expect((await reason(auth.authenticate(`Bearer ${await token(keys.es!, {}, { iss: 'http://127.0.0.1:9/realms/x' })}`)))[0]).toBe('jwks_unavailable');
  });

  it('missing and malformed Authorization headers', async () => {
    const auth = createAuthenticator(cfg());
    expect(await reason(auth.authenticate(undefined))).toEqual(['token_missing', 401, 'Bearer realm="mem0-gov"']);
    expect((await reason(auth.authenticate('Basic YWxpY2U6cHc=')))[0]).toBe('malformed_token');
    expect((await reason(auth.authenticate('Bearer not-a-jwt')))[0]).toBe('malformed_token');
    expect((await reason(auth.authenticate('Bearer a.b.c')))[0]).toBe('malformed_token');
  });

  it('tenant claim: required, and must not contain the namespace separator', async () => {
    const auth = createAuthenticator(cfg());
    expect((await reason(auth.authenticate(`Bearer ${await token(keys.es!, { tenant: undefined })}`)))[0]).toBe('tenant_claim_missing');
    expect((await reason(auth.authenticate(`Bearer ${await token(keys.es!, { tenant: 'acme:evil' })}`)))[0]).toBe('invalid_tenant_claim');
  });

  it('claim names are configurable', async () => {
    const auth = createAuthenticator(cfg({ MEM0_GOV_JWT_TENANT_CLAIM: 'org.id', MEM0_GOV_JWT_AGENT_CLAIM: 'client_id', MEM0_GOV_JWT_ROLES_CLAIM: 'roles' }));
    const id = await auth.authenticate(`Bearer ${await token(keys.es!, { org: { id: 'globex' }, client_id: 'bot-7', roles: ['agent-reader'], tenant: undefined })}`);
    expect(id).toMatchObject({ tenant: 'globex', agent: 'bot-7', roles: ['agent-reader'] });
  });

  it('rejects Keycloak ID tokens used as access tokens', async () => {
    const auth = createAuthenticator(cfg());
    expect((await reason(auth.authenticate(`Bearer ${await token(keys.es!, { typ: 'ID' })}`)))[0]).toBe('wrong_token_type');
  });
});

describe('JWT config', () => {
  it('names the bad variable', () => {
    expect(() => loadJwtConfig({})).toThrow(ConfigError);
    expect(() => loadJwtConfig({})).toThrow(/MEM0_GOV_JWT_ISSUERS/);
    expect(() => loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: 'https://i', MEM0_GOV_JWT_ALGORITHMS: 'RS256,HS256' })).toThrow(/MEM0_GOV_JWT_ALGORITHMS: HS256 is not allowed/);
    expect(() => loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: 'not a url' })).toThrow(/MEM0_GOV_JWT_ISSUERS/);
    expect(() => loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: 'https://i', MEM0_GOV_JWT_CLOCK_SKEW_SECONDS: 'lots' })).toThrow(/MEM0_GOV_JWT_CLOCK_SKEW_SECONDS: expected an integer/);
  });
  it('several issuers with their own key sources', () => {
    const c = loadJwtConfig({ MEM0_GOV_JWT_ISSUERS_JSON: JSON.stringify([{ issuer: 'https://a' }, { issuer: 'https://b', jwks_uri: 'https://b/k' }]) });
    expect(c.issuers.map((i) => i.keys.kind)).toEqual(['discovery', 'jwks_url']);
  });
});

describe('verified-token cache', () => {
  it('keeps a verified token by digest (never the token) until its exp, then verifies again', async () => {
    const now = Math.floor(Date.now() / 1000);
    let clockMs = now * 1000;
    const auth = createAuthenticator(cfg({ MEM0_GOV_JWT_CLOCK_SKEW_SECONDS: '0' }), () => clockMs);
    const t = await token(keys.es!, {}, { iat: now, exp: now + 60 });
    await auth.authenticate(`Bearer ${t}`);
    expect(auth.cache.size).toBe(1);
    expect(auth.cache.keys().join()).not.toContain(t.split('.')[2]!.slice(0, 20));
    expect(auth.cache.keys()[0]).toMatch(/^[A-Za-z0-9_-]{43}$/); // base64url SHA-256
    await expect(auth.authenticate(`Bearer ${t}`)).resolves.toMatchObject({ subject: 'alice' });
    clockMs = (now + 61) * 1000;
    expect((await reason(auth.authenticate(`Bearer ${t}`)))[0]).toBe('expired');
    expect(auth.cache.size).toBe(0);
  });

  it('a key rotation drops cached tokens signed with a key the issuer no longer serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jwks-rot-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [keys.es!.pub] }));
    const auth = createAuthenticator(cfg({ MEM0_GOV_JWKS_FILE: file, MEM0_GOV_JWKS_COOLDOWN_MS: '0' }));
    const old = await token(keys.es!);
    await auth.authenticate(`Bearer ${old}`);
    expect(auth.cache.size).toBe(1);
    // The issuer rotates: only the new key is published, and a token signed with it arrives.
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, JSON.stringify({ keys: [keys.rotated!.pub] }));
    await expect(auth.authenticate(`Bearer ${await token(keys.rotated!)}`)).resolves.toMatchObject({ subject: 'alice' });
    expect((await reason(auth.authenticate(`Bearer ${old}`)))[0]).toBe('unknown_kid');
  });

  it('is bounded: the least recently used entry goes first', async () => {
    const auth = createAuthenticator(cfg(), Date.now, { cacheEntries: 2 });
    const [a, b, c] = await Promise.all([token(keys.es!, { n: 1 }), token(keys.es!, { n: 2 }), token(keys.es!, { n: 3 })]);
    await auth.authenticate(`Bearer ${a}`);
    await auth.authenticate(`Bearer ${b}`);
    await auth.authenticate(`Bearer ${a}`); // a is now the most recent
    await auth.authenticate(`Bearer ${c}`);
    expect(auth.cache.size).toBe(2);
    const { tokenDigest } = await import('../../../src/identity/token-cache.js');
    expect(auth.cache.keys().sort()).toEqual([tokenDigest(a!), tokenDigest(c!)].sort());
  });

  it('a tampered copy of a cached token is another entry, and is refused', async () => {
    const auth = createAuthenticator(cfg());
    const t = await token(keys.es!);
    await auth.authenticate(`Bearer ${t}`);
    const [h, p, sig] = t.split('.');
    const forged = `${h}.${p}.${sig!.slice(0, -4)}AAAA`;
    expect((await reason(auth.authenticate(`Bearer ${forged}`)))[0]).toBe('bad_signature');
  });
});


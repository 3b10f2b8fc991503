// ISO/IEC 27001:2022 A.8.5 secure authentication: only tokens from the configured issuer, signed
// with an asymmetric algorithm by a published key, inside their validity window, are accepted.
// Key confusion (HS256 keyed with the public key) and foreign issuers are refused. The realm
// issues 5-minute tokens and locks out brute force.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import { useStack } from './helpers.js';
import { loadRealm } from './realm.js';

const c = useStack();
const claims = { typ: 'Bearer', tenant: 'acme', realm_access: { roles: ['admin'] }, azp: 'acme-agent', sid: 's-1' };

async function refusedWith(token: string): Promise<string> {
  const before = c.mem0Count();
  const r = await c.req({ path: '/memories?user_id=acme:alice', token });
  expect(r.status).toBe(401);
  expect(c.mem0Count()).toBe(before);
  return r.json<{ reason: string }>().reason;
}

describe('A.8.5 secure authentication', () => {
  it('a token from an issuer that is not configured is refused, whatever it claims', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'x' }).setIssuer('https://idp.attacker.example/realms/mem0')
      .setAudience('mem0-gov').setSubject('mallory').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    expect(await refusedWith(foreign)).toBe('unknown_issuer');
  });

  it('HS256 keyed with the published public key (algorithm confusion) is refused', async () => {
    const jwks = JSON.parse(readFileSync(join(c.stack.stateDir, 'dev-issuer', 'jwks.json'), 'utf8')) as { keys: Array<{ kid: string }> };
    const pub = jwks.keys[0]!;
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: pub.kid }).setIssuer(c.stack.issuer)
      .setAudience('mem0-gov').setSubject('mallory').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(JSON.stringify(pub)));
    expect(await refusedWith(forged)).toBe('alg_not_allowed');
  });

  it('a token not yet valid is refused; the issuer signs asymmetrically', async () => {
    const future = await c.stack.token({ tenant: 'acme', roles: ['admin'], extraClaims: { nbf: Math.floor(Date.now() / 1000) + 600 } });
    expect(await refusedWith(future)).toBe('not_yet_valid');
    expect(decodeProtectedHeader(future).alg).toMatch(/^(RS|PS|ES)256$|^EdDSA$/);
  });

  it('the realm issues short-lived tokens and protects against brute force', () => {
    const realm = loadRealm();
    expect(realm.accessTokenLifespan).toBeLessThanOrEqual(300);
    expect(realm.bruteForceProtected).toBe(true);
  });
});

// HIPAA 164.312(d) person or entity authentication: every request carries a JWT verified against
// the IdP's keys; expired, forged, unsigned or foreign tokens are refused and never reach Mem0.
import { describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT, decodeProtectedHeader, generateKeyPair } from 'jose';
import { useStack } from './helpers.js';

const c = useStack();
const claims = { typ: 'Bearer', tenant: 'acme', realm_access: { roles: ['admin'] }, azp: 'acme-agent', sid: 's-1' };

async function refused(token: string | undefined, reason: string): Promise<void> {
  const before = c.mem0Count();
  const r = await c.req({ path: '/memories?user_id=acme:alice', ...(token ? { token } : {}) });
  expect(r.status, reason).toBe(401);
  expect(r.json(), reason).toMatchObject({ error: 'unauthenticated', reason });
  expect(r.headers['www-authenticate'], reason).toMatch(/^Bearer/);
  expect(c.mem0Count(), `${reason}: reached Mem0`).toBe(before);
  const row = await c.auditRow(r);
  expect(row).toMatchObject({ decision: 'unauthenticated', reasons: [reason], actor_sub: null });
}

describe('164.312(d) entity authentication', () => {
  it('a verified token from the IdP is accepted and its subject is the audited actor', async () => {
    const r = await c.req({ path: '/memories?user_id=acme:alice', token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' }) });
    expect(r.status).toBe(200);
    expect((await c.auditRow(r)).actor_sub).toBe('alice');
  });

  it('no token and an expired token are refused', async () => {
    await refused(undefined, 'token_missing');
    const now = Math.floor(Date.now() / 1000);
    await refused(await c.stack.token({ tenant: 'acme', roles: ['admin'], iat: now - 3600, ttl: 600 }), 'expired');
  });

  it('a token signed with another key under the IdP\'s kid is refused', async () => {
    const real = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const { kid, alg } = decodeProtectedHeader(real);
    const { privateKey } = await generateKeyPair(alg!);
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: alg!, kid: kid! }).setIssuer(c.stack.issuer)
      .setAudience('mem0-gov').setSubject('mallory').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    await refused(forged, 'bad_signature');
  });

  it('an unsigned token (alg none) and a token for another audience are refused', async () => {
    const unsigned = new UnsecuredJWT(claims).setIssuer(c.stack.issuer).setAudience('mem0-gov').setSubject('mallory').setIssuedAt().setExpirationTime('5m').encode();
    await refused(unsigned, 'alg_not_allowed');
    await refused(await c.stack.token({ tenant: 'acme', roles: ['admin'], audience: 'another-service' }), 'wrong_audience');
  });
});

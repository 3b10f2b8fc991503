// Regression (found by fuzz/run.ts, target `jwt`, property `wrong-type-claim-is-not-a-time-verdict`):
// a correctly signed token whose `exp` or `nbf` is not a number (a string, an object, null) was
// refused as `expired` / `not_yet_valid`, which sends the agent's developer after clocks and token
// refresh; it is a malformed claim: `invalid_claims`. Time verdicts on numeric claims are unchanged.
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../../src/identity/jwt.js';
import type { JwtConfig } from '../../../src/identity/config.js';
import { PipelineStop } from '../../../src/errors.js';

const ISS = 'https://idp.example/realms/mem0';
const NOW = 1_800_000_000;
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const dir = mkdtempSync(join(tmpdir(), 'mem0gov-jwt-types-'));
writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256' }] }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cfg: JwtConfig = {
  issuers: [{ issuer: ISS, keys: { kind: 'jwks_file', path: join(dir, 'jwks.json') } }],
  audience: ['mem0-gov'], algorithms: ['ES256'], clockSkewSeconds: 30, jwksCooldownMs: 30_000, jwksTimeoutMs: 2000, maxTokenAgeSeconds: 0,
  claims: { tenant: 'tenant', agent: 'azp', session: 'sid', realmRoles: 'realm_access.roles', roleClients: ['mem0-gov'] },
};
const auth = createAuthenticator(cfg, () => NOW * 1000);

function token(claims: Record<string, unknown>): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'ES256', kid: 'k1', typ: 'JWT' })}.${b64({ iss: ISS, aud: 'mem0-gov', sub: 'alice', tenant: 'acme', typ: 'Bearer', exp: NOW + 300, ...claims })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

async function reason(claims: Record<string, unknown>): Promise<string> {
  try {
    await auth.authenticate(`Bearer ${token(claims)}`);
    return 'accepted';
  } catch (err) {
    if (err instanceof PipelineStop) return err.reason;
    throw err;
  }
}

describe('time claims of the wrong type', () => {
  it('are invalid_claims, not expired / not_yet_valid', async () => {
    expect(await reason({ exp: String(NOW + 300) })).toBe('invalid_claims');
    expect(await reason({ exp: { exp: NOW + 300 } })).toBe('invalid_claims');
    expect(await reason({ exp: [NOW + 300] })).toBe('invalid_claims');
    expect(await reason({ nbf: 'https://idp.example/realms/mem0' })).toBe('invalid_claims');
    expect(await reason({ nbf: null })).toBe('invalid_claims');
  });

  it('numeric time claims keep their verdicts', async () => {
    expect(await reason({})).toBe('accepted');
    expect(await reason({ exp: NOW - 60 })).toBe('expired');
    expect(await reason({ nbf: NOW + 600 })).toBe('not_yet_valid');
    expect(await reason({ exp: undefined })).toBe('exp_missing');
  });
});

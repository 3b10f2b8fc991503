// A development token issuer: an ES256 key generated at first run (never committed), its
// public half served as a JWKS behind OIDC discovery, and `mem0-gov token` to mint tokens.
// Shaped like Keycloak's access tokens so the same claim mapping applies. Dev use only.
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { JWK } from 'jose';

const ALG = 'ES256';

export interface DevKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

export function devKeyPaths(dir: string): { privateFile: string; jwksFile: string } {
  return { privateFile: join(dir, 'dev-signing-key.jwk.json'), jwksFile: join(dir, 'jwks.json') };
}

/** Loads the dev key from `dir`, generating it on first use. */
export async function ensureDevKey(dir: string): Promise<DevKey> {
  const { privateFile, jwksFile } = devKeyPaths(dir);
  if (existsSync(privateFile)) {
    const privateJwk = JSON.parse(await readFile(privateFile, 'utf8')) as JWK;
    const { d: _d, ...publicJwk } = privateJwk;
    return { kid: privateJwk.kid ?? 'dev', privateJwk, publicJwk };
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = `dev-${randomUUID().slice(0, 8)}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG, use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' };
  await writeFile(privateFile, JSON.stringify(privateJwk), { mode: 0o600 });
  await chmod(privateFile, 0o600);
  await writeFile(jwksFile, JSON.stringify({ keys: [publicJwk] }, null, 2));
  return { kid, privateJwk, publicJwk };
}

export interface MintOptions {
  issuer: string;
  audience: string | string[];
  tenant: string;
  roles: string[];
  sub?: string;
  agent?: string;
  sid?: string;
  jti?: string;
  /** seconds */
  ttl?: number;
  /** seconds since epoch; defaults to now */
  iat?: number;
  authTime?: number;
  extraClaims?: Record<string, unknown>;
}

export async function mintDevToken(key: DevKey, o: MintOptions): Promise<string> {
  const iat = o.iat ?? Math.floor(Date.now() / 1000);
  const sub = o.sub ?? `${o.tenant}-user`;
  const claims: Record<string, unknown> = {
    typ: 'Bearer',
    tenant: o.tenant,
    realm_access: { roles: o.roles },
    azp: o.agent ?? `${o.tenant}-agent`,
    sid: o.sid ?? randomUUID(),
    auth_time: o.authTime ?? iat,
    ...o.extraClaims,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
    .setIssuer(o.issuer)
    .setAudience(o.audience)
    .setSubject(sub)
    .setJti(o.jti ?? randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + (o.ttl ?? 900))
    .sign(await importJWK(key.privateJwk, ALG));
}

/** Serves `/.well-known/openid-configuration` and `/jwks.json` for `issuer`. */
export async function serveDevIssuer(key: DevKey, port: number, host = '127.0.0.1'): Promise<{ issuer: string; server: Server; close(): Promise<void> }> {
  const issuer = `http://${host}:${port}/realms/dev`;
  const server = createServer((req, res) => {
    const send = (body: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/realms/dev/.well-known/openid-configuration') {
      send({ issuer, jwks_uri: `${issuer}/protocol/openid-connect/certs`, id_token_signing_alg_values_supported: [ALG] });
    } else if (req.url === '/realms/dev/protocol/openid-connect/certs') {
      send({ keys: [key.publicJwk] });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { issuer, server, close: () => new Promise((r) => server.close(() => r())) };
}

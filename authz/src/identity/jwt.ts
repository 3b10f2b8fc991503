// Stage 2: `Authorization: Bearer <JWT>` → Identity, verified with jose.
// Issuer is chosen from the (unverified) `iss` claim only to pick the key set; jwtVerify then
// checks issuer, audience, exp/nbf/iat (with skew) and the algorithm allow-list.
import { readFile, stat } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
} from 'jose';
import type { JWTPayload, JWTVerifyGetKey, JSONWebKeySet } from 'jose';
import { PipelineStop, stop } from '../errors.js';
import type { Identity } from '../types.js';
import type { IssuerConfig, JwtConfig } from './config.js';
import { mapClaims } from './claims.js';
import { unauthenticated } from './errors.js';
import { TokenCache, tokenDigest } from './token-cache.js';

export interface Authenticator {
  /** `headers` (lower-case names): the whole request's, for authenticators that read more than
   * Authorization (identity/credentials.ts: X-API-Key); this one reads only `authorization`. */
  authenticate(authorization: string | undefined, headers?: Readonly<Record<string, string>>): Promise<Identity>;
  /** Fetches every issuer's keys now (discovery + JWKS), so the first request after start
   * does not spend Envoy's ext_authz budget on it. Never throws; returns what failed. */
  warm?(): Promise<string[]>;
}

/** Extracts the token; a malformed header is as bad as a bad token. */
export function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') throw unauthenticated('token_missing');
  const m = /^Bearer[ ]+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*)\s*$/i.exec(authorization);
  if (!m?.[1]) throw unauthenticated('malformed_token');
  return m[1];
}

type KeyResolver = JWTVerifyGetKey & { warm?: () => Promise<void> };

/** JWKS from a file, re-read when an unknown kid appears and the file changed (key rotation). */
function fileKeyResolver(path: string, cooldownMs: number): KeyResolver {
  let current: { mtimeMs: number; get: ReturnType<typeof createLocalJWKSet> } | undefined;
  let lastCheck = 0;
  const load = async (): Promise<void> => {
    const st = await stat(path);
    if (current && st.mtimeMs === current.mtimeMs) return;
    const jwks = JSON.parse(await readFile(path, 'utf8')) as JSONWebKeySet;
    current = { mtimeMs: st.mtimeMs, get: createLocalJWKSet(jwks) };
  };
  const get: KeyResolver = async (header, token) => {
    if (!current) await load();
    try {
      return await current!.get(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || Date.now() - lastCheck < cooldownMs) throw err;
      lastCheck = Date.now();
      await load();
      return current!.get(header, token);
    }
  };
  get.warm = load;
  return get;
}

/** OIDC discovery: jwks_uri from <issuer>/.well-known/openid-configuration, fetched lazily. */
function discoveryKeyResolver(issuer: string, cfg: JwtConfig): KeyResolver {
  let remote: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const discover = async (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(cfg.jwksTimeoutMs), redirect: 'error' });
    if (!res.ok) throw new Error(`discovery ${url}: HTTP ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OIDC Discovery §4.3: the document must name the same issuer.
    if (doc.issuer !== issuer) throw new Error(`discovery ${url}: issuer mismatch`);
    if (typeof doc.jwks_uri !== 'string') throw new Error(`discovery ${url}: no jwks_uri`);
    return createRemoteJWKSet(new URL(doc.jwks_uri), {
      cooldownDuration: cfg.jwksCooldownMs,
      timeoutDuration: cfg.jwksTimeoutMs,
    });
  };
  const resolve = (): Promise<ReturnType<typeof createRemoteJWKSet>> =>
    (remote ??= discover().catch((err: unknown) => {
      remote = undefined; // retry on the next request
      throw err;
    }));
  const get: KeyResolver = async (header, token) => (await resolve())(header, token);
  get.warm = async () => (await resolve()).reload();
  return get;
}

function keyResolver(iss: IssuerConfig, cfg: JwtConfig): KeyResolver {
  switch (iss.keys.kind) {
    case 'jwks_url': {
      const remote = createRemoteJWKSet(new URL(iss.keys.url), {
        cooldownDuration: cfg.jwksCooldownMs,
        timeoutDuration: cfg.jwksTimeoutMs,
      });
      const get: KeyResolver = (header, token) => remote(header, token);
      get.warm = () => remote.reload();
      return get;
    }
    case 'jwks_file':
      return fileKeyResolver(iss.keys.path, cfg.jwksCooldownMs);
    case 'discovery':
      return discoveryKeyResolver(iss.issuer, cfg);
  }
}

/** jose error → stable reason. Key-fetch trouble is ours, not the caller's: 503. */
export function reasonFor(err: unknown): PipelineStop {
  if (err instanceof PipelineStop) return err;
  if (err instanceof errors.JWTExpired) return unauthenticated('expired');
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthenticated('bad_signature');
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthenticated('alg_not_allowed');
  if (err instanceof errors.JWKSNoMatchingKey) return unauthenticated('unknown_kid');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return unauthenticated('ambiguous_kid');
  if (err instanceof errors.JWTClaimValidationFailed) {
    // A time claim that is not a number is a malformed claim, not a time verdict.
    if (err.reason === 'invalid' && (err.claim === 'exp' || err.claim === 'nbf')) return unauthenticated('invalid_claims');
    switch (err.claim) {
      case 'aud':
        return unauthenticated('wrong_audience');
      case 'iss':
        return unauthenticated('unknown_issuer');
      case 'nbf':
        return unauthenticated('not_yet_valid');
      case 'iat':
        return unauthenticated('invalid_iat');
      case 'exp':
        return unauthenticated(err.reason === 'missing' ? 'exp_missing' : 'expired');
      default:
        return unauthenticated('invalid_claims');
    }
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return unauthenticated('malformed_token');
  }
  if (err instanceof errors.JWKInvalid) return unauthenticated('bad_signature');
  return stop('jwks_unavailable', {}, err);
}

/** Default bound of the verified-token cache (entries of a few hundred bytes each). */
export const TOKEN_CACHE_ENTRIES = 10_000;

export function createAuthenticator(cfg: JwtConfig, clock: () => number = Date.now, opts: { cacheEntries?: number } = {}): Authenticator & { cache: TokenCache } {
  const byIssuer = new Map<string, KeyResolver>();
  for (const iss of cfg.issuers) byIssuer.set(iss.issuer, keyResolver(iss, cfg));
  const cache = new TokenCache(opts.cacheEntries ?? TOKEN_CACHE_ENTRIES);

  return {
    cache,
    async warm() {
      const failed: string[] = [];
      await Promise.all(
        [...byIssuer].map(async ([issuer, r]) => {
          try {
            await r.warm?.();
          } catch {
            failed.push(issuer);
          }
        }),
      );
      return failed;
    },
    async authenticate(authorization) {
      const token = bearerToken(authorization);
      let unverified: JWTPayload;
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
        unverified = decodeJwt(token);
      } catch {
        throw unauthenticated('malformed_token');
      }
      // Checked before any key lookup, so `none` and HS* never touch a key.
      if (alg === undefined || !cfg.algorithms.includes(alg)) throw unauthenticated('alg_not_allowed');
      const resolver = typeof unverified.iss === 'string' ? byIssuer.get(unverified.iss) : undefined;
      if (!resolver) throw unauthenticated('unknown_issuer');
      const now = clock();
      const digest = tokenDigest(token);
      const hit = cache.get(digest, now);
      if (hit !== undefined) {
        // Still the key the issuer serves for this header? (A rotation drops the entry.)
        const header = decodeProtectedHeader(token) as Parameters<JWTVerifyGetKey>[0];
        const current = await Promise.resolve(resolver(header, { payload: '', signature: '' } as Parameters<JWTVerifyGetKey>[1])).catch(() => undefined);
        if (current === hit.key) return hit.identity;
        cache.delete(digest);
      }
      let payload: JWTPayload;
      let key: unknown;
      try {
        ({ payload, key } = await jwtVerify(token, resolver, {
          issuer: unverified.iss,
          audience: cfg.audience,
          algorithms: cfg.algorithms,
          clockTolerance: cfg.clockSkewSeconds,
          currentDate: new Date(clock()),
          requiredClaims: ['exp', 'sub'],
          ...(cfg.maxTokenAgeSeconds > 0 ? { maxTokenAge: cfg.maxTokenAgeSeconds } : {}),
        }));
      } catch (err) {
        throw reasonFor(err);
      }
      const identity = mapClaims(payload, cfg);
      // Cached until exp (never past it, whatever the skew), or the max token age if set.
      let endsAtMs = (payload.exp as number) * 1000;
      if (cfg.maxTokenAgeSeconds > 0 && typeof payload.iat === 'number') endsAtMs = Math.min(endsAtMs, (payload.iat + cfg.maxTokenAgeSeconds) * 1000);
      if (endsAtMs > now) cache.set(digest, { identity, endsAtMs, key });
      return identity;
    },
  };
}

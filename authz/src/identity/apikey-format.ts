// mem0-gov API keys, the pure part (docs/api-keys.md): the key's text form, its generation and
// the digest stored in place of the secret.
//
//   m0g_<key id: 16 hex>_<secret: 32 random bytes, base64url (43 chars)>
//
// The key id is public (audit rows, `apikey list`, `revoke --jti`); the secret is shown once and
// never stored. Redis holds SHA-256 over a version label, the key id and the secret. No slow KDF
// (scrypt, Argon2): those protect low-entropy passwords from guessing; a 256-bit random secret
// cannot be guessed from its digest whatever the hash speed, and a KDF would cost every request
// milliseconds of CPU. No server pepper either: it would be one more secret the CLI and every
// replica must share, and buys nothing against 256 bits of entropy.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_PREFIX = 'm0g_';
const KEY_PATTERN = /^m0g_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const KEY_ID_PATTERN = /^[0-9a-f]{16}$/;
/** Domain separation: a digest of this scheme is never valid for another use of SHA-256. */
const HASH_LABEL = 'mem0-gov api key v1';

export interface ParsedApiKey {
  keyId: string;
  secret: string;
}

/** Does this header value claim to be a mem0-gov key (as opposed to, say, a Mem0 key)? */
export function looksLikeApiKey(value: string): boolean {
  return value.trim().startsWith(API_KEY_PREFIX);
}

/** The key's parts, or undefined when it is not a well-formed mem0-gov key. */
export function parseApiKey(text: string): ParsedApiKey | undefined {
  const m = KEY_PATTERN.exec(text.trim());
  return m ? { keyId: m[1]!, secret: m[2]! } : undefined;
}

export function isKeyId(s: string): boolean {
  return KEY_ID_PATTERN.test(s);
}

/** What Redis stores for a key: base64url SHA-256 of label, key id and secret. */
export function apiKeyDigest(keyId: string, secret: string): string {
  return createHash('sha256').update(`${HASH_LABEL}\0${keyId}\0${secret}`).digest('base64url');
}

/** Constant-time comparison of the presented key's digest with the stored one. */
export function digestMatches(presented: string, stored: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A new key: 64-bit random id, 256-bit random secret. The text is shown once. */
export function generateApiKey(): { keyId: string; secret: string; text: string; digest: string } {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { keyId, secret, text: `${API_KEY_PREFIX}${keyId}_${secret}`, digest: apiKeyDigest(keyId, secret) };
}

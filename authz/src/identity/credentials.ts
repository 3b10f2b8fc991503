// Which credential a request carries, and the authenticator that verifies it (docs/api-keys.md
// "Headers"):
//   Authorization: Bearer <JWT>   → the JWT path (identity/jwt.ts)
//   Authorization: Token <key>    → the API-key path (identity/apikey.ts)
//   X-API-Key: <key>              → the API-key path, when Authorization carries no credential
// Two mem0-gov credentials in one request (a JWT and an `m0g_` key, or a key in both headers)
// are refused: 400 `ambiguous_credentials` — no guessing which identity the caller meant. An
// X-API-Key that is not a mem0-gov key (an agent still sending its old Mem0 key) beside a JWT is
// not a credential of ours: ignored here, and never forwarded to Mem0 (respond/verdict.ts).
import type { Identity } from '../types.js';
import { stop } from '../errors.js';
import type { Authenticator } from './jwt.js';
import type { ApiKeyAuthenticator } from './apikey.js';
import { looksLikeApiKey } from './apikey-format.js';

export type CredentialChoice =
  | { kind: 'jwt'; authorization: string | undefined }
  | { kind: 'api_key'; key: string };

const TOKEN_SCHEME = /^Token[ ]+(\S+)\s*$/i;
const BEARER_SCHEME = /^Bearer(?:[ ]|$)/i;

/** Pure: the credential to verify, from the request headers (lower-case names). */
export function chooseCredential(headers: Readonly<Record<string, string | undefined>>): CredentialChoice {
  const authorization = headers.authorization;
  const auth = authorization?.trim() ?? '';
  const xKey = headers['x-api-key']?.trim() ?? '';
  const tokenKey = TOKEN_SCHEME.exec(auth)?.[1];
  const bearer = BEARER_SCHEME.test(auth);
  const ourXKey = xKey !== '' && looksLikeApiKey(xKey);
  if ((bearer || tokenKey !== undefined) && ourXKey) throw stop('ambiguous_credentials');
  if (tokenKey !== undefined) return { kind: 'api_key', key: tokenKey };
  // X-API-Key is the credential only when Authorization offers none; then even a foreign value
  // is judged (and refused as malformed) rather than answered "no credentials".
  if (auth === '' && xKey !== '') return { kind: 'api_key', key: xKey };
  return { kind: 'jwt', authorization };
}

/** JWTs and API keys behind one Authenticator (what the pipeline calls). */
export function createCredentialAuthenticator(parts: { jwt: Authenticator; apiKeys: ApiKeyAuthenticator }): Authenticator {
  const { jwt, apiKeys } = parts;
  const out: Authenticator = {
    async authenticate(authorization, headers): Promise<Identity> {
      const c = chooseCredential(headers ?? { authorization });
      return c.kind === 'api_key' ? apiKeys.authenticate(c.key) : jwt.authenticate(c.authorization);
    },
  };
  if (jwt.warm) out.warm = () => jwt.warm!();
  return out;
}

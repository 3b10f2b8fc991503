// Target `jwt`: stage 2 (authz/src/identity/jwt.ts) on attacker-shaped Authorization headers —
// JOSE headers with every algorithm (none, HS256 keyed with the public key, algorithms of the
// other key), kid tricks, embedded jwk / jku / x5u, crit and b64; payloads with claims of every
// type; signatures by the trusted keys, by an attacker's key, truncated or edited after signing;
// prefixes and suffixes around the token. The keys are a local JWKS file (no network), the clock
// is fixed. Properties:
//   1. accepted ⇒ the token is exactly what a trusted key signed, with that key's algorithm;
//   2. accepted ⇒ iss, aud, exp (a number, not past), nbf, sub, typ and tenant are valid, and the
//      identity is the payload's (subject, tenant, roles only from the configured claims);
//   3. refused ⇒ a PipelineStop of the authenticate stage; never jwks_unavailable (the keys are
//      local and present: a 503 for an attacker's header would be a bug) nor another exception;
//   4. a claim of the wrong type is not reported as a time verdict (`expired`, `not_yet_valid`);
//   5. the same header gets the same answer twice (the verified-token cache changes nothing);
//   6. a well-formed, correctly signed token is accepted (no false refusals of odd-but-valid claims).
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createAuthenticator, type Authenticator } from '../../authz/src/identity/jwt.js';
import type { JwtConfig } from '../../authz/src/identity/config.js';
import { TENANT_PATTERN } from '../../authz/src/identity/claims.js';
import { PipelineStop } from '../../authz/src/errors.js';
import { REASONS, isReason } from '../../authz/src/reasons.js';
import type { Identity } from '../../authz/src/types.js';
import { holds, violated, type Target } from '../engine/target.js';
import { anyString, asString, isRecord, show } from './shared.js';

export interface JwtInput {
  prefix: string;
  /** JOSE header: a JSON value (serialized and base64url-encoded) or, as {raw}, the segment itself. */
  header: unknown;
  payload: unknown;
  signer: 'es' | 'rs' | 'attacker' | 'hs-pub' | 'none' | 'raw';
  /** The signature segment when signer = raw. */
  sig: string;
  /** An edit after signing: in segment `seg`, at `at`, delete `del` characters and insert `ins`. */
  edit: { seg: number; at: number; del: number; ins: string } | null;
  suffix: string;
}

const ISS = 'https://idp.example/realms/mem0';
const NOW_S = 1_800_000_000;
const SKEW = 30;
const ALLOWED = ['RS256', 'PS256', 'ES256', 'EdDSA'];

interface Keys {
  es: KeyObject; rs: KeyObject; attacker: KeyObject; esPubPem: string;
  auth: Authenticator; dir: string;
}
let keys: Keys | undefined;

function setupKeys(): Keys {
  const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rs = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-fuzz-jwt-'));
  const jwks = join(dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [
    { ...es.publicKey.export({ format: 'jwk' }), kid: 'es-1', alg: 'ES256', use: 'sig' },
    { ...rs.publicKey.export({ format: 'jwk' }), kid: 'rs-1', alg: 'RS256', use: 'sig' },
  ] }));
  const cfg: JwtConfig = {
    issuers: [{ issuer: ISS, keys: { kind: 'jwks_file', path: jwks } }],
    audience: ['mem0-gov'],
    algorithms: ALLOWED,
    clockSkewSeconds: SKEW,
    jwksCooldownMs: 30_000,
    jwksTimeoutMs: 2000,
    maxTokenAgeSeconds: 0,
    claims: { tenant: 'tenant', agent: 'azp', session: 'sid', realmRoles: 'realm_access.roles', roleClients: ['mem0-gov'] },
  };
  return {
    es: es.privateKey, rs: rs.privateKey, attacker: attacker.privateKey,
    esPubPem: es.publicKey.export({ format: 'pem', type: 'spki' }) as string,
    auth: createAuthenticator(cfg, () => NOW_S * 1000), dir,
  };
}

// ---------- generators ----------

const algArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('ES256', 'RS256') },
  { weight: 2, arbitrary: fc.constantFrom('none', 'None', 'HS256', 'HS512', 'PS256', 'EdDSA', 'ES384', 'RS512', 'es256', 'ES256 ', '') },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.constant(['ES256']), anyString(6)) },
);
const headerArb = fc.oneof(
  { weight: 8, arbitrary: fc.record({
    alg: algArb,
    kid: fc.oneof(fc.constantFrom('es-1', 'rs-1', 'evil', '', 'ES-1', '../../jwks', 'es-1\u0000'), fc.integer(), fc.constant(null)),
    typ: fc.constantFrom('JWT', 'at+jwt', 'JWS', 'jwt', ''),
    crit: fc.constantFrom(['b64'], ['exp'], [], 'b64', ['x-custom']),
    b64: fc.boolean(),
    jwk: fc.constant({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }),
    jku: fc.constantFrom('https://evil.example/jwks.json', 'file:///etc/passwd'),
    x5u: fc.constant('https://evil.example/cert.pem'),
    cty: fc.constantFrom('JWT', 'json'),
  }, { requiredKeys: ['alg'] }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'e30', 'eyJhbGciOiJub25lIn0', '!!', 'eyJhbGciOiJFUzI1NiJ9'.slice(0, 10)).map((raw) => ({ raw })) },
);

const timeArb = (base: number): fc.Arbitrary<unknown> => fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -4000, max: 4000 }).map((d) => base + d) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 2 ** 53, 1e300, NOW_S + 0.5, NOW_S - SKEW, NOW_S + SKEW) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(String(NOW_S + 600)), fc.constant(null), fc.constant(true), fc.constant([NOW_S + 600]), fc.constant({ $date: NOW_S })) },
);

const tenantArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('acme', 'globex', 'a', 'acme.eu', 'acme_1-x') },
  { weight: 2, arbitrary: fc.constantFrom('acme:evil', '', ' acme', 'acme\n', '.acme', 'a'.repeat(64), 'a'.repeat(65), 'ACME', 'acmé') },
  { weight: 1, arbitrary: fc.oneof(fc.constant(['acme']), fc.constant(['acme', 'globex']), fc.constant(5), fc.constant(null), fc.constant({ id: 'acme' })) },
);

const payloadArb = fc.oneof(
  { weight: 9, arbitrary: fc.record({
    iss: fc.oneof({ weight: 6, arbitrary: fc.constant(ISS) }, { weight: 1, arbitrary: fc.constantFrom(ISS + '/', 'https://evil.example/realms/mem0', ISS.toUpperCase(), '') }, { weight: 1, arbitrary: fc.constant([ISS]) }),
    aud: fc.oneof({ weight: 5, arbitrary: fc.constant('mem0-gov') }, { weight: 2, arbitrary: fc.constantFrom(['account', 'mem0-gov'], ['account'], 'account', 'mem0-gov ', '', 'MEM0-GOV') }, { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.constant([5])) }),
    sub: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('alice', 'f3b2c1d0-0000-4000-8000-000000000000', 'service-account-agent-acme') }, { weight: 2, arbitrary: anyString(20) }, { weight: 1, arbitrary: fc.oneof(fc.constant(''), fc.integer(), fc.constant(null)) }),
    exp: timeArb(NOW_S + 300),
    iat: timeArb(NOW_S - 10),
    nbf: timeArb(NOW_S - 10),
    tenant: tenantArb,
    realm_access: fc.oneof(fc.record({ roles: fc.array(fc.oneof(fc.constantFrom('agent-reader', 'agent-writer', 'admin', 'phi-reader', 'platform-admin'), fc.integer(), anyString(8)), { maxLength: 3 }) }), fc.constant({ roles: 'admin' }), fc.constant(null)),
    resource_access: fc.oneof(fc.constant({ 'mem0-gov': { roles: ['admin'] } }), fc.constant({ other: { roles: ['platform-admin'] } }), fc.constant({ 'mem0-gov': 'admin' })),
    azp: fc.oneof(fc.constantFrom('agent-acme-support', ''), anyString(10), fc.integer()),
    sid: fc.oneof(fc.uuid(), anyString(10), fc.integer()),
    typ: fc.oneof({ weight: 4, arbitrary: fc.constant('Bearer') }, { weight: 1, arbitrary: fc.constantFrom('ID', 'Refresh', 'bearer', '') }),
    jti: fc.oneof(fc.uuid(), fc.integer()),
    auth_time: timeArb(NOW_S - 100),
  }, { requiredKeys: ['iss', 'aud', 'sub', 'exp', 'tenant'] }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

const arbitrary: fc.Arbitrary<JwtInput> = fc.record({
  prefix: fc.oneof({ weight: 8, arbitrary: fc.constant('Bearer ') }, { weight: 2, arbitrary: fc.constantFrom('bearer ', 'BEARER ', 'Bearer  ', 'Bearer\t', 'Bearer', 'Basic ', '', ' Bearer ', 'Bearer Bearer ', 'DPoP ') }),
  header: headerArb,
  payload: payloadArb,
  signer: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('es', 'rs') }, { weight: 2, arbitrary: fc.constantFrom('attacker', 'hs-pub', 'none', 'raw') }) as fc.Arbitrary<JwtInput['signer']>,
  sig: fc.oneof(fc.base64String({ maxLength: 20 }), fc.constantFrom('', 'AA', '.', 'a.b')),
  edit: fc.option(fc.record({ seg: fc.integer({ min: 0, max: 3 }), at: fc.nat(200), del: fc.nat(3), ins: fc.oneof(fc.constantFrom('', 'A', '.', '=', '+', '/', ' ', '\n', '%', 'AAAA'), anyString(3)) }), { nil: null, freq: 4 }),
  suffix: fc.oneof({ weight: 8, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', '\n', '\t', ' x', '.', '.x', ',Bearer x', '\u0000') }),
});

function fromJson(x: unknown): JwtInput {
  const o = isRecord(x) ? x : {};
  const signers = ['es', 'rs', 'attacker', 'hs-pub', 'none', 'raw'] as const;
  const signer = signers.includes(o.signer as JwtInput['signer']) ? (o.signer as JwtInput['signer']) : 'raw';
  let edit: JwtInput['edit'] = null;
  if (isRecord(o.edit)) {
    const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.abs(Math.trunc(v)) % 10_000 : 0);
    edit = { seg: n(o.edit.seg) % 4, at: n(o.edit.at), del: n(o.edit.del) % 50, ins: asString(o.edit.ins) };
  }
  return { prefix: asString(o.prefix), header: o.header ?? null, payload: o.payload ?? null, signer, sig: asString(o.sig), edit, suffix: asString(o.suffix) };
}

// ---------- building and judging ----------

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64url');

function segment(v: unknown): string {
  if (isRecord(v) && Object.keys(v).length === 1 && typeof v.raw === 'string') return v.raw;
  return b64(JSON.stringify(v) ?? 'null');
}

function build(i: JwtInput, k: Keys): { signed: string; token: string } {
  const input = `${segment(i.header)}.${segment(i.payload)}`;
  let sig: string;
  switch (i.signer) {
    case 'es': sig = b64(sign('sha256', Buffer.from(input), { key: k.es, dsaEncoding: 'ieee-p1363' })); break;
    case 'rs': sig = b64(sign('sha256', Buffer.from(input), k.rs)); break;
    case 'attacker': sig = b64(sign('sha256', Buffer.from(input), { key: k.attacker, dsaEncoding: 'ieee-p1363' })); break;
    case 'hs-pub': sig = b64(createHmac('sha256', k.esPubPem).update(input).digest()); break;
    case 'none': sig = ''; break;
    default: sig = i.sig;
  }
  const signed = `${input}.${sig}`;
  let token = signed;
  if (i.edit !== null) {
    const segs = signed.split('.');
    const s = Math.min(i.edit.seg, segs.length - 1);
    const seg = segs[s]!;
    const at = i.edit.at % (seg.length + 1);
    segs[s] = seg.slice(0, at) + i.edit.ins + seg.slice(at + i.edit.del);
    token = segs.join('.');
  }
  return { signed, token };
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Claims a correct verifier must insist on (the properties of an accepted token). */
function claimsValid(p: Record<string, unknown>): string | null {
  if (p.iss !== ISS) return 'iss';
  const aud = Array.isArray(p.aud) ? p.aud : [p.aud];
  if (!aud.includes('mem0-gov')) return 'aud';
  if (!isNum(p.exp) || p.exp <= NOW_S - SKEW) return 'exp';
  if (p.nbf !== undefined && (!isNum(p.nbf) || p.nbf > NOW_S + SKEW)) return 'nbf';
  if (p.iat !== undefined && !isNum(p.iat)) return 'iat';
  if (typeof p.sub !== 'string' || p.sub === '') return 'sub';
  if (p.typ !== undefined && p.typ !== 'Bearer') return 'typ';
  const t = Array.isArray(p.tenant) && p.tenant.length === 1 ? p.tenant[0] : p.tenant;
  if (typeof t !== 'string' || !TENANT_PATTERN.test(t)) return 'tenant';
  return null;
}

function outcome(r: PromiseSettledResult<Identity>): string {
  return r.status === 'fulfilled' ? `ok:${JSON.stringify(r.value)}` : `err:${r.reason instanceof PipelineStop ? r.reason.reason : String(r.reason)}`;
}

async function check(i: JwtInput): Promise<void> {
  const k = (keys ??= setupKeys());
  const { signed, token } = build(i, k);
  const authorization = `${i.prefix}${token}${i.suffix}`;
  const first = await Promise.allSettled([k.auth.authenticate(authorization)]).then((r) => r[0]!);
  const second = await Promise.allSettled([k.auth.authenticate(authorization)]).then((r) => r[0]!);
  holds(outcome(first) === outcome(second), 'same-answer-twice', { first: outcome(first), second: outcome(second) });

  const header = isRecord(i.header) && !('raw' in i.header && Object.keys(i.header).length === 1) ? i.header : undefined;
  const payload = isRecord(i.payload) ? i.payload : undefined;
  const genuine = token === signed && header !== undefined
    && ((i.signer === 'es' && header.alg === 'ES256') || (i.signer === 'rs' && header.alg === 'RS256'));

  if (first.status === 'fulfilled') {
    const id = first.value;
    holds(genuine, 'accepted-only-if-signed-by-a-trusted-key', { signer: i.signer, alg: header?.alg, edited: token !== signed, token: show(token) });
    holds(/^Bearer[ ]+$/i.test(i.prefix) && /^\s*$/.test(i.suffix), 'accepted-only-with-bearer-scheme', { prefix: i.prefix, suffix: i.suffix });
    holds(payload !== undefined, 'accepted-payload-object');
    const bad = claimsValid(payload);
    holds(bad === null, 'accepted-claims-valid', { claim: bad, payload: show(payload) });
    holds(id.subject === payload.sub && id.issuer === ISS, 'identity-subject', id);
    const t = Array.isArray(payload.tenant) ? payload.tenant[0] : payload.tenant;
    holds(id.tenant === t, 'identity-tenant', { id: id.tenant, t });
    const realm = isRecord(payload.realm_access) && Array.isArray(payload.realm_access.roles) ? payload.realm_access.roles : [];
    const ra = isRecord(payload.resource_access) && isRecord(payload.resource_access['mem0-gov']) && Array.isArray(payload.resource_access['mem0-gov'].roles) ? payload.resource_access['mem0-gov'].roles : [];
    for (const r of id.roles) holds(typeof r === 'string' && (realm.includes(r) || ra.includes(r)), 'identity-roles-from-claims', r);
    return;
  }
  const err: unknown = first.reason;
  if (!(err instanceof PipelineStop)) violated('only-pipeline-stops', (err as Error)?.stack ?? String(err));
  holds(isReason(err.reason) && REASONS[err.reason as keyof typeof REASONS].stage === 'authenticate', 'authenticate-stage-reason', err.reason);
  holds(err.reason !== 'jwks_unavailable' && err.status === 401, 'attacker-header-is-401-not-503', { reason: err.reason, status: err.status, cause: String((err.cause as Error | undefined)?.message ?? '') });
  if (genuine && payload !== undefined && /^Bearer[ ]+$/.test(i.prefix) && i.suffix === '') {
    // A time claim of the wrong type, everything else valid: a malformed claim, not a time verdict.
    const wrongType = (['exp', 'nbf'] as const).filter((c) => payload[c] !== undefined && !isNum(payload[c]));
    if (wrongType.length > 0) {
      const fixed: Record<string, unknown> = { ...payload, exp: wrongType.includes('exp') ? NOW_S + 300 : payload.exp, nbf: wrongType.includes('nbf') ? NOW_S - 10 : payload.nbf };
      if (claimsValid(fixed) === null) {
        holds(err.reason !== 'expired' && err.reason !== 'not_yet_valid', 'wrong-type-claim-is-not-a-time-verdict', { reason: err.reason, exp: payload.exp, nbf: payload.nbf });
      }
    }
    // A clean, correctly signed token with valid claims must pass.
    const plainHeader = Object.keys(header!).every((h) => ['alg', 'kid', 'typ'].includes(h))
      && (header!.kid === undefined || header!.kid === (i.signer === 'es' ? 'es-1' : 'rs-1'));
    if (claimsValid(payload) === null && plainHeader) violated('valid-token-accepted', { reason: err.reason, header, payload: show(payload) });
  }
}

export const jwtTarget: Target<JwtInput> = {
  name: 'jwt',
  about: 'authz/src/identity/jwt.ts: Authorization header, JOSE header, claims, signatures (local JWKS, fixed clock)',
  arbitrary,
  fromJson,
  check,
  dictionary: ['Bearer ', 'ES256', 'RS256', 'HS256', 'none', 'es-1', 'rs-1', 'alg', 'kid', 'typ', 'crit', 'b64', 'jwk', 'jku', 'iss', 'aud', 'exp', 'nbf', 'iat', 'sub', 'tenant', ISS, 'mem0-gov', 'acme', 'admin', 'realm_access', 'roles', '.', '='],
  async setup() {
    keys ??= setupKeys();
    const dir = keys.dir;
    return async () => rmSync(dir, { recursive: true, force: true });
  },
};

// The realm file imported into a real Keycloak (the same release as docker/compose.yaml, from
// .tools/keycloak), and its tokens verified by the service's own authenticator: what the
// structural test (realm.test.ts) assumes about Keycloak's behaviour is checked here for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../authz/src/identity/jwt.js';
import { loadJwtConfig } from '../../authz/src/identity/config.js';
import { ROOT, freePort, waitFor } from '../../testing/tools.js';

const KC_HOME = join(ROOT, '.tools', 'keycloak');
const REALM = join(ROOT, 'iam', 'keycloak', 'realm-mem0.json');
const adminPassword = randomBytes(16).toString('hex');

let dir: string;
let kc: ChildProcess | undefined;
let base: string;
let adminToken: string;

async function form(url: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body), redirect: 'manual' });
}
async function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}/admin/realms/mem0${path}`, { ...init, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
}
async function clientSecret(clientId: string): Promise<string> {
  const [client] = (await (await admin(`/clients?clientId=${clientId}`)).json()) as { id: string }[];
  return ((await (await admin(`/clients/${client!.id}/client-secret`)).json()) as { value: string }).value;
}
async function agentToken(clientId: string): Promise<string> {
  const secret = await clientSecret(clientId);
  const res = await form(`${base}/realms/mem0/protocol/openid-connect/token`, { grant_type: 'client_credentials' }, {
    authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}
async function userId(username: string): Promise<string> {
  return ((await (await admin(`/users?username=${username}&exact=true`)).json()) as { id: string }[])[0]!.id;
}
async function setPassword(username: string, password: string): Promise<void> {
  const id = await userId(username);
  expect((await admin(`/users/${id}`, { method: 'PUT', body: JSON.stringify({ requiredActions: [] }) })).status).toBe(204);
  expect((await admin(`/users/${id}/reset-password`, { method: 'PUT', body: JSON.stringify({ type: 'password', value: password, temporary: false }) })).status).toBe(204);
}

/** Minimal cookie jar for the browser login. */
class Browser {
  private cookies = new Map<string, string>();
  private store(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
  }
  private header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  async get(url: string): Promise<Response> {
    const res = await fetch(url, { headers: { cookie: this.header() }, redirect: 'manual' });
    this.store(res);
    return res;
  }
  async post(url: string, body: Record<string, string>): Promise<Response> {
    const res = await fetch(url, { method: 'POST', headers: { cookie: this.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body), redirect: 'manual' });
    this.store(res);
    return res;
  }
}

/** Authorization code + PKCE through the realm's browser flow; returns where Keycloak sends the user. */
async function browserLogin(username: string, password: string): Promise<{ location: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const { createHash } = await import('node:crypto');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const b = new Browser();
  const page = await (await b.get(`${base}/realms/mem0/protocol/openid-connect/auth?${new URLSearchParams({
    client_id: 'mem0-gov-cli', redirect_uri: 'http://127.0.0.1/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256',
  })}`)).text();
  const action = /action="([^"]+)"/.exec(page)![1]!.replaceAll('&amp;', '&');
  const res = await b.post(action, { username, password });
  return { location: res.headers.get('location') ?? `status ${res.status}`, verifier };
}

beforeAll(async () => {
  if (!existsSync(join(KC_HOME, 'bin', 'kc.sh'))) throw new Error(`${KC_HOME} missing: install Keycloak (see iam/README.md)`);
  // A private Keycloak home: own kc.sh (it finds its home from its own path) and data dir,
  // the distribution's jars shared read-only.
  dir = mkdtempSync(join(tmpdir(), 'mem0gov-kc-'));
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'data', 'import'), { recursive: true });
  copyFileSync(join(KC_HOME, 'bin', 'kc.sh'), join(dir, 'bin', 'kc.sh'));
  for (const d of ['lib', 'conf', 'providers', 'themes', 'version.txt']) symlinkSync(join(KC_HOME, d), join(dir, d));
  copyFileSync(REALM, join(dir, 'data', 'import', 'realm-mem0.json'));
  const [http, mgmt] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${http}`;
  kc = spawn('bash', [join(dir, 'bin', 'kc.sh'), 'start-dev', '--import-realm', '--db=dev-mem', `--http-port=${http}`, `--http-management-port=${mgmt}`,
    '--http-host=127.0.0.1', `--hostname=${base}`, '--health-enabled=true', '--cache=local'], {
    env: { ...process.env, KC_BOOTSTRAP_ADMIN_USERNAME: 'kcadmin', KC_BOOTSTRAP_ADMIN_PASSWORD: adminPassword, JAVA_OPTS_KC_HEAP: '-Xms128m -Xmx768m' },
    stdio: 'ignore',
  });
  await waitFor('keycloak ready', async () => (await fetch(`http://127.0.0.1:${mgmt}/health/ready`)).ok, 150_000, 500);
  const res = await form(`${base}/realms/master/protocol/openid-connect/token`, { grant_type: 'password', client_id: 'admin-cli', username: 'kcadmin', password: adminPassword });
  adminToken = ((await res.json()) as { access_token: string }).access_token;
}, 180_000);

afterAll(async () => {
  if (kc && kc.exitCode === null) {
    const exited = new Promise((r) => kc!.once('exit', r));
    kc.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('realm-mem0.json in a real Keycloak', () => {
  const authenticator = () => createAuthenticator(loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: `${base}/realms/mem0` }));

  it('issues agent tokens that the service accepts: tenant, role, agent = client id', async () => {
    const identity = await authenticator().authenticate(`Bearer ${await agentToken('agent-acme-support')}`);
    expect(identity.issuer).toBe(`${base}/realms/mem0`);
    expect(identity.tenant).toBe('acme');
    expect(identity.roles).toEqual(['agent-writer']);
    expect(identity.agent).toBe('agent-acme-support');
    const other = await authenticator().authenticate(`Bearer ${await agentToken('agent-globex-assistant')}`);
    expect(other.tenant).toBe('globex');
  });

  it('never lets an agent token carry admin, even when its service account is granted it', async () => {
    const sa = await userId('service-account-agent-acme-analytics');
    const role = await (await admin('/roles/admin')).json();
    expect((await admin(`/users/${sa}/role-mappings/realm`, { method: 'POST', body: JSON.stringify([role]) })).status).toBe(204);
    const identity = await authenticator().authenticate(`Bearer ${await agentToken('agent-acme-analytics')}`);
    expect(identity.roles).toEqual(['agent-reader']);
  });

  it('asks admins for OTP (enrolment first) and lets other users in with their password', async () => {
    const pw = `Pw-${randomBytes(12).toString('hex')}`;
    await setPassword('acme-admin', pw);
    expect((await browserLogin('acme-admin', pw)).location).toMatch(/required-action\?execution=CONFIGURE_TOTP/);
    await setPassword('acme-auditor', pw);
    expect((await browserLogin('acme-auditor', pw)).location).toMatch(/required-action\?execution=CONFIGURE_TOTP/);
    // A user holding neither role: no OTP step, straight back to the client with a code.
    const created = await admin('/users', { method: 'POST', body: JSON.stringify({ username: 'acme-reader', enabled: true, email: 'r@example.invalid', firstName: 'R', lastName: 'R', attributes: { tenant: ['acme'] } }) });
    expect(created.status).toBe(201);
    await setPassword('acme-reader', pw);
    const { location, verifier } = await browserLogin('acme-reader', pw);
    expect(location).toMatch(/^http:\/\/127\.0\.0\.1\/cb\?.*code=/);
    // The human token: tenant from the user attribute, a session id for idle/absolute limits.
    const code = new URL(location).searchParams.get('code')!;
    const tok = await form(`${base}/realms/mem0/protocol/openid-connect/token`, { grant_type: 'authorization_code', client_id: 'mem0-gov-cli', code, redirect_uri: 'http://127.0.0.1/cb', code_verifier: verifier });
    const identity = await authenticator().authenticate(`Bearer ${((await tok.json()) as { access_token: string }).access_token}`);
    expect(identity.tenant).toBe('acme');
    expect(identity.sessionId).toMatch(/\S/);
    expect(identity.agent).toBe('mem0-gov-cli');
  });

  it('refuses the password grant (it would skip the OTP step)', async () => {
    const res = await form(`${base}/realms/mem0/protocol/openid-connect/token`, { grant_type: 'password', client_id: 'mem0-gov-cli', username: 'acme-admin', password: 'x' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized_client');
  });

  it('locks an account after repeated wrong passwords (brute-force protection)', async () => {
    const pw = `Pw-${randomBytes(12).toString('hex')}`;
    await setPassword('acme-auditor', pw);
    // Rapid failures trip the quick-login check at once (temporary lockout); later attempts
    // are refused without being counted.
    for (let i = 0; i < 5; i++) await browserLogin('acme-auditor', 'wrong-password');
    const status = (await (await admin(`/attack-detection/brute-force/users/${await userId('acme-auditor')}`)).json()) as { disabled: boolean; numFailures: number };
    expect(status.numFailures).toBeGreaterThanOrEqual(1);
    expect(status.disabled).toBe(true);
    // The right password no longer gets past the form.
    expect((await browserLogin('acme-auditor', pw)).location).not.toMatch(/CONFIGURE_TOTP|code=/);
  });
});

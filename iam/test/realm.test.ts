// iam/keycloak/realm-mem0.json against what the service expects of its tokens: issuer path,
// roles the policy knows, claim names of the JWT config (realm_access.roles, tenant, azp, sid),
// audience, agent clients with service accounts, OTP for admin and auditor, no secrets.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadJwtConfig } from '../../authz/src/identity/config.js';
import { ROOT } from '../../testing/tools.js';

interface Mapper { name: string; protocolMapper: string; config: Record<string, string> }
interface Client {
  clientId: string; enabled: boolean; publicClient?: boolean; bearerOnly?: boolean; clientAuthenticatorType?: string;
  serviceAccountsEnabled?: boolean; standardFlowEnabled?: boolean; implicitFlowEnabled?: boolean; directAccessGrantsEnabled?: boolean;
  fullScopeAllowed?: boolean; protocolMappers?: Mapper[]; defaultClientScopes?: string[]; attributes?: Record<string, string>;
}
interface Execution { authenticator?: string; authenticatorFlow: boolean; requirement: string; priority: number; flowAlias?: string; authenticatorConfig?: string }
interface Flow { alias: string; topLevel: boolean; providerId: string; authenticationExecutions: Execution[] }
interface Role { name: string; composite?: boolean; composites?: { realm?: string[] } }
interface User { username: string; serviceAccountClientId?: string; attributes?: Record<string, string[]>; realmRoles?: string[]; credentials?: unknown[]; requiredActions?: string[] }
interface Realm {
  realm: string; enabled: boolean; browserFlow: string; bruteForceProtected: boolean; failureFactor: number; permanentLockout: boolean;
  accessTokenLifespan: number; ssoSessionIdleTimeout: number; ssoSessionMaxLifespan: number; sslRequired: string;
  registrationAllowed: boolean; eventsEnabled: boolean; adminEventsEnabled: boolean;
  roles: { realm: Role[] }; clients: Client[]; users: User[]; clientScopes?: unknown[];
  authenticationFlows: Flow[]; authenticatorConfig: { alias: string; config: Record<string, string> }[];
  scopeMappings: { client: string; roles: string[] }[];
  components: Record<string, { providerId: string; config: Record<string, string[]> }[]>;
}

const REALM_PATH = join(ROOT, 'iam', 'keycloak', 'realm-mem0.json');
const raw = readFileSync(REALM_PATH, 'utf8');
const realm = JSON.parse(raw) as Realm;
// The service's JWT settings with Keycloak defaults (nothing overridden but the issuer).
const jwt = loadJwtConfig({ MEM0_GOV_JWT_ISSUERS: `http://localhost:8080/realms/${realm.realm}` });

const clients = new Map(realm.clients.map((c) => [c.clientId, c]));
const agentClients = realm.clients.filter((c) => c.serviceAccountsEnabled === true);
// Clients that obtain tokens for mem0-gov: agents (client credentials) and the human CLI.
const tokenClients = realm.clients.filter((c) => c.serviceAccountsEnabled === true || c.standardFlowEnabled === true);
const roleNames = new Set(realm.roles.realm.map((r) => r.name));
const mappers = (c: Client, type: string): Mapper[] => (c.protocolMappers ?? []).filter((m) => m.protocolMapper === type);
const scopeOf = (clientId: string): string[] => realm.scopeMappings.find((s) => s.client === clientId)?.roles ?? [];

describe('realm mem0: issuer and roles', () => {
  it('is the realm of the issuer the stack configures (/realms/mem0)', () => {
    expect(realm.realm).toBe('mem0');
    expect(realm.enabled).toBe(true);
    const compose = parse(readFileSync(join(ROOT, 'docker', 'compose.yaml'), 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> };
    const issuers = compose.services.authz!.environment!.MEM0_GOV_JWT_ISSUERS!;
    expect(new URL(issuers).pathname).toBe(`/realms/${realm.realm}`);
  });

  it('defines the DESIGN roles and a role for the phi permission', () => {
    for (const r of ['admin', 'agent-writer', 'agent-reader', 'auditor', 'phi-reader', 'platform-admin', 'platform-auditor']) expect(roleNames.has(r), r).toBe(true);
  });

  it('defines every role the policy data grants permissions to', () => {
    const data = JSON.parse(readFileSync(join(ROOT, 'policies', 'data.json'), 'utf8')) as { mem0gov: { roles: Record<string, string[]> } };
    for (const r of Object.keys(data.mem0gov.roles)) expect(roleNames.has(r), r).toBe(true);
  });
});

describe('realm mem0: token claims the service reads', () => {
  it('roles arrive in realm_access.roles: Keycloak\'s built-in `roles` scope, not replaced', () => {
    expect(jwt.claims.realmRoles).toBe('realm_access.roles');
    // A realm file with its own clientScopes would replace Keycloak's default `roles` scope.
    expect(realm.clientScopes).toBeUndefined();
    for (const c of tokenClients) expect(c.defaultClientScopes, c.clientId).toContain('roles');
  });

  it('every token-issuing client adds the mem0-gov audience to access tokens', () => {
    expect(jwt.audience).toEqual(['mem0-gov']);
    expect(clients.get('mem0-gov')?.bearerOnly).toBe(true);
    for (const c of tokenClients) {
      const aud = mappers(c, 'oidc-audience-mapper');
      expect(aud, c.clientId).toHaveLength(1);
      expect(aud[0]!.config['included.custom.audience']).toBe(jwt.audience[0]);
      expect(aud[0]!.config['access.token.claim']).toBe('true');
    }
  });

  it('every token-issuing client puts the tenant into the claim the service reads', () => {
    expect(jwt.claims.tenant).toBe('tenant');
    for (const c of tokenClients) {
      const tenantMappers = (c.protocolMappers ?? []).filter((m) => m.config['claim.name'] === jwt.claims.tenant);
      expect(tenantMappers, c.clientId).toHaveLength(1);
      expect(tenantMappers[0]!.config['access.token.claim']).toBe('true');
    }
    // Humans: from the user attribute (oidc-usermodel-attribute-mapper).
    const cli = clients.get('mem0-gov-cli')!;
    expect(mappers(cli, 'oidc-usermodel-attribute-mapper')[0]?.config['user.attribute']).toBe('tenant');
  });

  it('only administrators can change a user\'s tenant (declarative user profile)', () => {
    const up = realm.components['org.keycloak.userprofile.UserProfileProvider']![0]!;
    const profile = JSON.parse(up.config['kc.user.profile.config']![0]!) as { attributes: { name: string; permissions: { edit: string[] }; validations: Record<string, { pattern?: string }> }[] };
    const tenant = profile.attributes.find((a) => a.name === 'tenant')!;
    expect(tenant.permissions.edit).toEqual(['admin']);
    const re = new RegExp(tenant.validations.pattern!.pattern!);
    expect(re.test('acme')).toBe(true);
    expect(re.test('acme:evil')).toBe(false); // ':' separates tenant from local id in entity ids
  });

  it('agents are confidential clients with a service account, tenant-bound, azp = client id', () => {
    expect(jwt.claims.agent).toBe('azp');
    expect(agentClients.length).toBeGreaterThanOrEqual(2);
    expect(agentClients.map((c) => c.clientId)).toContain('agent-acme-support');
    for (const c of agentClients) {
      expect(c.clientId, 'azp carries the client id: agent-<tenant>-<name>').toMatch(/^agent-[a-z0-9]+-[a-z0-9-]+$/);
      expect(c.publicClient).toBe(false);
      expect(c.clientAuthenticatorType).toBe('client-secret');
      expect(c.standardFlowEnabled).toBe(false);
      expect(c.implicitFlowEnabled).toBe(false);
      expect(c.directAccessGrantsEnabled).toBe(false);
      const hard = mappers(c, 'oidc-hardcoded-claim-mapper').find((m) => m.config['claim.name'] === 'tenant');
      const tenant = hard?.config['claim.value'];
      expect(c.clientId.startsWith(`agent-${tenant}-`), c.clientId).toBe(true);
      const sa = realm.users.find((u) => u.serviceAccountClientId === c.clientId);
      expect(sa?.username).toBe(`service-account-${c.clientId}`);
      expect(sa?.attributes?.tenant).toEqual([tenant]);
      expect(sa?.realmRoles?.some((r) => r === 'agent-writer' || r === 'agent-reader'), c.clientId).toBe(true);
    }
  });

  it('agent tokens can never carry admin or auditor (scope mappings, no full scope)', () => {
    for (const c of agentClients) {
      expect(c.fullScopeAllowed, c.clientId).toBe(false);
      const scope = scopeOf(c.clientId);
      expect(scope.length).toBeGreaterThan(0);
      expect(scope).not.toContain('admin');
      expect(scope).not.toContain('auditor');
      expect(scope).not.toContain('platform-admin');
      expect(scope).not.toContain('platform-auditor');
    }
    const cli = clients.get('mem0-gov-cli')!;
    expect(cli.fullScopeAllowed).toBe(false);
    expect(scopeOf('mem0-gov-cli')).toEqual(expect.arrayContaining(['admin', 'auditor', 'agent-reader', 'agent-writer', 'phi-reader']));
  });

  it('keeps sid and the standard claims: no lightweight access tokens', () => {
    expect(jwt.claims.session).toBe('sid');
    for (const c of tokenClients) expect(c.attributes?.['client.use.lightweight.access.token.enabled'], c.clientId).not.toBe('true');
  });
});

describe('realm mem0: authentication', () => {
  const flows = new Map(realm.authenticationFlows.map((f) => [f.alias, f]));
  const configs = new Map(realm.authenticatorConfig.map((c) => [c.alias, c.config]));

  /** Every (execution, parent flow) reachable from a flow. */
  function walk(alias: string): { exec: Execution; flow: Flow }[] {
    const flow = flows.get(alias);
    if (!flow) throw new Error(`flow ${alias} missing`);
    return flow.authenticationExecutions.flatMap((e) => [{ exec: e, flow }, ...(e.authenticatorFlow ? walk(e.flowAlias!) : [])]);
  }

  it('binds a custom browser flow that asks OTP of admin and auditor holders', () => {
    const top = flows.get(realm.browserFlow)!;
    expect(top.topLevel).toBe(true);
    const all = walk(realm.browserFlow);
    // The conditional subflow: condition-user-role + OTP form, both REQUIRED.
    const cond = all.find(({ exec }) => exec.authenticator === 'conditional-user-role')!;
    expect(cond).toBeDefined();
    const sub = cond.flow;
    expect(sub.authenticationExecutions.map((e) => [e.authenticator, e.requirement])).toEqual([
      ['conditional-user-role', 'REQUIRED'],
      ['auth-otp-form', 'REQUIRED'],
    ]);
    const parent = all.find(({ exec }) => exec.flowAlias === sub.alias)!;
    expect(parent.exec.requirement).toBe('CONDITIONAL');
    // ... after the password form in the same parent.
    const pw = parent.flow.authenticationExecutions.find((e) => e.authenticator === 'auth-username-password-form');
    expect(pw?.requirement).toBe('REQUIRED');
    expect(pw!.priority).toBeLessThan(parent.exec.priority);
    // The condition's role is held (directly or as a composite) by admin and auditor.
    const cfg = configs.get(cond.exec.authenticatorConfig!)!;
    expect(cfg.negate).toBe('false');
    const holds = (roleName: string): boolean => {
      const role = realm.roles.realm.find((r) => r.name === roleName)!;
      return roleName === cfg.condUserRole || (role.composites?.realm ?? []).includes(cfg.condUserRole!);
    };
    expect(holds('admin')).toBe(true);
    expect(holds('auditor')).toBe(true);
    expect(holds('platform-admin')).toBe(true);
    expect(holds('platform-auditor')).toBe(true);
    expect(holds('agent-writer')).toBe(false);
  });

  it('leaves no way around the browser flow: no password grant, no implicit flow', () => {
    for (const c of realm.clients) {
      expect(c.directAccessGrantsEnabled, c.clientId).toBe(false);
      expect(c.implicitFlowEnabled, c.clientId).toBe(false);
    }
    const cli = clients.get('mem0-gov-cli')!;
    expect(cli.publicClient).toBe(true);
    expect(cli.attributes?.['pkce.code.challenge.method']).toBe('S256');
  });

  it('protects against brute force and keeps tokens and sessions short', () => {
    expect(realm.bruteForceProtected).toBe(true);
    expect(realm.failureFactor).toBeLessThanOrEqual(10);
    expect(realm.accessTokenLifespan).toBeLessThanOrEqual(300);
    expect(realm.ssoSessionIdleTimeout).toBeLessThanOrEqual(900); // HIPAA automatic logoff
    expect(realm.ssoSessionMaxLifespan).toBeLessThanOrEqual(8 * 3600);
    expect(realm.registrationAllowed).toBe(false);
    expect(realm.sslRequired).not.toBe('none');
    expect(realm.eventsEnabled && realm.adminEventsEnabled).toBe(true);
  });

  it('human admins and auditors must enrol OTP at first login', () => {
    const humans = realm.users.filter((u) => u.serviceAccountClientId === undefined && (u.realmRoles ?? []).some((r) => r === 'admin' || r === 'auditor'));
    expect(humans.length).toBeGreaterThan(0);
    for (const u of humans) expect(u.requiredActions, u.username).toContain('CONFIGURE_TOTP');
  });
});

describe('realm mem0: no secrets', () => {
  it('has no client secret, credential, key or certificate', () => {
    for (const c of realm.clients) expect(c, c.clientId).not.toHaveProperty('secret');
    for (const u of realm.users) expect(u, u.username).not.toHaveProperty('credentials');
    expect(raw).not.toMatch(/"(secret|privateKey|certificate|password|value)"\s*:/i);
    expect(raw).not.toMatch(/-----BEGIN/);
    expect(Object.keys(realm.components)).toEqual(['org.keycloak.userprofile.UserProfileProvider']);
    // Nothing that looks like a generated token (long mixed alphanumerics).
    const tokens = raw.match(/[A-Za-z0-9+/=]{24,}/g) ?? [];
    expect(tokens.filter((t) => /\d/.test(t) && /[a-z]/.test(t) && /[A-Z]/.test(t))).toEqual([]);
  });
});

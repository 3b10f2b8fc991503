// SOC 2 CC6.2 register and authorise users before issuing credentials: identities exist only in
// the IdP realm, created by an admin — no self-registration — and each agent client is bound to
// one tenant by a hard-coded claim it cannot choose. (The live service refusing tokens from any
// other issuer is asserted in iso27001-a.8.5-secure-authentication.test.ts.)
import { describe, expect, it } from 'vitest';
import { agentClients, loadRealm } from './realm.js';

const realm = loadRealm();

describe('CC6.2 registration before credentials', () => {
  it('nobody can register themselves or reset into an account', () => {
    expect(realm.registrationAllowed).toBe(false);
    expect(realm.resetPasswordAllowed).toBe(false);
  });

  it('every agent client carries a fixed tenant claim and only agent roles', () => {
    const agents = agentClients(realm);
    expect(agents.length).toBeGreaterThan(0);
    for (const a of agents) {
      const tenant = a.protocolMappers?.find((m) => m.config['claim.name'] === 'tenant');
      expect(tenant?.protocolMapper, a.clientId).toBe('oidc-hardcoded-claim-mapper');
      expect(tenant?.config['claim.value'], a.clientId).toMatch(/^[a-z0-9-]+$/);
      expect(a.publicClient, a.clientId).toBe(false);
      expect(a.fullScopeAllowed, a.clientId).toBe(false);
      const scope = realm.scopeMappings.find((s) => s.client === a.clientId)?.roles ?? [];
      expect(scope.filter((r) => r === 'admin' || r === 'auditor'), a.clientId).toEqual([]);
    }
  });
});

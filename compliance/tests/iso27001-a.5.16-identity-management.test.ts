// ISO/IEC 27001:2022 A.5.16 identity management: one identity per agent (its own client and
// service account, `azp`) and per human (a Keycloak user, `sub`); no shared agent identity.
// That the running service records these identities per decision is asserted in
// hipaa-164.312-a-2-i-unique-user-identification.test.ts.
import { describe, expect, it } from 'vitest';
import { agentClients, loadRealm } from './realm.js';

const realm = loadRealm();

describe('A.5.16 identity management', () => {
  it('each agent client has exactly one service-account user of its own', () => {
    const agents = agentClients(realm);
    expect(agents.length).toBeGreaterThan(0);
    for (const a of agents) {
      expect(realm.users.filter((u) => u.serviceAccountClientId === a.clientId), a.clientId).toHaveLength(1);
    }
  });

  it('client ids and usernames are unique', () => {
    const ids = realm.clients.map((c) => c.clientId);
    const users = realm.users.map((u) => u.username);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(users).size).toBe(users.length);
  });
});

// The Keycloak realm file, typed as far as the compliance suites read it.
import { repoFile } from './helpers.js';

export interface RealmClient {
  clientId: string;
  secret?: string;
  publicClient?: boolean;
  serviceAccountsEnabled?: boolean;
  fullScopeAllowed?: boolean;
  protocolMappers?: Array<{ name: string; protocolMapper: string; config: Record<string, string> }>;
}

export interface Realm {
  registrationAllowed: boolean;
  resetPasswordAllowed: boolean;
  browserFlow: string;
  accessTokenLifespan: number;
  bruteForceProtected: boolean;
  roles: { realm: Array<{ name: string; composites?: { realm?: string[] } }> };
  clients: RealmClient[];
  users: Array<{ username: string; serviceAccountClientId?: string; realmRoles?: string[] }>;
  scopeMappings: Array<{ client: string; roles: string[] }>;
  authenticatorConfig: Array<{ alias: string; config: Record<string, string> }>;
  authenticationFlows: Array<{ alias: string; authenticationExecutions: Array<{ authenticator?: string; flowAlias?: string; requirement: string }> }>;
}

export function loadRealm(): Realm {
  return JSON.parse(repoFile('iam/keycloak/realm-mem0.json')) as Realm;
}

/** Agent clients: confidential clients that authenticate as their own service account. */
export function agentClients(realm: Realm): RealmClient[] {
  return realm.clients.filter((c) => c.serviceAccountsEnabled === true);
}

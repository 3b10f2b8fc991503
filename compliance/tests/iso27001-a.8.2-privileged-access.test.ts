// ISO/IEC 27001:2022 A.8.2 privileged access rights: elevation is explicit, bounded and expires.
// A break-glass grant adds the admin role to a non-admin for its TTL only; the TTL is capped.
import { describe, expect, it } from 'vitest';
import { run as breakglass } from '../../authz/src/cli/breakglass.js';
import { useStack } from './helpers.js';
import { loadRealm } from './realm.js';

const c = useStack({ env: { MEM0_GOV_BREAKGLASS_MAX_TTL: '1h' } });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const grant = (ttl: string) => c.cli(breakglass, ['grant', '--tenant', 'acme', '--sub', 'carol', '--role', 'admin', '--ttl', ttl, '--justification', 'INC-77 delete leaked data']);

describe('A.8.2 privileged access rights', () => {
  it('a writer cannot delete; with a 2 s grant it can, and after expiry it cannot again', async () => {
    const m1 = c.stack.mem0!.seed({ memory: 'a', user_id: 'acme:x' });
    const m2 = c.stack.mem0!.seed({ memory: 'b', user_id: 'acme:x' });
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'carol' });
    expect((await c.req({ method: 'DELETE', path: `/memories/${m1.id}`, token })).status).toBe(403);
    const g = await grant('2s');
    expect(g.code, g.err).toBe(0);
    const elevated = await c.req({ method: 'DELETE', path: `/memories/${m1.id}`, token });
    expect(elevated.status).toBe(200);
    expect((await c.auditRow(elevated)).break_glass).toBe(true);
    await sleep(2300);
    expect((await c.req({ method: 'DELETE', path: `/memories/${m2.id}`, token })).status).toBe(403);
  });

  it('a grant longer than the configured maximum is refused and nothing is granted', async () => {
    const r = await grant('2h');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/exceeds the maximum/);
  });

  it('realm: admin and auditor need a second factor (OTP) at login', () => {
    const realm = loadRealm();
    const marker = realm.authenticatorConfig.find((a) => a.config.condUserRole !== undefined)!.config.condUserRole;
    for (const role of ['admin', 'auditor']) {
      expect(realm.roles.realm.find((r) => r.name === role)?.composites?.realm, role).toContain(marker);
    }
    const otpFlow = realm.authenticationFlows.find((f) => f.authenticationExecutions.some((e) => e.authenticator === 'conditional-user-role'))!;
    expect(otpFlow.authenticationExecutions.map((e) => [e.authenticator, e.requirement])).toEqual([['conditional-user-role', 'REQUIRED'], ['auth-otp-form', 'REQUIRED']]);
    // …and that conditional sub-flow is part of the realm's browser login flow.
    const browser = realm.authenticationFlows.filter((f) => f.alias.startsWith(realm.browserFlow));
    expect(browser.some((f) => f.authenticationExecutions.some((e) => e.flowAlias === otpFlow.alias && e.requirement === 'CONDITIONAL'))).toBe(true);
  });
});

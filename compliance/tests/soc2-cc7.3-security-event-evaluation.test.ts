// SOC 2 CC7.3 evaluate security events: decisions carry stable reason codes, and an auditor can
// export one tenant's events for a period and get the evidence pack's decision summary.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as audit } from '../../authz/src/cli/audit.js';
import { run as evidence } from '../../authz/src/cli/evidence.js';
import { useStack } from './helpers.js';

const c = useStack();

describe('CC7.3 security event evaluation', () => {
  it('an export by tenant holds that tenant\'s decisions with their reason codes, and no other tenant', async () => {
    const acme = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    const globex = await c.stack.token({ tenant: 'globex', roles: ['agent-reader'], sub: 'gina' });
    const since = new Date(Date.now() - 60_000).toISOString();
    expect((await c.req({ path: '/memories?user_id=acme:alice', token: acme })).status).toBe(200);
    expect((await c.req({ path: '/memories?user_id=globex:x', token: acme })).status).toBe(403);
    expect((await c.req({ path: '/memories?user_id=globex:gina', token: globex })).status).toBe(200);
    const out = mkdtempSync(join(tmpdir(), 'cc73-'));
    const r = await c.cli(audit, ['export', '--since', since, '--until', new Date(Date.now() + 60_000).toISOString(), '--tenant', 'acme', '--format', 'jsonl', '--out', out]);
    expect(r.code, r.err).toBe(0);
    const file = readdirSync(out).find((f) => f.endsWith('.jsonl'))!;
    const rows = readFileSync(join(out, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tenant: string; decision: string; reasons: string[]; actor_sub: string });
    expect(new Set(rows.map((x) => x.tenant))).toEqual(new Set(['acme']));
    expect(rows.map((x) => [x.actor_sub, x.decision, x.reasons[0]])).toEqual(expect.arrayContaining([['alice', 'allow', expect.any(String)], ['alice', 'deny', 'cross_tenant']]));
  });

  it('the evidence pack summarises decisions by tenant, decision and reason', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cc73-ev-')), 'pack');
    const r = await c.cli(evidence, ['--out', out]);
    expect(r.code, r.err).toBe(0);
    const csv = readFileSync(join(out, 'decisions-by-tenant.csv'), 'utf8');
    expect(csv).toMatch(/^acme,deny,cross_tenant,1$/m);
    expect(csv).toMatch(/^globex,allow,/m);
  });
});

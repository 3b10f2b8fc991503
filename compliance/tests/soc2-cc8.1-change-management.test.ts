// SOC 2 CC8.1 authorise, test and approve changes: a policy change is identified by its revision
// in every later audit row, a broken change is rejected and the last good policy keeps deciding,
// and run-time configuration changes (limits) are themselves audited with who/what/previous value.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as limits } from '../../authz/src/cli/limits.js';
import { waitFor } from '../../testing/tools.js';
import { repoFile, sample, useStack } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cc81-'));
const dataFile = join(dir, 'data.json');
const baseData = JSON.parse(repoFile('policies/data.json')) as { mem0gov: { tenants: Record<string, unknown> } };
writeFileSync(dataFile, JSON.stringify(baseData));
const c = useStack({ env: { MEM0_GOV_POLICY_DATA: dataFile } });

/** Replaces the data file the way a deploy does (rename, never a half-written file). */
function deploy(content: string): void {
  const tmp = join(dir, 'data.json.new');
  writeFileSync(tmp, content);
  renameSync(tmp, dataFile);
}
const revisionOf = (metrics: string): string | undefined => /mem0gov_policy_revision_info\{revision="([^"]+)"\} 1/.exec(metrics)?.[1];
const write = (token: string) => c.req({ method: 'POST', path: '/memories', token, body: { user_id: 'acme:alice', messages: [{ role: 'user', content: 'x' }] } });

describe('CC8.1 change management', () => {
  let first = '';
  let second = '';

  it('every decision records the policy revision that made it', async () => {
    first = revisionOf(await c.metrics())!;
    expect(first).toMatch(/^[0-9a-f]{12,}/);
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const ok = await write(token);
    const denied = await c.req({ path: '/memories?user_id=globex:x', token });
    expect((await c.auditRow(ok)).policy_revision).toBe(first);
    expect((await c.auditRow(denied)).policy_revision).toBe(first);
  });

  it('a deployed policy data change takes effect under a new revision, visible in the audit rows', async () => {
    deploy(JSON.stringify({ mem0gov: { ...baseData.mem0gov, tenants: { acme: { denied_actions: ['write', 'delete', 'bulk_delete', 'admin'] } } } }));
    await waitFor('new policy revision', async () => revisionOf(await c.metrics()) !== first, 10_000, 50);
    second = revisionOf(await c.metrics())!;
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const w = await write(token);
    expect(w.status).toBe(403);
    expect(await c.auditRow(w)).toMatchObject({ policy_revision: second, reasons: ['action_denied_for_tenant'] });
    expect((await c.req({ path: '/memories?user_id=acme:alice', token })).status).toBe(200);
  });

  it('a broken change is rejected: the last good revision keeps deciding', async () => {
    const rejectedBefore = sample(await c.metrics(), 'mem0gov_policy_reloads_total', { result: 'error' });
    deploy(JSON.stringify({ mem0gov: { ...baseData.mem0gov, tenants: { acme: { denied_actions: 'writes' } } } }));
    await waitFor('reload rejected', async () => sample(await c.metrics(), 'mem0gov_policy_reloads_total', { result: 'error' }) > rejectedBefore, 10_000, 50);
    expect(revisionOf(await c.metrics())).toBe(second);
    const w = await write(await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] }));
    expect(await c.auditRow(w)).toMatchObject({ policy_revision: second, decision: 'deny' });
  });

  it('a limit change by the CLI is audited with operator, target and previous value before it applies', async () => {
    expect((await c.cli(limits, ['set', 'tenant:acme', '600/m'], 'ops-ann')).code).toBe(0);
    expect((await c.cli(limits, ['set', 'tenant:acme', '300/m'], 'ops-ann')).code).toBe(0);
    const rows = await c.sql<{ actor_sub: string; path: string; reasons: string[] }>("SELECT actor_sub, path, reasons FROM audit.events WHERE route = 'cli.limits.set' ORDER BY seq");
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ actor_sub: 'ops-ann', path: 'tenant:acme' });
    expect(rows[1]!.reasons).toEqual(expect.arrayContaining(['detail:rate=300/m', 'detail:previous=600/m']));
  });
});

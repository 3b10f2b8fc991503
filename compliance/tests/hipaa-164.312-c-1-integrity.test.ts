// HIPAA 164.312(c)(1) integrity: ePHI is protected from improper alteration or destruction —
// writes and deletes need the permission in the caller's own tenant, bulk delete is admin-only —
// and the record of what happened cannot be altered unnoticed: a superuser who bypasses the
// append-only triggers is caught by `mem0-gov audit verify`, which names the row.
import { describe, expect, it } from 'vitest';
import { run as audit } from '../../authz/src/cli/audit.js';
import { useStack } from './helpers.js';

const c = useStack();

describe('164.312(c)(1) integrity', () => {
  it('a reader cannot alter or delete; a writer cannot delete; nothing reaches Mem0', async () => {
    const m = c.stack.mem0!.seed({ memory: 'allergy: penicillin', user_id: 'acme:pat' });
    const reader = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    const writer = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'] });
    const put = await c.req({ method: 'PUT', path: `/memories/${m.id}`, token: reader, body: { text: 'allergy: none' } });
    const del = await c.req({ method: 'DELETE', path: `/memories/${m.id}`, token: writer });
    const bulk = await c.req({ method: 'DELETE', path: `/memories?ids=${m.id}`, token: writer });
    // Mem0 has no per-id bulk delete: `ids` would be ignored and every memory of the entity
    // deleted, so the request is refused before any role is even considered.
    expect([put.status, del.status, bulk.status]).toEqual([403, 403, 400]);
    expect(bulk.json()).toMatchObject({ reason: 'unsupported_parameter' });
    expect(c.stack.mem0!.memories().find((x) => x.id === m.id)?.memory).toBe('allergy: penicillin');
  });

  it('another tenant\'s memory cannot be altered or deleted, even by its admin', async () => {
    const m = c.stack.mem0!.seed({ memory: 'globex record', user_id: 'globex:bob' });
    const admin = await c.stack.token({ tenant: 'acme', roles: ['admin'] });
    const put = await c.req({ method: 'PUT', path: `/memories/${m.id}`, token: admin, body: { text: 'overwritten' } });
    const del = await c.req({ method: 'DELETE', path: `/memories/${m.id}`, token: admin });
    // A foreign memory is indistinguishable from a missing one for the caller (no existence
    // leak); the audit row records the real reason.
    expect([put.status, del.status]).toEqual([404, 404]);
    expect(del.json()).toMatchObject({ error: 'deny', reason: 'memory_not_found' });
    expect((await c.auditRow(del)).reasons).toContain('memory_cross_tenant');
    expect(c.stack.mem0!.memories().find((x) => x.id === m.id)?.memory).toBe('globex record');
  });

  it('audit verify passes on the untouched chain and names the row a superuser altered', async () => {
    const ok = await c.cli(audit, ['verify']);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^ok chain=stack-/m);

    const [row] = await c.sql<{ chain_id: string; seq: string; event_id: string }>(
      "SELECT chain_id, seq, event_id FROM audit.events WHERE decision = 'deny' AND chain_id LIKE 'stack-%' ORDER BY seq LIMIT 1");
    expect(row).toBeDefined();
    // The attacker: superuser, triggers bypassed, turns a denial into an allow.
    await c.sql('SET session_replication_role = replica');
    await c.sql("UPDATE audit.events SET decision = 'allow', reasons = '{policy_allow}', status = 200 WHERE chain_id = $1 AND seq = $2", [row!.chain_id, row!.seq]);
    await c.sql('SET session_replication_role = DEFAULT');

    // --full: a routine run starts after the last signed checkpoint it verified and would not read this row again.
    const bad = await c.cli(audit, ['verify', '--full']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain(row!.chain_id);
    expect(bad.err).toMatch(new RegExp(`seq[= ]${row!.seq}\\b`));
    expect(bad.err).toContain(row!.event_id);
  });
});

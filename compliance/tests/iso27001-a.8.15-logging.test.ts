// ISO/IEC 27001:2022 A.8.15 logging: one hash-chained row per decision and per admin action,
// append-only in the database for every role short of a trigger-bypassing superuser, and signed
// checkpoints over the head. The chain is recomputed here from audit/README.md's rule.
import { describe, expect, it } from 'vitest';
import { run as audit } from '../../authz/src/cli/audit.js';
import { run as tenant } from '../../authz/src/cli/tenant.js';
import { expectedHash, GENESIS, type StoredRow } from './audit-spec.js';
import { useStack } from './helpers.js';

const c = useStack();

describe('A.8.15 logging', () => {
  it('the service chain links every row to the one before, with the documented hash', async () => {
    const token = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] });
    for (const path of ['/memories?user_id=acme:a', '/memories?user_id=globex:b', '/admin']) await c.req({ path, token });
    const rows = await c.sql<StoredRow>("SELECT * FROM audit.events WHERE chain_id LIKE 'stack-%' ORDER BY seq");
    expect(rows.length).toBeGreaterThanOrEqual(3);
    let prev = GENESIS;
    rows.forEach((row, i) => {
      expect(Number(row.seq), 'no gaps').toBe(i + 1);
      expect(row.prev_hash, `seq ${row.seq}`).toBe(prev);
      expect(row.hash, `seq ${row.seq}`).toBe(expectedHash(row));
      prev = row.hash;
    });
  });

  it('admin actions are logged in their own chain, with the operator as actor', async () => {
    expect((await c.cli(tenant, ['suspend', 'acme', '--reason', 'drill'], 'ops-ann')).code).toBe(0);
    const [row] = await c.sql<StoredRow>("SELECT * FROM audit.events WHERE route = 'cli.tenant.suspend'");
    expect(row).toMatchObject({ actor_sub: 'ops-ann', tenant: 'acme', method: 'CLI', chain_id: expect.stringMatching(/^admin:/) });
    expect(row!.hash).toBe(expectedHash(row!));
  });

  it('even the table owner cannot update, delete or truncate audit rows', async () => {
    for (const sql of ["UPDATE audit.events SET decision = 'allow'", 'DELETE FROM audit.events', 'TRUNCATE audit.events']) {
      await expect(c.sql(sql), sql).rejects.toThrow(/append-only/);
    }
  });

  it('a signed checkpoint is written over the verified head', async () => {
    const r = await c.cli(audit, ['checkpoint']);
    expect(r.code, r.err).toBe(0);
    const cps = await c.sql<{ chain_id: string; seq: string; hash: string }>('SELECT chain_id, seq, hash FROM audit.checkpoints');
    const heads = await c.sql<{ chain_id: string; seq: string; hash: string }>('SELECT DISTINCT ON (chain_id) chain_id, seq, hash FROM audit.events ORDER BY chain_id, seq DESC');
    for (const h of heads) expect(cps, h.chain_id).toContainEqual(expect.objectContaining({ chain_id: h.chain_id, hash: h.hash }));
  });
});

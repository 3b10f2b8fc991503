// `mem0-gov evidence` against a real stack: the pack an auditor receives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startStack } from '../../../../testing/stack.js';
import type { Stack } from '../../../../testing/stack.js';
import { call } from '../../../../testing/https.js';
import { run } from '../../../src/cli/evidence.js';
import { recordAdminAction } from '../../../src/audit/admin.js';
import type { CliContext } from '../../../src/cli/context.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  const writer = await stack.token({ tenant: 'acme', roles: ['agent-writer'] });
  const reader = await stack.token({ tenant: 'globex', roles: ['agent-reader'] });
  const r = (o: Parameters<typeof call>[2]) => call(stack.envoy.baseUrl, stack.envoy.caFile, o);
  await r({ method: 'POST', path: '/memories', token: writer, body: { user_id: 'acme:a', messages: [{ role: 'user', content: 'x' }] } });
  await r({ method: 'GET', path: '/memories?user_id=acme:a', token: reader });
  await r({ method: 'GET', path: '/memories?user_id=acme:a' });
});
afterAll(async () => {
  await stack?.stop();
});

function ctx(extra: Record<string, string> = {}): CliContext & { lines: string[] } {
  const lines: string[] = [];
  const env = { ...stack.env, MEM0_GOV_PG_PASSWORD: 'hunter2-should-not-appear', ...extra };
  return { env, lines, out: (l) => lines.push(l), err: (l) => lines.push(l), actor: 'auditor-test', recordAdmin: (a) => recordAdminAction(env, { ...a, actor: 'auditor-test' }) };
}

describe('mem0-gov evidence', () => {
  it('writes a self-describing pack: chain verification, decisions, role matrix, config without secrets', async () => {
    const out = mkdtempSync(join(tmpdir(), 'evidence-'));
    expect(await run(['--out', out], ctx())).toBe(0);
    const read = (f: string) => readFileSync(join(out, f), 'utf8');
    const chain = JSON.parse(read('chain-verification.json'));
    expect(chain.result).toBe('valid');
    expect(chain.chains.length).toBeGreaterThanOrEqual(1);
    expect(chain.checkpoint_public_keys.length).toBe(1);
    const csv = read('decisions-by-tenant.csv');
    expect(csv).toContain('acme,allow,allowed,1');
    expect(csv).toContain('globex,deny,cross_tenant,1');
    expect(csv).toContain(',unauthenticated,token_missing,1');
    const matrix = JSON.parse(read('role-matrix.json'));
    expect(matrix.roles['agent-reader']).toMatchObject({ read: true, write: false });
    expect(matrix.roles.admin).toMatchObject({ read: true, write: true, delete: true, bulk_delete: true, admin: true });
    const config = read('config.json');
    expect(config).not.toContain('hunter2');
    expect(JSON.parse(config).env.MEM0_GOV_PG_PASSWORD).toBe('[set]');
    expect(JSON.parse(read('policy.json')).revision).toMatch(/^[0-9a-f]{64}$/);
    const admin = JSON.parse(read('admin-actions.json'));
    expect(admin.some((a: { route: string }) => a.route === 'cli.evidence')).toBe(true);
    const manifest = JSON.parse(read('manifest.json'));
    for (const f of manifest.files as { name: string; sha256: string }[]) {
      expect(createHash('sha256').update(readFileSync(join(out, f.name))).digest('hex')).toBe(f.sha256);
    }
    expect(manifest.files.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(['chain-verification.json', 'checkpoints.json', 'role-matrix.json', 'decisions-by-tenant.csv', 'config.json', 'policy.json']));
  });

  it('connects as the schema owner with MEM0_GOV_PG_ADMIN_PASSWORD(_FILE) applied', async () => {
    // An owner role PostgreSQL asks a password of (scram), whatever the trust the stack gives others.
    const su = new pg.Client(stack.pgOwnerUrl);
    await su.connect();
    try {
      await su.query("CREATE ROLE evidence_owner LOGIN PASSWORD 'ev1dence-Pw'");
      await su.query('GRANT USAGE ON SCHEMA audit TO evidence_owner');
      await su.query('GRANT SELECT ON ALL TABLES IN SCHEMA audit TO evidence_owner');
      const hba = join(stack.pg.dataDir, 'pg_hba.conf');
      writeFileSync(hba, `host all evidence_owner 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
      await su.query('SELECT pg_reload_conf()');
    } finally {
      await su.end();
    }
    const dir = mkdtempSync(join(tmpdir(), 'evidence-pw-'));
    const pwFile = join(dir, 'owner-password');
    appendFileSync(pwFile, 'ev1dence-Pw\n', { mode: 0o600 });
    const ownerUrl = `postgres://evidence_owner@127.0.0.1:${stack.pg.port}/mem0gov`;
    const ok = ctx({ MEM0_GOV_PG_ADMIN_URL: ownerUrl, MEM0_GOV_PG_ADMIN_PASSWORD_FILE: pwFile });
    expect(await run(['--out', join(dir, 'pack')], ok), ok.lines.join('\n')).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'pack', 'chain-verification.json'), 'utf8')).result).toBe('valid');
    expect(readFileSync(join(dir, 'pack', 'config.json'), 'utf8')).not.toContain('ev1dence-Pw');
    // Without it, PostgreSQL refuses the owner: the password really is what got it in.
    const without = ctx({ MEM0_GOV_PG_ADMIN_URL: ownerUrl });
    expect(await run(['--out', join(dir, 'pack-2')], without)).toBe(1);
    expect(without.lines.join('\n')).toMatch(/password/);
  });

  it('reports a broken chain and exits non-zero', async () => {
    const db = new pg.Client(stack.pgOwnerUrl);
    await db.connect();
    await db.query('ALTER TABLE audit.events DISABLE TRIGGER USER');
    await db.query("UPDATE audit.events SET decision = 'allow' WHERE decision = 'deny'");
    await db.query('ALTER TABLE audit.events ENABLE TRIGGER USER');
    await db.end();
    const out = mkdtempSync(join(tmpdir(), 'evidence-'));
    const c = ctx();
    expect(await run(['--out', out], c)).toBe(1);
    expect(JSON.parse(readFileSync(join(out, 'chain-verification.json'), 'utf8')).result).toBe('BROKEN');
    expect(c.lines.join('\n')).toContain('BROKEN');
  });
});

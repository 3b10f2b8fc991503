// `mem0-gov audit …` end to end against real PostgreSQL: migrate, verify (exit code, first bad row),
// export + offline verify (jsonl and csv), checkpoint, and admin actions in their own chain.
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink, recordAdminAction } from '../../../src/audit/index.js';
import { run } from '../../../src/cli/audit.js';
import type { CliContext } from '../../../src/cli/context.js';
import { auditCfg, event, silent, startAuditDb, testKeyPem, type AuditDb } from './helpers.js';

let db: AuditDb;
const key = testKeyPem();
const dir = mkdtempSync(join(tmpdir(), 'mem0gov-cli-audit-'));
const keyFile = join(dir, 'checkpoint.pem');
const pubFile = join(dir, 'checkpoint.pub.pem');
writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
writeFileSync(pubFile, key.publicPem);

function ctx(extra: Record<string, string> = {}): CliContext & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const env = {
    MEM0_GOV_PG_URL: db.writerUrl,
    MEM0_GOV_PG_ADMIN_URL: db.ownerUrl,
    MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: keyFile,
    MEM0_GOV_AUDIT_ADMIN_CHAIN_ID: 'admin:test',
    MEM0_GOV_AUDIT_VERIFY_STATE: join(dir, 'verify-state.json'),
    MEM0_GOV_LOG_LEVEL: 'silent',
    ...extra,
  };
  return {
    env, lines, errors, actor: 'alice',
    out: (l) => void lines.push(l),
    err: (l) => void errors.push(l),
    recordAdmin: (a) => recordAdminAction(env, { ...a, actor: 'alice' }),
  };
}

beforeAll(async () => {
  db = await startAuditDb();
  const sink = await createAuditSink(auditCfg(db, 'svc-1', { checkpointKeyPem: key.privatePem, checkpointEvery: 25 }), silent);
  for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 10 }, (_, j) => sink.append(event({ tenant: (i + j) % 2 ? 'acme' : 'globex' }))));
  await sink.close();
});
afterAll(async () => {
  await db?.stop();
  for (const d of [dir, ...outDirs]) rmSync(d, { recursive: true, force: true });
});
const outDirs: string[] = [];
function outDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), name));
  outDirs.push(d);
  return d;
}

describe('mem0-gov audit', () => {
  it('migrate reports a current schema', async () => {
    const c = ctx();
    expect(await run(['migrate'], c)).toBe(0);
    expect(c.lines.join('\n')).toContain('current');
  });

  it('verify passes a clean database, checking checkpoint signatures', async () => {
    const c = ctx();
    expect(await run(['verify', '--public-key', pubFile], c)).toBe(0);
    expect(c.lines.join('\n')).toMatch(/ok chain=svc-1 rows=100 .*checkpoints_verified=[1-9]/);
  });

  it('checkpoint --public-key prints the PEM auditors verify with', async () => {
    const c = ctx();
    expect(await run(['checkpoint', '--public-key'], c)).toBe(0);
    expect(c.lines.join('\n') + '\n').toBe(key.publicPem);
  });

  it('export (jsonl and csv) writes rows + manifest that verify accepts offline, and catches an edited file', async () => {
    for (const format of ['jsonl', 'csv'] as const) {
      const out = outDir(`mem0gov-export-${format}-`);
      const c = ctx();
      expect(await run(['export', '--since', '2026-01-01T00:00:00Z', '--until', '2027-01-01T00:00:00Z', '--format', format, '--out', out], c)).toBe(0);
      const files = readdirSync(out);
      const rows = join(out, files.find((f) => f.endsWith(`.${format}`))!);
      const manifest = join(out, files.find((f) => f.endsWith('.manifest.json'))!);
      const m = JSON.parse(readFileSync(manifest, 'utf8'));
      expect(m.chains.find((x: { chain_id: string }) => x.chain_id === 'svc-1')).toMatchObject({ first_seq: 1, last_seq: 100, rows: 100 });
      expect(m.chains[0].checkpoints.length).toBeGreaterThan(0);
      const v = ctx();
      expect(await run(['verify', '--file', rows, '--manifest', manifest, '--public-key', pubFile], v)).toBe(0);
      expect(v.errors).toEqual([]);
      // An edited export fails: first the file digest, and the row itself is named.
      const text = readFileSync(rows, 'utf8');
      writeFileSync(rows, text.replace('"deny"', '"allow"'));
      const bad = ctx();
      expect(await run(['verify', '--file', rows, '--manifest', manifest, '--public-key', pubFile], bad)).toBe(1);
      expect(bad.errors.join('\n')).toMatch(/rows file sha256/);
      expect(bad.errors.join('\n')).toMatch(/FAIL chain=svc-1 seq=\d+ event_id=[0-9a-f-]{36} hash_mismatch/);
    }
  });

  it('a tenant export holds only that tenant and still verifies row by row', async () => {
    const out = outDir('mem0gov-export-tenant-');
    expect(await run(['export', '--since', '2026-01-01T00:00:00Z', '--until', '2027-01-01T00:00:00Z', '--tenant', 'acme', '--format', 'jsonl', '--out', out], ctx())).toBe(0);
    const files = readdirSync(out);
    const rows = readFileSync(join(out, files.find((f) => f.endsWith('.jsonl'))!), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // 50 service rows plus this export's own admin row (tenant acme, in the admin chain).
    expect(rows.filter((r: { chain_id: string }) => r.chain_id === 'svc-1').length).toBe(50);
    expect(rows.every((r: { tenant: string }) => r.tenant === 'acme')).toBe(true);
    const v = ctx();
    expect(await run(['verify', '--file', join(out, files.find((f) => f.endsWith('.jsonl'))!), '--manifest', join(out, files.find((f) => f.endsWith('.manifest.json'))!), '--public-key', pubFile], v)).toBe(0);
  });

  it('admin actions are audited in their own chain (export and checkpoint recorded)', async () => {
    const c = ctx();
    expect(await run(['checkpoint'], c)).toBe(0);
    expect(c.lines.join('\n')).toMatch(/checkpoint chain=svc-1 seq=100/);
    const r = await db.su.query("SELECT route, actor_sub, path, reasons FROM audit.events WHERE chain_id = 'admin:test' ORDER BY seq");
    expect(r.rows.map((x: { route: string }) => x.route)).toEqual(['cli.audit.export', 'cli.audit.export', 'cli.audit.export', 'cli.audit.checkpoint']);
    expect(r.rows[0].actor_sub).toBe('alice');
    const v = ctx();
    expect(await run(['verify', '--chain', 'admin:test', '--public-key', pubFile], v)).toBe(0);
  });

  it('verify --full exits non-zero and names chain, seq, event id and what is wrong; a routine run starts after its last verified checkpoint', async () => {
    const id = (await db.su.query("SELECT event_id FROM audit.events WHERE chain_id = 'svc-1' AND seq = 42")).rows[0].event_id;
    await db.su.query('ALTER TABLE audit.events DISABLE TRIGGER events_no_update');
    await db.su.query("UPDATE audit.events SET tenant = 'evil' WHERE chain_id = 'svc-1' AND seq = 42");
    await db.su.query('ALTER TABLE audit.events ENABLE TRIGGER events_no_update');
    // The earlier runs verified up to the checkpoint at seq 100: a routine run does not read seq 42 again.
    const routine = ctx();
    expect(await run(['verify', '--chain', 'svc-1', '--public-key', pubFile], routine)).toBe(0);
    expect(routine.lines.join('\n')).toMatch(/ok chain=svc-1 rows=0 .*from=verified-checkpoint:101/);
    const c = ctx();
    expect(await run(['verify', '--full', '--public-key', pubFile], c)).toBe(1);
    expect(c.errors.join('\n')).toContain(`FAIL chain=svc-1 seq=42 event_id=${id} hash_mismatch`);
    // And checkpoint refuses to sign over it.
    const cp = ctx();
    expect(await run(['checkpoint', '--chain', 'svc-1'], cp)).toBe(1);
    expect(cp.errors.join('\n')).toContain('not signing');
  });

  it('recordAdminAction throws when PostgreSQL is unreachable (the action must not run)', async () => {
    const env = { ...ctx().env, MEM0_GOV_PG_URL: 'postgres://mem0gov_writer@127.0.0.1:1/mem0gov', MEM0_GOV_PG_ADMIN_URL: 'postgres://postgres@127.0.0.1:1/mem0gov' };
    await expect(recordAdminAction(env, { actor: 'alice', command: 'limits.set', target: 'tenant:acme', details: { limit: '600/m' } })).rejects.toThrow();
  });
});

import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAuditConfig } from '../../../src/audit/config.js';
import { openSpool, readSpoolFile, spoolPath } from '../../../src/audit/spool.js';
import { GENESIS_HASH, seal } from '../../../src/audit/row.js';

const row = (seq: number) => seal('c', { seq: seq - 1, hash: GENESIS_HASH }, {
  event_id: `e${seq}`, ts: new Date(0).toISOString(), decision: 'deny', reasons: [], actor_sub: null, roles: [], tenant: null, agent: null,
  session: null, action: null, route: null, method: 'GET', path: '/', entity_ids: [], memory_id: null, source_ip: null, request_id: 'r',
  policy_revision: null, break_glass: false, phi: false, latency_ms: 0, body_digest: null, status: 403,
  kind: 'decision', ref_event_id: null, detail: null,
});

describe('audit spool', () => {
  it('persists rows in order across reopen and drops a torn (never acknowledged) last line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const s = await openSpool(dir, 'admin:host');
    await s.append([row(1), row(2)]);
    await s.close();
    appendFileSync(spoolPath(dir, 'admin:host'), '{"chain_id":"c","se');
    const again = await openSpool(dir, 'admin:host');
    expect(again.rows().map((r) => r.seq)).toEqual([1, 2]);
    await again.append([row(3)]);
    expect(readSpoolFile(again.path).map((r) => r.seq)).toEqual([1, 2, 3]);
    await again.clear();
    expect(readSpoolFile(again.path)).toEqual([]);
    await again.close();
  });

  it('rows spooled before row format 2 (no row_format key) read back as format-1 rows; format-2 rows round-trip', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const r = row(1);
    const { row_format: _f, kind: _k, ref_event_id: _r, detail: _d, ...old } = r;
    const r2 = seal('c', r, { ...r, event_id: 'e2', kind: 'outcome', ref_event_id: 'e1', detail: '{"returned":1}' });
    writeFileSync(join(dir, 'x.jsonl'), JSON.stringify(old) + '\n' + JSON.stringify(r2) + '\n');
    expect(readSpoolFile(join(dir, 'x.jsonl'))).toEqual([{ ...r, row_format: 1, kind: null }, r2]);
  });

  it('refuses a spool corrupted in the middle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    writeFileSync(join(dir, 'x.jsonl'), '{bad\n' + JSON.stringify(row(1)) + '\n');
    expect(() => readSpoolFile(join(dir, 'x.jsonl'))).toThrow(/corrupt/);
  });
});

describe('loadAuditConfig', () => {
  it('has the documented defaults', () => {
    const c = loadAuditConfig({});
    expect(c).toMatchObject({ pgUrl: 'postgres://mem0gov_writer@127.0.0.1:5432/mem0gov', spoolDir: '.state/spool', batchMs: 0, migrate: true, spool: true });
    expect(c.checkpointKeyPem).toBeUndefined();
    expect(c.adminUrl).toBeUndefined();
  });

  it('fills the password from MEM0_GOV_PG_PASSWORD_FILE and rejects a bad chain id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'pw'), 's3cr3t\n');
    const c = loadAuditConfig({ MEM0_GOV_PG_PASSWORD_FILE: join(dir, 'pw'), MEM0_GOV_AUDIT_CHAIN_ID: 'authz-1' });
    expect(new URL(c.pgUrl).password).toBe('s3cr3t');
    expect(c.chainId).toBe('authz-1');
    expect(() => loadAuditConfig({ MEM0_GOV_AUDIT_CHAIN_ID: 'bad chain/id' })).toThrow(/AUDIT_CHAIN_ID/);
  });
});

// The evidence pack (`mem0-gov evidence`, and the audit API's download): plain JSON/CSV files an
// auditor reads without our code, and manifest.json listing each with its SHA-256. Scoped to one
// tenant for a tenant's auditor (their decisions, break-glass use, admin actions, policy data).
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { csvCell } from './csv.js';

export interface EvidenceOptions {
  out: string;
  since: Date;
  until: Date;
  /** Only this tenant's rows and settings; undefined = every tenant. */
  tenant?: string;
  /** chain-verification.json: how and when the chains were verified, and the result. */
  verification: { verified_at: string; result: 'valid' | 'BROKEN'; checkpoint_public_keys: string[]; chains: unknown[]; source: string };
  publicPems: readonly string[];
  policy: { revision: string; wasm: string; data: string; data_content: unknown };
  /** config.json (the CLI's own, secrets withheld); none from the audit API. */
  config?: { host: string; env: Record<string, string> };
  generatedBy: string;
  generator: string;
}

/** role → permissions from policy data, as a table (rows: roles, columns: permissions). */
export function roleMatrix(data: unknown): { permissions: string[]; roles: Record<string, Record<string, boolean>> } {
  const roles = ((data as { mem0gov?: { roles?: Record<string, string[]> } })?.mem0gov?.roles ?? {}) as Record<string, string[]>;
  const permissions = [...new Set(Object.values(roles).flat())].sort();
  const table: Record<string, Record<string, boolean>> = {};
  for (const [role, perms] of Object.entries(roles).sort(([a], [b]) => a.localeCompare(b))) {
    table[role] = Object.fromEntries(permissions.map((p) => [p, perms.includes(p)]));
  }
  return { permissions, roles: table };
}

/** Policy data with only `tenant`'s settings (a tenant's auditor sees no other tenant's name). */
function tenantData(data: unknown, tenant: string | undefined): unknown {
  if (tenant === undefined) return data;
  const d = data as { mem0gov?: { tenants?: Record<string, unknown> } };
  if (d?.mem0gov === undefined) return data;
  const own = d.mem0gov.tenants?.[tenant];
  return { ...d, mem0gov: { ...d.mem0gov, tenants: own === undefined ? {} : { [tenant]: own } } };
}

/** Writes the pack into `o.out`; returns the file names (manifest.json last). */
export async function writeEvidencePack(db: pg.Client, o: EvidenceOptions): Promise<string[]> {
  await mkdir(o.out, { recursive: true });
  const written: string[] = [];
  const write = async (name: string, content: string): Promise<void> => {
    await writeFile(join(o.out, name), content);
    written.push(name);
  };
  const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
  await write('chain-verification.json', json(o.verification));
  const cps = await db.query('SELECT chain_id, seq, hash, signature, key_id, ts FROM audit.checkpoints ORDER BY chain_id, seq');
  await write('checkpoints.json', json(cps.rows));
  if (o.publicPems.length > 0) await write('checkpoint-public-keys.pem', o.publicPems.join(''));

  const t = o.tenant !== undefined ? ' AND tenant = $3' : '';
  const params = [o.since.toISOString(), o.until.toISOString(), ...(o.tenant !== undefined ? [o.tenant] : [])];
  // Outcome rows (row kind `outcome`, audit/README.md "Row kinds") answer a decision already
  // counted here: leave them out so each request counts once. Format-1 rows have kind NULL.
  const summary = await db.query(
    `SELECT coalesce(tenant, '') AS tenant, decision, reasons[1] AS reason, count(*)::int AS n
       FROM audit.events WHERE ts >= $1 AND ts < $2${t} AND kind IS DISTINCT FROM 'outcome' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, params);
  await write('decisions-by-tenant.csv', ['tenant,decision,reason,count', ...summary.rows.map((r) => [r.tenant, r.decision, r.reason, r.n].map((v) => csvCell(v)).join(','))].join('\n') + '\n');
  const bg = await db.query(
    `SELECT ts, tenant, actor_sub, route, memory_id, decision, request_id, event_id FROM audit.events
      WHERE break_glass AND ts >= $1 AND ts < $2${t} AND kind IS DISTINCT FROM 'outcome' ORDER BY ts`, params);
  await write('break-glass-use.json', json(bg.rows));
  const admin = await db.query(
    `SELECT ts, actor_sub, route, path, reasons, event_id, kind, detail FROM audit.events
      WHERE (kind IN ('admin', 'config') OR (kind IS NULL AND action = 'admin' AND method IN ('CLI', 'CONFIG')))
        AND ts >= $1 AND ts < $2${t} ORDER BY ts`, params);
  await write('admin-actions.json', json(admin.rows));

  await write('policy.json', json({ ...o.policy, data_content: tenantData(o.policy.data_content, o.tenant) }));
  await write('role-matrix.json', json(roleMatrix(o.policy.data_content)));
  if (o.config !== undefined) await write('config.json', json(o.config));

  const files = await Promise.all(
    written.map(async (name) => ({ name, sha256: createHash('sha256').update(await readFile(join(o.out, name))).digest('hex') })),
  );
  await writeFile(
    join(o.out, 'manifest.json'),
    json({
      generator: o.generator, generated_at: new Date().toISOString(), period: { since: o.since.toISOString(), until: o.until.toISOString() },
      tenant: o.tenant ?? null, generated_by: o.generatedBy, files,
    }),
  );
  return [...written, 'manifest.json'];
}

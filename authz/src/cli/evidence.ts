// `mem0-gov evidence --out DIR [--since ISO] [--until ISO] [--public-key PEM]...`: an evidence pack for auditors.
// Each file is plain JSON/CSV an auditor can read without our code; manifest.json lists
// every file with its SHA-256 so the pack itself can be checked for tampering.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { loadAuditConfig } from '../audit/config.js';
import { loadVerifier } from '../audit/checkpoint.js';
import { checkpointPublicKeyPems } from './audit.js';
import type { CheckpointVerifier } from '../audit/checkpoint.js';
import { connect } from '../audit/pg.js';
import { verifyDatabase } from '../audit/verify-db.js';
import { describeProblem } from '../audit/verify.js';
import { loadPolicyConfig } from '../policy/config.js';
import { bundleRevision } from '../policy/bundle.js';
import { PREFIX } from '../config/env.js';
import type { Env } from '../config/env.js';
import * as metrics from '../metrics.js';
import { csvCell } from '../audit/csv.js';
import { command, UsageError } from './args.js';
import { record, type CliContext } from './context.js';

/** Variable names whose values are secrets: shown as "[set]", never printed. */
const SECRET_NAME = /(PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE)(?!_FILE)/;

/** The active MEM0_GOV_* configuration with secret values withheld (file paths are shown). */
export function redactedConfig(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!k.startsWith(PREFIX) || v === undefined) continue;
    if (SECRET_NAME.test(k.slice(PREFIX.length))) out[k] = '[set]';
    else out[k] = /^[a-z]+:\/\/[^/]*@/i.test(v) ? v.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:[redacted]@') : v;
  }
  return out;
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

export const evidence = command({
  path: 'evidence',
  usage: ['evidence --out DIR [--since ISO] [--until ISO] [--public-key PEM]...'],
  notes: ['default period: the 30 days up to now; exit 1 if an audit chain does not verify (the pack says BROKEN)'],
  options: {
    out: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    'public-key': { type: 'string', multiple: true },
  },
  run: ({ values, ctx }) => writePack(ctx, values),
});
export const run = evidence.run;

async function writePack(ctx: CliContext, values: { out?: string | undefined; since?: string | undefined; until?: string | undefined; 'public-key'?: string[] | undefined }): Promise<number> {
  if (!values.out) throw new UsageError('--out DIR is required');
  // Default period: the last 30 days up to now, where "now" includes this command's own audit row.
  const until = values.until ? new Date(values.until) : new Date(Date.now() + 60_000);
  const since = values.since ? new Date(values.since) : new Date(until.getTime() - 30 * 86_400_000);
  if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime()) || since > until) {
    throw new UsageError('--since/--until must be ISO 8601 dates with since ≤ until');
  }
  const out = values.out;
  await record(ctx, { command: 'evidence', target: `period:${since.toISOString()}/${until.toISOString()}`, details: { out } });
  await mkdir(out, { recursive: true });
  const written: string[] = [];
  const write = async (name: string, content: string): Promise<void> => {
    await writeFile(join(out, name), content);
    written.push(name);
  };
  const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

  const auditCfg = loadAuditConfig(ctx.env);
  const publicPems = checkpointPublicKeyPems(values['public-key'], auditCfg, ctx.env);
  const keys: CheckpointVerifier[] = publicPems.map(loadVerifier);
  // The owner's URL with MEM0_GOV_PG_ADMIN_PASSWORD(_FILE) applied, as for migrations.
  const db = await connect(auditCfg.adminUrl ?? auditCfg.pgUrl, 'mem0gov-cli-evidence');
  let chainsOk = true;
  try {
    const reports = await verifyDatabase(db, { keys });
    chainsOk = reports.every((r) => r.problem === null);
    if (!chainsOk) metrics.auditChainVerifyFailures.inc();
    await write(
      'chain-verification.json',
      json({
        verified_at: new Date().toISOString(),
        result: chainsOk ? 'valid' : 'BROKEN',
        checkpoint_public_keys: keys.map((k) => k.keyId),
        chains: reports.map((r) => ({ ...r, problem: r.problem ? describeProblem(r.problem) : null })),
      }),
    );
    const cps = await db.query('SELECT chain_id, seq, hash, signature, key_id, ts FROM audit.checkpoints ORDER BY chain_id, seq');
    await write('checkpoints.json', json(cps.rows));
    if (publicPems.length > 0) await write('checkpoint-public-keys.pem', publicPems.join(''));

    const period = [since.toISOString(), until.toISOString()];
    // Outcome rows (row kind `outcome`, audit/README.md "Row kinds") answer a decision already
    // counted here: leave them out so each request counts once. Format-1 rows have kind NULL.
    const summary = await db.query(
      `SELECT coalesce(tenant, '') AS tenant, decision, reasons[1] AS reason, count(*)::int AS n
         FROM audit.events WHERE ts >= $1 AND ts < $2 AND kind IS DISTINCT FROM 'outcome' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      period,
    );
    await write('decisions-by-tenant.csv', ['tenant,decision,reason,count', ...summary.rows.map((r) => [r.tenant, r.decision, r.reason, r.n].map((v) => csvCell(v)).join(','))].join('\n') + '\n');
    const bg = await db.query(
      `SELECT ts, tenant, actor_sub, route, memory_id, decision, request_id, event_id FROM audit.events
        WHERE break_glass AND ts >= $1 AND ts < $2 AND kind IS DISTINCT FROM 'outcome' ORDER BY ts`,
      period,
    );
    await write('break-glass-use.json', json(bg.rows));
    const admin = await db.query(
      `SELECT ts, actor_sub, route, path, reasons, event_id, kind, detail FROM audit.events
        WHERE (kind IN ('admin', 'config') OR (kind IS NULL AND action = 'admin' AND method IN ('CLI', 'CONFIG')))
          AND ts >= $1 AND ts < $2 ORDER BY ts`,
      period,
    );
    await write('admin-actions.json', json(admin.rows));
  } finally {
    await db.end().catch(() => undefined);
  }

  const policyCfg = loadPolicyConfig(ctx.env);
  const [wasm, data] = await Promise.all([readFile(policyCfg.wasmPath), readFile(policyCfg.dataPath)]);
  const policyData = JSON.parse(data.toString('utf8')) as unknown;
  await write('policy.json', json({ revision: bundleRevision(wasm, data), wasm: policyCfg.wasmPath, data: policyCfg.dataPath, data_content: policyData }));
  await write('role-matrix.json', json(roleMatrix(policyData)));
  await write('config.json', json({ host: hostname(), env: redactedConfig(ctx.env) }));

  const files = await Promise.all(
    written.map(async (name) => ({ name, sha256: createHash('sha256').update(await readFile(join(out, name))).digest('hex') })),
  );
  await writeFile(
    join(out, 'manifest.json'),
    json({ generator: 'mem0-gov evidence', generated_at: new Date().toISOString(), period: { since: since.toISOString(), until: until.toISOString() }, generated_by: ctx.actor, files }),
  );
  ctx.out(`evidence pack written to ${out} (${files.length + 1} files); audit chains: ${chainsOk ? 'valid' : 'BROKEN'}`);
  return chainsOk ? 0 : 1;
}

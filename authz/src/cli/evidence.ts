// `mem0-gov evidence --out DIR [--since ISO] [--until ISO] [--public-key PEM]...`: an evidence pack for auditors.
// Each file is plain JSON/CSV an auditor can read without our code; manifest.json lists
// every file with its SHA-256 so the pack itself can be checked for tampering.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { loadAuditConfig } from '../audit/config.js';
import { loadVerifier } from '../audit/checkpoint.js';
import { checkpointPublicKeyPems } from './audit.js';
import type { CheckpointVerifier } from '../audit/checkpoint.js';
import { writeEvidencePack } from '../audit/evidence.js';
import { connect } from '../audit/pg.js';
import { verifyDatabase } from '../audit/verify-db.js';
import { describeProblem } from '../audit/verify.js';
import { loadPolicyConfig } from '../policy/config.js';
import { bundleRevision } from '../policy/bundle.js';
import { PREFIX } from '../config/env.js';
import type { Env } from '../config/env.js';
import { command, UsageError } from './args.js';
import { record, type CliContext } from './context.js';

export { roleMatrix } from '../audit/evidence.js';

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

export const evidence = command({
  path: 'evidence',
  usage: ['evidence --out DIR [--since ISO] [--until ISO] [--public-key PEM]...'],
  notes: ['default period: the 30 days up to now; every stored row is verified; exit 1 if an audit chain does not verify (the pack says BROKEN)'],
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

  const auditCfg = loadAuditConfig(ctx.env);
  const publicPems = checkpointPublicKeyPems(values['public-key'], auditCfg, ctx.env);
  const keys: CheckpointVerifier[] = publicPems.map(loadVerifier);
  const policyCfg = loadPolicyConfig(ctx.env);
  const [wasm, data] = await Promise.all([readFile(policyCfg.wasmPath), readFile(policyCfg.dataPath)]);
  // The owner's URL with MEM0_GOV_PG_ADMIN_PASSWORD(_FILE) applied, as for migrations.
  const db = await connect(auditCfg.adminUrl ?? auditCfg.pgUrl, 'mem0gov-cli-evidence');
  let chainsOk = true;
  try {
    // Evidence re-reads every stored row (not only those after the last verified checkpoint).
    const reports = await verifyDatabase(db, { keys, full: true });
    chainsOk = reports.every((r) => r.problem === null);
    await writeEvidencePack(db, {
      out, since, until, publicPems, generator: 'mem0-gov evidence', generatedBy: ctx.actor,
      verification: {
        verified_at: new Date().toISOString(), source: 'mem0-gov evidence: every stored row', result: chainsOk ? 'valid' : 'BROKEN',
        checkpoint_public_keys: keys.map((k) => k.keyId),
        chains: reports.map((r) => ({ ...r, problem: r.problem ? describeProblem(r.problem) : null })),
      },
      policy: { revision: bundleRevision(wasm, data), wasm: policyCfg.wasmPath, data: policyCfg.dataPath, data_content: JSON.parse(data.toString('utf8')) as unknown },
      config: { host: hostname(), env: redactedConfig(ctx.env) },
    });
  } finally {
    await db.end().catch(() => undefined);
  }
  ctx.out(`evidence pack written to ${out}; audit chains: ${chainsOk ? 'valid' : 'BROKEN'}`);
  return chainsOk ? 0 : 1;
}

// `mem0-gov audit migrate|verify|export|checkpoint` (audit/README.md).
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { ConfigError, PREFIX } from '../config/env.js';
import { loadCliConfig } from '../config/cli.js';
import { loadAuditConfig, type AuditConfig } from '../audit/config.js';
import { loadSigner, loadVerifier, type CheckpointVerifier } from '../audit/checkpoint.js';
import { exportAudit } from '../audit/export.js';
import { migrate as migrateSchema } from '../audit/migrate.js';
import { connect, insertCheckpoint, listChains } from '../audit/pg.js';
import { verifyDatabase } from '../audit/verify-db.js';
import { verifyExport } from '../audit/verify-file.js';
import { describeProblem, type ChainReport } from '../audit/verify.js';
import { command, dateArg, group, UsageError, EXIT_FAIL, EXIT_OK } from './args.js';
import { record, type CliContext } from './context.js';

/** Checkpoint public keys (PEM): --public-key files, else MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE,
 * else derived from the private key. Shared with `mem0-gov evidence`. */
export function checkpointPublicKeyPems(paths: string[] | undefined, cfg: AuditConfig, env: CliContext['env']): string[] {
  const files = paths && paths.length > 0 ? paths : [loadCliConfig(env).checkpointPublicKeyFile].filter((p): p is string => p !== undefined);
  if (files.length > 0) return files.map((f) => readFileSync(f, 'utf8'));
  if (cfg.checkpointKeyPem !== undefined) return [loadSigner(cfg.checkpointKeyPem).publicKeyPem];
  return [];
}

function verifierKeys(paths: string[] | undefined, cfg: AuditConfig, env: CliContext['env']): CheckpointVerifier[] {
  return checkpointPublicKeyPems(paths, cfg, env).map(loadVerifier);
}

function printReports(ctx: CliContext, reports: ChainReport[], extra: string[] = []): number {
  let bad = extra.length > 0;
  for (const e of extra) ctx.err(`FAIL export: ${e}`);
  for (const r of reports) {
    if (r.problem !== null) {
      bad = true;
      ctx.err(`FAIL ${describeProblem(r.problem)}`);
    } else {
      ctx.out(`ok chain=${r.chain_id} rows=${r.rows} seq=${r.first_seq ?? '-'}..${r.last_seq ?? '-'} head=${r.head_hash ?? '-'} checkpoints_verified=${r.checkpoints_verified}`);
    }
    if (r.checkpoints_unsigned_check > 0) {
      ctx.err(`warning chain=${r.chain_id}: ${r.checkpoints_unsigned_check} checkpoint signature(s) not checked (no public key given)`);
    }
  }
  return bad ? EXIT_FAIL : EXIT_OK;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url, 'mem0gov-cli-audit');
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

const migrate = command({
  path: 'audit migrate',
  usage: ['audit migrate'],
  async run({ ctx }) {
    const cfg = loadAuditConfig(ctx.env);
    const applied = await migrateSchema(cfg.adminUrl ?? cfg.pgUrl);
    ctx.out(applied.length > 0 ? `applied ${applied.join(', ')}` : 'audit schema is current');
    return EXIT_OK;
  },
});

const verify = command({
  path: 'audit verify',
  usage: [
    'audit verify [--chain C] [--public-key PEM]...',
    'audit verify --file ROWS --manifest MANIFEST [--public-key PEM]...',
  ],
  notes: ['exit 1 names the first bad row of each broken chain'],
  options: {
    chain: { type: 'string' },
    file: { type: 'string' },
    manifest: { type: 'string' },
    'public-key': { type: 'string', multiple: true },
  },
  async run({ values, ctx }) {
    const cfg = loadAuditConfig(ctx.env);
    if ((values.file === undefined) !== (values.manifest === undefined)) throw new UsageError('--file and --manifest go together');
    const keys = verifierKeys(values['public-key'], cfg, ctx.env);
    if (values.file !== undefined && values.manifest !== undefined) {
      const res = verifyExport(values.file, values.manifest, keys);
      return printReports(ctx, res.reports, res.manifestProblems);
    }
    // A second connection lets PostgreSQL build pages in parallel with the first.
    const reports = await withClient(cfg.pgUrl, (c) => withClient(cfg.pgUrl, (reader) =>
      verifyDatabase(c, { keys, readers: [reader], ...(values.chain !== undefined ? { chain: values.chain } : {}) })));
    if (reports.length === 0) ctx.out('no audit chains');
    return printReports(ctx, reports);
  },
});

const exportCmd = command({
  path: 'audit export',
  usage: ['audit export --since ISO --until ISO [--tenant T] --format jsonl|csv --out DIR'],
  options: {
    since: { type: 'string' },
    until: { type: 'string' },
    tenant: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
  },
  async run({ values, ctx }) {
    const cfg = loadAuditConfig(ctx.env);
    const format = values.format ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'csv') throw new UsageError('--format must be jsonl or csv');
    const outDir = values.out;
    if (outDir === undefined) throw new UsageError('--out DIR is required');
    const since = dateArg('--since', values.since);
    const until = dateArg('--until', values.until);
    await record(ctx, { command: 'audit.export', target: values.tenant !== undefined ? `tenant:${values.tenant}` : 'all', details: { since: since.toISOString(), until: until.toISOString(), format } });
    const res = await withClient(cfg.pgUrl, (c) => exportAudit(c, {
      since, until, format, outDir,
      ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
      ...(cfg.checkpointKeyPem !== undefined ? { publicKeyPem: loadSigner(cfg.checkpointKeyPem).publicKeyPem } : {}),
    }));
    ctx.out(`rows=${res.manifest.row_count} file=${res.rowsPath} manifest=${res.manifestPath}`);
    return EXIT_OK;
  },
});

const checkpoint = command({
  path: 'audit checkpoint',
  usage: [
    'audit checkpoint [--chain C]      sign the verified head of each chain now',
    'audit checkpoint --public-key     print the checkpoint public key (PEM) for auditors',
  ],
  options: {
    chain: { type: 'string' },
    'public-key': { type: 'boolean' },
  },
  async run({ values, ctx }) {
    const cfg = loadAuditConfig(ctx.env);
    if (cfg.checkpointKeyPem === undefined) throw new ConfigError(`${PREFIX}AUDIT_CHECKPOINT_KEY_FILE`, 'is not set (the checkpoint signing key)');
    const signer = loadSigner(cfg.checkpointKeyPem);
    if (values['public-key'] === true) {
      ctx.out(signer.publicKeyPem.trimEnd());
      return EXIT_OK;
    }
    await record(ctx, { command: 'audit.checkpoint', target: values.chain !== undefined ? `chain:${values.chain}` : 'all', details: {} });
    return withClient(cfg.pgUrl, async (c) => {
      const chains = values.chain !== undefined ? [values.chain] : await listChains(c);
      // Sign only what verifies: a checkpoint must never bless a tampered chain.
      let code = EXIT_OK;
      for (const chain of chains) {
        const [rep] = await verifyDatabase(c, { chain, keys: [loadVerifier(signer.publicKeyPem)] });
        if (rep === undefined || rep.problem !== null || rep.last_seq === null || rep.head_hash === null) {
          if (rep?.problem) ctx.err(`FAIL ${describeProblem(rep.problem)}: not signing`);
          code = rep?.problem ? EXIT_FAIL : code;
          continue;
        }
        const cp = signer.sign(chain, rep.last_seq, rep.head_hash, new Date().toISOString());
        await insertCheckpoint(c, cp);
        ctx.out(`checkpoint chain=${chain} seq=${cp.seq} hash=${cp.hash} key_id=${cp.key_id}`);
      }
      return code;
    });
  },
});

export const audit = group('audit', [migrate, verify, exportCmd, checkpoint]);
export const run = audit.run;

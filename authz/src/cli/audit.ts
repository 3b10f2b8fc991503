// `mem0-gov audit migrate|verify|export|checkpoint|archive|partitions` (audit/README.md).
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type pg from 'pg';
import { ConfigError, PREFIX } from '../config/env.js';
import { loadCliConfig } from '../config/cli.js';
import { loadAuditConfig, type AuditConfig } from '../audit/config.js';
import { archiveBefore, parseMonth, retentionBoundary } from '../audit/archive.js';
import { loadSigner, loadVerifier, type CheckpointVerifier } from '../audit/checkpoint.js';
import { exportAudit } from '../audit/export.js';
import { migrate as migrateSchema } from '../audit/migrate.js';
import { connect, insertCheckpoint, listChains, listPartitions, saveChainStatus } from '../audit/pg.js';
import { statusOf, verifyDatabase, type DbChainReport } from '../audit/verify-db.js';
import { verifyExport } from '../audit/verify-file.js';
import { databaseKey, VerifyMarks } from '../audit/verify-state.js';
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

const FROM: Record<DbChainReport['anchor'], string> = {
  genesis: 'from=genesis',
  archive: 'from=archive-boundary',
  checkpoint: 'from=verified-checkpoint',
};

function printReports(ctx: CliContext, reports: (ChainReport | DbChainReport)[], extra: string[] = []): number {
  let bad = extra.length > 0;
  for (const e of extra) ctx.err(`FAIL export: ${e}`);
  for (const r of reports) {
    const db = 'anchor' in r ? r : null;
    if (r.problem !== null) {
      bad = true;
      ctx.err(`FAIL ${describeProblem(r.problem)}`);
    } else {
      const from = db !== null ? ` ${FROM[db.anchor]}:${db.from_seq}` : '';
      ctx.out(`ok chain=${r.chain_id} rows=${r.rows} seq=${r.first_seq ?? '-'}..${r.last_seq ?? '-'} head=${r.head_hash ?? '-'} checkpoints_verified=${r.checkpoints_verified}${from}`);
    }
    if (r.checkpoints_unsigned_check > 0 || db?.archive_unsigned_check === true) {
      ctx.err(`warning chain=${r.chain_id}: checkpoint or archive signature(s) not checked (no public key given); every run reads the whole chain`);
    }
  }
  return bad ? EXIT_FAIL : EXIT_OK;
}

/** Incremental verification of the database, marks kept in MEM0_GOV_AUDIT_VERIFY_STATE, outcome in audit.chain_status. */
async function verifyStored(cfg: AuditConfig, keys: CheckpointVerifier[], o: { chain?: string; full?: boolean; verifier: string }): Promise<DbChainReport[]> {
  return withClient(cfg.pgUrl, async (c) => {
    const marks = VerifyMarks.load(cfg.verifyStateFile ?? '.state/audit-verify.json', await databaseKey(c));
    const reports = await verifyDatabase(c, { keys, marks, full: o.full === true, ...(o.chain !== undefined ? { chain: o.chain } : {}) });
    marks.save();
    for (const r of reports) await saveChainStatus(c, statusOf(r, o.verifier)).catch(() => undefined);
    return reports;
  });
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
    'audit verify [--chain C] [--full] [--public-key PEM]...',
    'audit verify --file ROWS --manifest MANIFEST [--public-key PEM]...',
  ],
  notes: [
    'each chain is read from the last signed checkpoint this verifier verified (MEM0_GOV_AUDIT_VERIFY_STATE), or its archive boundary;',
    '--full re-reads every stored row. Exit 1 names the first bad row of each broken chain.',
  ],
  options: {
    chain: { type: 'string' },
    full: { type: 'boolean' },
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
    const reports = await verifyStored(cfg, keys, {
      full: values.full === true, verifier: `cli:${userInfo().username}`, ...(values.chain !== undefined ? { chain: values.chain } : {}),
    });
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
        // Every row, not only those after the last verified checkpoint: a checkpoint must never bless a tampered chain.
        const [rep] = await verifyStored(cfg, [loadVerifier(signer.publicKeyPem)], { chain, full: true, verifier: `cli:${userInfo().username}` });
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

const archive = command({
  path: 'audit archive',
  usage: ['audit archive [--before YYYY-MM] --out DIR [--format jsonl|csv] [--public-key PEM]... [--dry-run]'],
  notes: [
    'exports and verifies every monthly partition that ends at or before --before (default: what MEM0_GOV_AUDIT_RETENTION_MONTHS',
    'makes due), signs each chain\'s boundary, records the admin row, then detaches and drops the partitions. --dry-run: export and',
    'verify only. Needs MEM0_GOV_PG_ADMIN_URL (the schema owner) and MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE.',
  ],
  options: {
    before: { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
    'public-key': { type: 'string', multiple: true },
    'dry-run': { type: 'boolean' },
  },
  async run({ values, ctx }) {
    const cfg = loadAuditConfig(ctx.env);
    const format = values.format ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'csv') throw new UsageError('--format must be jsonl or csv');
    if (values.out === undefined) throw new UsageError('--out DIR is required');
    if (cfg.checkpointKeyPem === undefined) throw new ConfigError(`${PREFIX}AUDIT_CHECKPOINT_KEY_FILE`, 'is not set (archive signs each chain\'s boundary)');
    if (cfg.adminUrl === undefined) throw new ConfigError(`${PREFIX}PG_ADMIN_URL`, 'is not set (archive detaches and drops partitions as the schema owner)');
    const retention = cfg.retentionMonths ?? 12;
    const latest = retentionBoundary(new Date(), retention);
    let before = latest;
    if (values.before !== undefined) {
      try {
        before = parseMonth(values.before);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    if (before.getTime() > latest.getTime()) {
      throw new UsageError(`--before ${values.before}: ${PREFIX}AUDIT_RETENTION_MONTHS=${retention} keeps every month from ${latest.toISOString().slice(0, 7)} on`);
    }
    const signer = loadSigner(cfg.checkpointKeyPem);
    const keys = [...verifierKeys(values['public-key'], cfg, ctx.env), loadVerifier(signer.publicKeyPem)];
    const month = before.toISOString().slice(0, 7);
    const res = await withClient(cfg.adminUrl, (c) => archiveBefore(c, {
      before, outDir: values.out!, format, signer, keys, dryRun: values['dry-run'] === true,
      record: (details) => record(ctx, { command: 'audit.archive', target: `before:${month}`, details }),
    }));
    if (res.partitions.length === 0) {
      ctx.out(`nothing to archive before ${month}`);
      return EXIT_OK;
    }
    for (const b of res.boundaries) ctx.out(`boundary chain=${b.chain_id} seq=${b.seq} hash=${b.hash} rows=${b.rows}`);
    ctx.out(`${values['dry-run'] === true ? 'verified (dry run, nothing dropped)' : 'archived and dropped'} partitions=${res.partitions.join(',')} rows=${res.rows} file=${res.rowsPath} manifest=${res.manifestPath}`);
    return EXIT_OK;
  },
});

const partitions = command({
  path: 'audit partitions',
  usage: ['audit partitions'],
  notes: ['the monthly partitions of audit.events, and which are due for archive under MEM0_GOV_AUDIT_RETENTION_MONTHS'],
  async run({ ctx }) {
    const cfg = loadAuditConfig(ctx.env);
    const latest = retentionBoundary(new Date(), cfg.retentionMonths ?? 12);
    const parts = await withClient(cfg.pgUrl, (c) => listPartitions(c));
    for (const p of parts) {
      const range = p.upper === null ? 'default (rows no month partition takes)' : `${p.lower === null ? '-' : p.lower.toISOString()}..${p.upper.toISOString()}`;
      const due = p.upper !== null && p.upper.getTime() <= latest.getTime();
      ctx.out(`${p.name} ${range}${due ? ' DUE for archive' : ''}`);
    }
    return EXIT_OK;
  },
});

export const audit = group('audit', [migrate, verify, exportCmd, checkpoint, archive, partitions]);
export const run = audit.run;

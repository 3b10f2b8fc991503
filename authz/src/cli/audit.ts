// `mem0-gov audit migrate|verify|export|checkpoint` (audit/README.md).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { str } from '../config/env.js';
import { loadAuditConfig, type AuditConfig } from '../audit/config.js';
import { loadSigner, loadVerifier, type CheckpointVerifier } from '../audit/checkpoint.js';
import { exportAudit } from '../audit/export.js';
import { migrate } from '../audit/migrate.js';
import { connect, insertCheckpoint, listChains } from '../audit/pg.js';
import { verifyDatabase } from '../audit/verify-db.js';
import { verifyExport } from '../audit/verify-file.js';
import { describeProblem, type ChainReport } from '../audit/verify.js';
import { UsageError, type CliContext } from './context.js';

const USAGE = `mem0-gov audit migrate
mem0-gov audit verify [--chain C] [--public-key PEM]...
mem0-gov audit verify --file ROWS --manifest MANIFEST [--public-key PEM]...
mem0-gov audit export --since ISO --until ISO [--tenant T] --format jsonl|csv --out DIR
mem0-gov audit checkpoint [--chain C]      sign the verified head of each chain now
mem0-gov audit checkpoint --public-key     print the checkpoint public key (PEM) for auditors`;

function date(v: string | undefined, flag: string): Date {
  if (v === undefined) throw new UsageError(`${flag} is required\n${USAGE}`);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag}: not an ISO 8601 date: ${v}`);
  return d;
}

/** Checkpoint public keys (PEM): --public-key files, else MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE,
 * else derived from the private key. Shared with `mem0-gov evidence`. */
export function checkpointPublicKeyPems(paths: string[] | undefined, cfg: AuditConfig, env: CliContext['env']): string[] {
  const files = paths && paths.length > 0 ? paths : [str(env, 'AUDIT_CHECKPOINT_PUBLIC_KEY_FILE')].filter((p): p is string => p !== undefined);
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
  return bad ? 1 : 0;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url, 'mem0gov-cli-audit');
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      chain: { type: 'string' },
      file: { type: 'string' },
      manifest: { type: 'string' },
      'public-key': { type: sub === 'checkpoint' ? 'boolean' : 'string', multiple: sub !== 'checkpoint' },
      since: { type: 'string' },
      until: { type: 'string' },
      tenant: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const cfg = loadAuditConfig(ctx.env);
  switch (sub) {
    case 'migrate': {
      const applied = await migrate(cfg.adminUrl ?? cfg.pgUrl);
      ctx.out(applied.length > 0 ? `applied ${applied.join(', ')}` : 'audit schema is current');
      return 0;
    }
    case 'verify': {
      const keys = verifierKeys(values['public-key'] as string[] | undefined, cfg, ctx.env);
      if (values.file !== undefined || values.manifest !== undefined) {
        if (values.file === undefined || values.manifest === undefined) throw new UsageError('--file and --manifest go together');
        const res = verifyExport(values.file, values.manifest, keys);
        return printReports(ctx, res.reports, res.manifestProblems);
      }
      // A second connection lets PostgreSQL build pages in parallel with the first.
      const reports = await withClient(cfg.pgUrl, (c) => withClient(cfg.pgUrl, (reader) =>
        verifyDatabase(c, { keys, readers: [reader], ...(values.chain !== undefined ? { chain: values.chain } : {}) })));
      if (reports.length === 0) ctx.out('no audit chains');
      return printReports(ctx, reports);
    }
    case 'export': {
      const format = values.format ?? 'jsonl';
      if (format !== 'jsonl' && format !== 'csv') throw new UsageError('--format must be jsonl or csv');
      if (values.out === undefined) throw new UsageError('--out DIR is required');
      const since = date(values.since, '--since');
      const until = date(values.until, '--until');
      await ctx.recordAdmin({ command: 'audit.export', target: values.tenant !== undefined ? `tenant:${values.tenant}` : 'all', details: { since: since.toISOString(), until: until.toISOString(), format } });
      const res = await withClient(cfg.pgUrl, (c) => exportAudit(c, {
        since, until, format, outDir: values.out!,
        ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
        ...(cfg.checkpointKeyPem !== undefined ? { publicKeyPem: loadSigner(cfg.checkpointKeyPem).publicKeyPem } : {}),
      }));
      ctx.out(`rows=${res.manifest.row_count} file=${res.rowsPath} manifest=${res.manifestPath}`);
      return 0;
    }
    case 'checkpoint': {
      if (cfg.checkpointKeyPem === undefined) throw new UsageError('MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE is not set');
      const signer = loadSigner(cfg.checkpointKeyPem);
      if (values['public-key'] === true) {
        ctx.out(signer.publicKeyPem.trimEnd());
        return 0;
      }
      await ctx.recordAdmin({ command: 'audit.checkpoint', target: values.chain !== undefined ? `chain:${values.chain}` : 'all', details: {} });
      return withClient(cfg.pgUrl, async (c) => {
        const chains = values.chain !== undefined ? [values.chain] : await listChains(c);
        // Sign only what verifies: a checkpoint must never bless a tampered chain.
        let code = 0;
        for (const chain of chains) {
          const [rep] = await verifyDatabase(c, { chain, keys: [loadVerifier(signer.publicKeyPem)] });
          if (rep === undefined || rep.problem !== null || rep.last_seq === null || rep.head_hash === null) {
            if (rep?.problem) ctx.err(`FAIL ${describeProblem(rep.problem)}: not signing`);
            code = rep?.problem ? 1 : code;
            continue;
          }
          const cp = signer.sign(chain, rep.last_seq, rep.head_hash, new Date().toISOString());
          await insertCheckpoint(c, cp);
          ctx.out(`checkpoint chain=${chain} seq=${cp.seq} hash=${cp.hash} key_id=${cp.key_id}`);
        }
        return code;
      });
    }
    default:
      throw new UsageError(`unknown audit command ${JSON.stringify(sub ?? '')}\n${USAGE}`);
  }
}

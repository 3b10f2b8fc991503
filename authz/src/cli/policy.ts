// `mem0-gov policy replay` (docs/policy-rollout.md): recorded decisions re-evaluated with a
// candidate bundle before it is enforced.
import { loadAuditConfig } from '../audit/config.js';
import { connect } from '../audit/pg.js';
import { loadPolicyConfig } from '../policy/config.js';
import { replayRow, ReplayTally, formatReport } from '../policy/replay.js';
import { candidateFiles, decisionRows, loadBundleFiles } from '../policy/replay-source.js';
import { command, group, timeArg, UsageError, EXIT_FAIL, EXIT_OK } from './args.js';
import { record } from './context.js';

const replay = command({
  path: 'policy replay',
  usage: ['policy replay [--candidate WASM|DIR] [--data FILE] [--since 7d|ISO] [--until DUR|ISO] [--tenant T] [--examples N] [--json]'],
  notes: [
    're-evaluates the decision rows of the window (default: the last 7 days) with the candidate bundle and prints the decisions',
    'that would change, by route, roles and recorded -> candidate reason, with example decision ids. --candidate: a compiled',
    'policy.wasm, or a directory with policy.wasm (and data.json); --data: the candidate data. Whatever is not given is the',
    'enforced one (MEM0_GOV_POLICY_WASM / MEM0_GOV_POLICY_DATA), also evaluated to flag drift (recorded decisions the enforced',
    'bundle no longer gives). Rows decided before policy ran, and rows recorded without an input digest, are skipped and counted.',
    'Reads MEM0_GOV_PG_URL; recorded as an admin action. Exit 0: no decision would change; 1: some would (or the replay failed).',
  ],
  options: {
    candidate: { type: 'string' },
    data: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    tenant: { type: 'string' },
    examples: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, ctx }) {
    if (values.candidate === undefined && values.data === undefined) throw new UsageError('--candidate or --data is required');
    const nowMs = Date.now();
    const since = timeArg('--since', values.since ?? '7d', nowMs);
    const until = values.until !== undefined ? timeArg('--until', values.until, nowMs) : new Date(nowMs);
    if (since.getTime() >= until.getTime()) throw new UsageError('--since must be before --until');
    const examples = values.examples !== undefined ? Number(values.examples) : 3;
    if (!Number.isInteger(examples) || examples < 0 || examples > 1000) throw new UsageError('--examples must be an integer 0..1000');
    const enforcedFiles = loadPolicyConfig(ctx.env);
    const cfg = loadAuditConfig(ctx.env);
    const candFiles = candidateFiles(values.candidate, values.data, enforcedFiles);
    const [candidate, enforced] = await Promise.all([loadBundleFiles(candFiles, 'candidate'), loadBundleFiles(enforcedFiles, 'enforced')]);
    const tenant = values.tenant ?? null;
    // Reading the audit trail is recorded, like `audit export`: who replayed what, over which rows.
    await record(ctx, {
      command: 'policy.replay',
      target: tenant !== null ? `tenant:${tenant}` : 'all',
      details: { candidate_revision: candidate.revision, enforced_revision: enforced.revision, since: since.toISOString(), until: until.toISOString() },
    });
    const tally = new ReplayTally(examples);
    const client = await connect(cfg.pgUrl, 'mem0gov-cli-policy-replay');
    try {
      for await (const row of decisionRows(client, { since, until, ...(tenant !== null ? { tenant } : {}) })) {
        tally.add(row, replayRow(row, { candidate, enforced }));
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    const report = tally.result();
    const head = { candidate: candidate.revision, enforced: enforced.revision, since: since.toISOString(), until: until.toISOString(), tenant };
    if (values.json === true) {
      ctx.out(JSON.stringify({ ...head, candidate_files: candFiles, ...report }));
    } else {
      for (const l of formatReport(report, head)) ctx.out(l);
    }
    return report.changed > 0 ? EXIT_FAIL : EXIT_OK;
  },
});

export const policy = group('policy', [replay]);
export const run = policy.run;

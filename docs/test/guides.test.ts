// The guides in docs/guides stay true: the troubleshooting page names every stable reason (and
// nothing else); the quick start's and the scenarios' commands run against a real stack (Envoy,
// authz, Redis, PostgreSQL, the Mem0 stand-in) with the policy data the scenarios page gives, and
// do what the pages say they do.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASONS, type ReasonSpec } from '../../authz/src/reasons.js';
import { startStack, type Stack } from '../../testing/stack.js';
import { runbook, runnableBlocks } from '../../testing/runbook.js';
import { ROOT } from '../../testing/tools.js';

const guide = (name: string): string => readFileSync(join(ROOT, 'docs', 'guides', name), 'utf8');

describe('troubleshooting.md', () => {
  it('gives cause and fix for every stable reason, and names no other', () => {
    const rows = guide('troubleshooting.md').split('\n').filter((l) => l.startsWith('| `'))
      .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    const documented = rows.map((r) => /^`([a-z0-9_]+)`$/.exec(r[0]!)?.[1]).filter((x): x is string => x !== undefined);
    expect([...documented].sort()).toEqual(Object.keys(REASONS).sort());
    for (const r of rows) {
      expect(r.length, r[0]).toBe(4);
      const [reason, status, cause, fix] = r;
      const spec: ReasonSpec = REASONS[reason!.slice(1, -1) as keyof typeof REASONS];
      expect(status, reason).toBe(spec.auditOnly ? 'audit only' : String(spec.status));
      expect(cause!.length, reason).toBeGreaterThan(10);
      expect(fix!.length, reason).toBeGreaterThan(0);
    }
  });
});

/** The scenarios page's policy data merged into the shipped data, as an operator would. */
function merge(base: unknown, extra: unknown): unknown {
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra) || base === null || typeof base !== 'object' || Array.isArray(base)) return extra;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(extra)) out[k] = merge(out[k], v);
  return out;
}

describe('quick start and common scenarios, run against a stack', () => {
  const work = mkdtempSync(join(tmpdir(), 'mem0gov-guides-'));
  let stack: Stack;
  let env: Record<string, string>;
  const quick = runbook('docs/guides/quick-start.md');
  const scenarios = runbook('docs/guides/common-scenarios.md');

  beforeAll(async () => {
    const page = guide('common-scenarios.md');
    const block = /<!-- policy-data -->\s*\n```json\n([\s\S]*?)\n```/.exec(page);
    expect(block).not.toBeNull();
    const data = merge(JSON.parse(readFileSync(join(ROOT, 'policies', 'data.json'), 'utf8')), JSON.parse(block![1]!));
    const dataFile = join(work, 'data.json');
    writeFileSync(dataFile, JSON.stringify(data, null, 2));
    stack = await startStack({ logLevel: 'silent', env: { MEM0_GOV_LOG_LEVEL: 'silent', MEM0_GOV_POLICY_DATA: dataFile } });
    // What `source .state/stack.env` and the two exports of the quick start give a shell.
    env = {
      ...stack.env, MEM0_GOV_LOG_LEVEL: 'silent', MEM0_GOV_DEV_KEY_DIR: join(stack.stateDir, 'dev-issuer'),
      MEM0_GOV_AUDIT_ADMIN_CHAIN_ID: `admin:guides-${process.pid}`, MEM0_GOV_AUDIT_VERIFY_STATE: join(work, 'verify-marks.json'), MEM0_GOV_BASE_URL: stack.envoy.baseUrl, MEM0_GOV_CA_FILE: stack.envoy.caFile,
    };
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('the quick start’s environment is what `npm run stack` writes', () => {
    const envBlock = runnableBlocks(guide('quick-start.md')).get('env')!;
    expect(envBlock).toContain('source .state/stack.env');
    expect(envBlock).toContain('MEM0_GOV_BASE_URL=https://127.0.0.1:9000');
    expect(envBlock).toContain('MEM0_GOV_CA_FILE=.state/envoy/certs/ca.crt');
    // npm run stack: stateDir .state, Envoy on 9000, the CLI's variables (dev key dir included) in .state/stack.env.
    expect(stack.envoy.caFile).toBe(join(stack.stateDir, 'envoy', 'certs', 'ca.crt'));
    const script = readFileSync(join(ROOT, 'scripts', 'stack.ts'), 'utf8');
    for (const s of ["join(ROOT, '.state')", 'envoy: 9000', "'.state', 'stack.env'", 'MEM0_GOV_DEV_KEY_DIR']) expect(script, s).toContain(s);
  });

  it('quick start: add, search, get through the gateway; a cross-tenant request refused', async () => {
    const r = await quick.run('first-calls', env);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(r.out).toMatch(/"results":\[\{"id":"[0-9a-f-]{36}","memory":"I like green tea","event":"ADD"/);
    expect(r.out.match(/I like green tea/g)?.length).toBeGreaterThanOrEqual(3); // added, found, read back
    expect(r.out).toMatch(/"error":"deny","reason":"cross_tenant".*\nHTTP 403/);
  }, 60_000);

  it('quick start: the audit chain verifies and the export holds the refusal', async () => {
    const r = await quick.run('audit', env);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(r.out).toMatch(/^ok chain=/m);
    expect(r.out).toMatch(/"decision":"deny".*"cross_tenant"|"cross_tenant".*"decision":"deny"/);
  }, 60_000);

  it('onboarding: limits set and audited; own and legacy ids allowed, phone masked; foreign ids and custom prompts refused', async () => {
    const limits = await scenarios.run('onboard-limits', env);
    expect(limits.code, limits.err).toBe(0);
    expect(limits.out).toMatch(/tenant:initech.*1200\/m/);
    expect(limits.out).toMatch(/default:initech.*120\/m/);
    const r = await scenarios.run('onboard-check', env);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(r.out).toContain('call me at [PHONE]');
    expect(r.out).not.toContain('415-555-0132');
    expect(r.out).toMatch(/"reason":"cross_tenant".* HTTP 403/);
    expect(r.out).toMatch(/"reason":"custom_prompt_not_allowed".* HTTP 403/);
    expect(r.out.match(/HTTP /g)).toHaveLength(2);
  }, 60_000);

  it('custom role: care-coordinator writes and reads PHI; a plain reader does not see it', async () => {
    const r = await scenarios.run('custom-role-check', env);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(r.out).toMatch(/^care-coordinator sees: penicillin$/m);
    expect(r.out).toMatch(/^agent-reader sees: $/m);
  }, 60_000);
});

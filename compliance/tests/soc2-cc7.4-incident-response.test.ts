// SOC 2 CC7.4 respond to security incidents: the playbook's containment commands
// (compliance/incident-response.md) take effect on the very next request, and are audited.
import { describe, expect, it } from 'vitest';
import { run as revoke } from '../../authz/src/cli/revoke.js';
import { run as tenant } from '../../authz/src/cli/tenant.js';
import { run as audit } from '../../authz/src/cli/audit.js';
import { runUnrevoke as unrevoke } from '../../authz/src/cli/revoke.js';
import { run as evidence } from '../../authz/src/cli/evidence.js';
import { run as limits } from '../../authz/src/cli/limits.js';
import { run as breakglass } from '../../authz/src/cli/breakglass.js';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoFile, useStack } from './helpers.js';

const c = useStack();
const get = (token: string) => c.req({ path: '/memories?user_id=acme:alice', token });

describe('CC7.4 incident response', () => {
  it('`mem0-gov revoke --sub` cuts off a compromised identity at once, other users unaffected', async () => {
    const mallory = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'mallory' });
    const alice = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    expect((await get(mallory)).status).toBe(200);
    expect((await c.cli(revoke, ['--tenant', 'acme', '--sub', 'mallory', '--reason', 'INC-9 token leak'])).code).toBe(0);
    const r = await get(mallory);
    expect(r.status).toBe(401);
    expect(r.json()).toMatchObject({ reason: 'subject_revoked' });
    expect((await get(alice)).status).toBe(200);
  });

  it('`mem0-gov tenant suspend` stops the whole tenant; `resume` restores it', async () => {
    const alice = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'alice' });
    expect((await c.cli(tenant, ['suspend', 'acme', '--reason', 'INC-9 containment'])).code).toBe(0);
    const r = await get(alice);
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ reason: 'tenant_suspended' });
    expect((await c.cli(tenant, ['resume', 'acme'])).code).toBe(0);
    expect((await get(alice)).status).toBe(200);
  });

  it('every containment action is in the audit chain with the operator, and the chain verifies', async () => {
    const rows = await c.sql<{ route: string; actor_sub: string; path: string }>("SELECT route, actor_sub, path FROM audit.events WHERE method = 'CLI' ORDER BY ts");
    expect(rows.map((r) => r.route)).toEqual(['cli.revoke', 'cli.tenant.suspend', 'cli.tenant.resume']);
    expect(new Set(rows.map((r) => r.actor_sub))).toEqual(new Set(['compliance-officer']));
    const v = await c.cli(audit, ['verify']);
    expect(v.code, v.err).toBe(0);
  });

  it('every mem0-gov command in the playbook runs as written against the live stack', async () => {
    const commands = playbookCommands(repoFile('compliance/incident-response.md'));
    expect(commands.length).toBeGreaterThanOrEqual(15);
    const work = mkdtempSync(join(tmpdir(), 'playbook-'));
    let lastExport = '';
    for (const line of commands) {
      const argv = shellWords(line.replace(/"\$\(date [^)]*\)"/g, new Date().toISOString()))
        .slice(1)
        .map((w) => PLACEHOLDERS[w] ?? w);
      const out = argv.indexOf('--out');
      if (out >= 0) argv[out + 1] = join(work, argv[out + 1]!); // keep relative output out of the repo
      if (argv[0] === 'audit' && argv[1] === 'export') lastExport = argv[out + 1]!;
      const file = argv.indexOf('--file');
      if (file >= 0) {
        const names = readdirSync(lastExport);
        argv[file + 1] = join(lastExport, names.find((n) => n.endsWith('.jsonl'))!);
        argv[argv.indexOf('--manifest') + 1] = join(lastExport, names.find((n) => n.endsWith('.manifest.json'))!);
      }
      const [name, ...rest] = argv;
      const command = CLI[name!];
      expect(command, `${line}: unknown command`).toBeDefined();
      const r = await c.cli(command!, rest);
      expect(r.code, `${line}\n${r.err}`).toBe(0);
    }
  });
});

type Command = Parameters<typeof c.cli>[0];
const CLI: Record<string, Command> = { revoke, unrevoke, tenant, audit, evidence, limits, breakglass };
const PLACEHOLDERS: Record<string, string> = { '<tenant>': 'acme', '<jti>': 'jti-123', '<sub>': 'mallory', '<client-id>': 'acme-agent' };

/** Inline-code spans that start with `mem0-gov <command>`, without ellipses. */
function playbookCommands(md: string): string[] {
  return [...md.matchAll(/`(mem0-gov [a-z][^`]*)`/g)].map((m) => m[1]!).filter((l) => !l.includes('…'));
}

/** Splits a shell command line into words: whitespace, "double" and 'single' quotes. */
function shellWords(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

// `mem0-gov` admin CLI: dispatches to one module per command group. Every admin action is
// written to the audit chain (recordAdminAction) before it takes effect.
import { userInfo } from 'node:os';
import { ConfigError } from '../config/env.js';
import { recordAdminAction } from '../audit/admin.js';
import { UsageError } from './context.js';
import type { CliContext } from './context.js';

type Command = (argv: string[], ctx: CliContext) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  audit: async () => (await import('./audit.js')).run,
  limits: async () => (await import('./limits.js')).run,
  revoke: async () => (await import('./revoke.js')).run,
  unrevoke: async () => (await import('./revoke.js')).runUnrevoke,
  tenant: async () => (await import('./tenant.js')).run,
  breakglass: async () => (await import('./breakglass.js')).run,
  token: async () => (await import('./token.js')).run,
  evidence: async () => (await import('./evidence.js')).run,
};

export const USAGE = `usage: mem0-gov <command> [args]
  audit verify|export|checkpoint|migrate   the hash-chained audit log
  limits get|set|unset                     rate limits in Redis (applied by every replica within 2 s)
  revoke|unrevoke                          deny-list a jti, subject, agent or tenant
  tenant suspend|resume|status             incident containment
  breakglass grant|review                  time-limited, justified elevation
  token                                    mint a dev token (dev stack only)
  evidence --out DIR                       evidence pack for auditors
Configuration comes from MEM0_GOV_* environment variables (see README).`;

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  const out = (l: string): void => void process.stdout.write(`${l}\n`);
  const err = (l: string): void => void process.stderr.write(`${l}\n`);
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    (name ? out : err)(USAGE);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    err(`mem0-gov: unknown command ${JSON.stringify(name)}\n${USAGE}`);
    return 2;
  }
  const actor = env.MEM0_GOV_ADMIN_ACTOR ?? userInfo().username;
  const ctx: CliContext = {
    env,
    out,
    err,
    actor,
    recordAdmin: (action) => recordAdminAction(env, { ...action, actor }),
  };
  try {
    return await (await load())(rest, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`mem0-gov ${name}: ${e.message}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      err(`mem0-gov: invalid configuration: ${e.message}`);
      return 78;
    }
    err(`mem0-gov ${name}: ${(e as Error).message}`);
    return 1;
  }
}

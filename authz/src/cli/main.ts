// `mem0-gov` admin CLI: dispatches to one module per command group. Every admin action is
// written to the audit chain (recordAdminAction) before it takes effect. Arguments, usage texts
// and exit codes (0 ok, 1 failed, 2 usage, 78 configuration): cli/args.ts.
import { ConfigError } from '../config/env.js';
import { loadCliConfig } from '../config/cli.js';
import { recordAdminAction } from '../audit/admin.js';
import { EXIT_CONFIG, EXIT_FAIL, EXIT_OK, EXIT_USAGE, type Command } from './args.js';
import type { CliContext } from './context.js';

/** The dispatcher's table: every command, loaded when it is run. */
export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  audit: async () => (await import('./audit.js')).audit,
  limits: async () => (await import('./limits.js')).limits,
  revoke: async () => (await import('./revoke.js')).revoke,
  unrevoke: async () => (await import('./revoke.js')).unrevoke,
  tenant: async () => (await import('./tenant.js')).tenant,
  breakglass: async () => (await import('./breakglass.js')).breakglass,
  token: async () => (await import('./token.js')).token,
  apikey: async () => (await import('./apikey.js')).apikey,
  evidence: async () => (await import('./evidence.js')).evidence,
  policy: async () => (await import('./policy.js')).policy,
};

export const USAGE = `usage: mem0-gov <command> [args]
  audit verify|export|checkpoint|migrate|archive|partitions   the hash-chained audit log
  limits get|set|unset                     rate limits in Redis (applied by every replica within 2 s)
  revoke|unrevoke                          deny-list a jti, subject, agent or tenant
  tenant suspend|resume|status             incident containment
  breakglass grant|review                  time-limited, justified elevation
  token                                    mint a dev token (dev stack only)
  apikey create|list|revoke                static API keys for agents (shown once, stored hashed)
  evidence --out DIR                       evidence pack for auditors
  policy replay                            re-evaluate recorded decisions with a candidate policy
mem0-gov <command> [<subcommand>] --help prints its usage.
Exit codes: 0 ok, 1 the action failed, 2 usage error, 78 configuration error.
Configuration comes from MEM0_GOV_* environment variables (see README).`;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const STDIO: CliIo = {
  out: (l) => void process.stdout.write(`${l}\n`),
  err: (l) => void process.stderr.write(`${l}\n`),
};

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = STDIO): Promise<number> {
  const [name, ...rest] = argv;
  const { out, err } = io;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    (name ? out : err)(USAGE);
    return name ? EXIT_OK : EXIT_USAGE;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    err(`mem0-gov: usage error: unknown command ${JSON.stringify(name)}`);
    err(USAGE);
    return EXIT_USAGE;
  }
  const actor = loadCliConfig(env).adminActor;
  const ctx: CliContext = {
    env,
    out,
    err,
    actor,
    recordAdmin: (action) => recordAdminAction(env, { ...action, actor }),
  };
  // Commands map their own errors to exit codes (args.ts); this is the net for the rest.
  try {
    return await (await load()).exec(rest, ctx);
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`mem0-gov ${name}: invalid configuration: ${e.message}`);
      return EXIT_CONFIG;
    }
    err(`mem0-gov ${name}: ${(e as Error).message}`);
    return EXIT_FAIL;
  }
}

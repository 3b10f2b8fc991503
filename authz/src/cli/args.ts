// The one argument helper of the `mem0-gov` admin CLI (node:util parseArgs). Every command module
// declares its commands with command() and group(): options, positional arguments, subcommands and
// a usage text per (sub)command. The helper parses, prints usage and errors, and maps outcomes to
// exit codes, so command code only validates values and acts.
//
// Exit codes, the same for every command and subcommand (README "Operations"):
//   0   success
//   1   the action failed: `audit verify` found a broken chain, Redis or PostgreSQL unreachable,
//       the admin action could not be recorded in the audit chain (then nothing changed), …
//   2   usage error: unknown command, subcommand or option, a missing or malformed value or argument
//   78  configuration error: a MEM0_GOV_* variable is malformed, or one the command needs is not set
//       (ConfigError; EX_CONFIG of sysexits.h, as the service exits at start)
//
// `--help` / `-h` anywhere prints the usage of the (sub)command named before it to stdout, exit 0.
// A usage error prints one line (`mem0-gov <command>: usage error: …`) and the usage to stderr, exit 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/env.js';
import { parseDuration } from '../gate/duration.js';
import type { CliContext } from './context.js';

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;
export const EXIT_CONFIG = 78;

/** Thrown by a command's run() for an argument it cannot use: exit 2, with the usage. */
export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;
/** The parsed option values of an option table (node:util parseArgs types). */
export type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>['values'];
type ArgName<S extends string> = S extends `${infer N}?` ? N : S;
/** Positional arguments by name: `name` is a string, `name?` may be undefined. */
export type Args<P extends readonly string[]> = { [K in P[number] as ArgName<K>]: K extends `${string}?` ? string | undefined : string };

export interface CommandSpec<O extends Options, P extends readonly string[]> {
  /** The words after `mem0-gov`: `revoke`, `audit verify`. */
  path: string;
  /** Synopsis lines, each the words after `mem0-gov ` (e.g. `limits set <scope> <rate>`). */
  usage: readonly string[];
  /** Lines after the synopsis: what the arguments mean. */
  notes?: readonly string[];
  options?: O;
  /** Positional arguments in order; `name?` is optional (only after the required ones). */
  args?: P;
  /** Does the work; throws UsageError (2), ConfigError (78) or anything else (1), or returns the exit code. */
  run(input: { values: Values<O>; args: Args<P>; ctx: CliContext }): Promise<number>;
}

export interface Command {
  /** The words after `mem0-gov`: `revoke`, `audit verify`. */
  readonly path: string;
  /** What `--help` prints. */
  readonly usage: string;
  readonly synopsis: readonly string[];
  readonly notes: readonly string[];
  /** The options this command accepts (a group: none of its own). */
  readonly options: Readonly<Options>;
  /** A group's subcommands by name; empty for a command that acts. */
  readonly subcommands: Readonly<Record<string, Command>>;
  /** Entry for callers that hold argv after `mem0-gov <command>`; a leading repeat of the command's name is skipped. */
  run(argv: string[], ctx: CliContext): Promise<number>;
  /** Entry for the dispatcher: argv after the command's own words. */
  exec(argv: string[], ctx: CliContext): Promise<number>;
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

function renderUsage(synopsis: readonly string[], notes: readonly string[]): string {
  return [...synopsis.map((l, i) => `${i === 0 ? 'usage: ' : '       '}mem0-gov ${l}`), ...notes].join('\n');
}

/** Tokens of argv read leniently (unknown options allowed): where the positionals and `--help` are. */
function tokens(argv: string[], options: Options) {
  return parseArgs({ args: argv, options: { ...options, ...HELP }, strict: false, allowPositionals: true, tokens: true }).tokens;
}

/** `--help` or `-h` anywhere before `--`, also where an option expected its value (`--tenant --help`). */
function wantsHelp(argv: string[], options: Options): boolean {
  return tokens(argv, options).some((t) => t.kind === 'option'
    && (t.name === 'help' || (t.inlineValue !== true && (t.value === '--help' || t.value === '-h'))));
}

function usageError(ctx: CliContext, cmd: Pick<Command, 'path' | 'usage'>, message: string): number {
  ctx.err(`mem0-gov ${cmd.path}: usage error: ${message}`);
  ctx.err(cmd.usage);
  return EXIT_USAGE;
}

/** Runs a command's action and turns what it throws into the exit-code convention. */
async function guarded(ctx: CliContext, cmd: Pick<Command, 'path' | 'usage'>, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError) return usageError(ctx, cmd, err.message);
    if (err instanceof ConfigError) {
      ctx.err(`mem0-gov ${cmd.path}: invalid configuration: ${err.message}`);
      return EXIT_CONFIG;
    }
    ctx.err(`mem0-gov ${cmd.path}: ${(err as Error).message}`);
    return EXIT_FAIL;
  }
}

function tolerant(name: string, exec: Command['exec']): Command['run'] {
  return (argv, ctx) => exec(argv[0] === name ? argv.slice(1) : argv, ctx);
}

/** A command that acts: `revoke`, `audit verify`. */
export function command<O extends Options = Record<never, never>, const P extends readonly string[] = []>(spec: CommandSpec<O, P>): Command {
  const options: Options = spec.options ?? {};
  if ('help' in options || Object.values(options).some((o) => o.short === 'h')) throw new Error(`${spec.path}: --help/-h is the helper's`);
  const names = (spec.args ?? []).map((n) => ({ key: n.replace(/\?$/, ''), optional: n.endsWith('?') }));
  const notes = spec.notes ?? [];
  const cmd: Command = {
    path: spec.path,
    usage: renderUsage(spec.usage, notes),
    synopsis: spec.usage,
    notes,
    options,
    subcommands: {},
    run: tolerant(spec.path.split(' ').at(-1)!, (argv, ctx) => cmd.exec(argv, ctx)),
    async exec(argv, ctx) {
      if (wantsHelp(argv, options)) {
        ctx.out(cmd.usage);
        return EXIT_OK;
      }
      let parsed: { values: unknown; positionals: string[] };
      try {
        parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
      } catch (err) {
        return usageError(ctx, cmd, (err as Error).message);
      }
      const pos = parsed.positionals;
      if (pos.length > names.length) return usageError(ctx, cmd, `unexpected argument ${JSON.stringify(pos[names.length])}`);
      const args: Record<string, string | undefined> = {};
      for (const [i, n] of names.entries()) {
        if (pos[i] === undefined && !n.optional) return usageError(ctx, cmd, `missing <${n.key}>`);
        args[n.key] = pos[i];
      }
      return guarded(ctx, cmd, () => spec.run({ values: parsed.values as Values<O>, args: args as Args<P>, ctx }));
    },
  };
  return cmd;
}

/** Every option of the subcommands, for finding the subcommand word among options (a value is not a word). */
function unionOptions(subs: readonly Command[]): Options {
  const all: Options = {};
  for (const s of subs) {
    for (const [k, o] of Object.entries(s.options)) {
      if (all[k]?.type !== 'string') all[k] = { type: o.type, ...(o.short !== undefined ? { short: o.short } : {}) };
    }
  }
  return all;
}

/**
 * A command group: `audit verify|export|…`. The first word that is not an option (or an option's
 * value) names the subcommand; the rest of argv goes to it. Its usage lists every subcommand.
 */
export function group(path: string, subcommands: readonly Command[], notes: readonly string[] = []): Command {
  const byName: Record<string, Command> = {};
  for (const s of subcommands) byName[s.path.split(' ').at(-1)!] = s;
  const synopsis = subcommands.flatMap((s) => s.synopsis);
  const allNotes = [...new Set([...subcommands.flatMap((s) => s.notes), ...notes])];
  const union = unionOptions(subcommands);
  const cmd: Command = {
    path,
    usage: renderUsage(synopsis, allNotes),
    synopsis,
    notes: allNotes,
    options: {},
    subcommands: byName,
    run: tolerant(path.split(' ').at(-1)!, (argv, ctx) => cmd.exec(argv, ctx)),
    async exec(argv, ctx) {
      const word = tokens(argv, union).find((t) => t.kind === 'positional');
      if (word === undefined) {
        if (wantsHelp(argv, union)) {
          ctx.out(cmd.usage);
          return EXIT_OK;
        }
        return usageError(ctx, cmd, 'missing subcommand');
      }
      const sub = Object.hasOwn(byName, word.value) ? byName[word.value] : undefined;
      if (sub === undefined) return usageError(ctx, cmd, `unknown subcommand ${JSON.stringify(word.value)}`);
      return sub.exec([...argv.slice(0, word.index), ...argv.slice(word.index + 1)], ctx);
    },
  };
  return cmd;
}

/** A duration argument (`30m`, `24h`, bare seconds) in ms; a malformed one is a usage error. */
export function durationArg(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

/** An ISO 8601 date argument; a missing or malformed one is a usage error. */
export function dateArg(flag: string, value: string | undefined): Date {
  if (value === undefined) throw new UsageError(`${flag} is required`);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag}: not an ISO 8601 date: ${value}`);
  return d;
}

/** A point in time: a duration before now (`7d`, `36h`, bare seconds) or an ISO 8601 date. */
export function timeArg(flag: string, value: string, nowMs: number): Date {
  if (/^\d+(\.\d+)?[smhd]?$/.test(value)) return new Date(nowMs - durationArg(flag, value));
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag}: neither a duration (7d, 36h) nor an ISO 8601 date: ${value}`);
  return d;
}

// Every `mem0-gov` command and subcommand answers --help (stdout, exit 0) and a usage error
// (one line plus the usage on stderr, exit 2), before touching Redis or PostgreSQL. The list
// comes from the dispatcher's table, so a new command is covered without editing this test.
import { describe, expect, it } from 'vitest';
import { COMMANDS, USAGE, main } from '../../../src/cli/main.js';
import type { Command } from '../../../src/cli/args.js';

interface Io { out: string[]; err: string[] }

async function cli(argv: string[]): Promise<{ code: number } & Io> {
  const io: Io = { out: [], err: [] };
  // Unreachable backends: a command that got past argument handling would fail with exit 1.
  const env = { MEM0_GOV_REDIS_URL: 'redis://127.0.0.1:1', MEM0_GOV_PG_URL: 'postgres://nobody@127.0.0.1:1/none', MEM0_GOV_ADMIN_ACTOR: 'help-test' };
  const code = await main(argv, env, { out: (l) => void io.out.push(l), err: (l) => void io.err.push(l) });
  return { code, ...io };
}

function walk(path: string[], cmd: Command): { path: string[]; cmd: Command }[] {
  return [{ path, cmd }, ...Object.entries(cmd.subcommands).flatMap(([name, sub]) => walk([...path, name], sub))];
}

const all = (await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => walk([name], await load())))).flat();
const paths = all.map(({ path }) => path.join(' '));

describe('mem0-gov --help', () => {
  it('covers every command of the dispatcher and their subcommands', () => {
    expect(paths).toEqual(expect.arrayContaining(['audit', 'audit verify', 'audit export', 'limits set', 'token', 'breakglass grant', 'tenant suspend', 'unrevoke']));
    for (const name of Object.keys(COMMANDS)) expect(USAGE, name).toContain(name);
    for (const { path, cmd } of all) expect(cmd.path).toBe(path.join(' '));
  });

  it('mem0-gov --help / -h / help: the command list, exit 0; no command: the list on stderr, exit 2', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = await cli([flag]);
      expect([r.code, r.out.join('\n'), r.err]).toEqual([0, USAGE, []]);
    }
    const r = await cli([]);
    expect([r.code, r.out, r.err.join('\n')]).toEqual([2, [], USAGE]);
  });

  it.each(paths)('mem0-gov %s --help (and -h): its usage on stdout, exit 0', async (path) => {
    const cmd = all.find((c) => c.path.join(' ') === path)!.cmd;
    for (const flag of ['--help', '-h']) {
      const r = await cli([...path.split(' '), flag]);
      expect(r.code, r.err.join('\n')).toBe(0);
      expect(r.err).toEqual([]);
      const text = r.out.join('\n');
      expect(text).toBe(cmd.usage);
      expect(text.split('\n')[0]).toMatch(new RegExp(`^usage: mem0-gov ${path}\\b`));
      // Every option the command accepts is in its usage.
      for (const opt of Object.keys(cmd.options)) expect(text, `--${opt}`).toContain(`--${opt}`);
    }
  });

  it('--help anywhere: after arguments, options, or where an option wanted its value', async () => {
    for (const argv of [['limits', 'set', 'tenant:acme', '--help'], ['revoke', '--tenant', '--help'], ['breakglass', '--tenant', 'acme', 'review', '-h'], ['audit', '--help', 'verify']]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.out[0]).toMatch(/^usage: mem0-gov /);
    }
    expect((await cli(['audit', 'verify', '--help'])).out.join('\n')).not.toContain('audit export');
  });

  it.each([
    [['audit'], 'missing subcommand'],
    [['audit', 'frobnicate'], 'unknown subcommand "frobnicate"'],
    [['audit', 'verify', '--bogus'], "Unknown option '--bogus'"],
    [['audit', 'migrate', '--chain', 'x'], "Unknown option '--chain'"],
    [['revoke', '--tenant'], "argument missing"],
    [['limits', 'set', 'tenant:acme'], 'missing <rate>'],
    [['limits', 'get', 'a', 'b'], 'unexpected argument "b"'],
    [['tenant', 'resume', 'acme', '--reason', 'x'], "Unknown option '--reason'"],
    [['token', 'extra'], 'unexpected argument "extra"'],
    [['nope'], 'unknown command "nope"'],
  ])('%j: one line naming the problem, then the usage, on stderr; exit 2', async (argv, problem) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    const [line, ...usage] = r.err.join('\n').split('\n');
    expect(line).toMatch(/^mem0-gov( [a-z]+)*: usage error: /);
    expect(line).toContain(problem);
    expect(usage[0]).toMatch(/^usage: mem0-gov /);
  });

  it('a malformed MEM0_GOV_* variable is exit 78, named', async () => {
    const io: string[] = [];
    const code = await main(['limits', 'get'], { MEM0_GOV_REDIS_CLUSTER_NODES: 'nohostport' }, { out: (l) => void io.push(l), err: (l) => void io.push(l) });
    expect(code).toBe(78);
    expect(io.join('\n')).toMatch(/^mem0-gov limits get: invalid configuration: MEM0_GOV_REDIS_CLUSTER_NODES/);
  });
});

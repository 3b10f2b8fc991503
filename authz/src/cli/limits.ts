// `mem0-gov limits get [scope] | set <scope> <rate> | unset <scope>` over the `mem0gov:limits`
// hash (the same hash operators may edit with redis-cli). Formats: gate/README.md.
import type { CliContext } from './context.js';
import { LIMITS_KEY } from '../redis/keys.js';
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, recorded, withRedis } from '../redis/cli.js';
import { parseRate, parseScope, scopeField } from '../ratelimit/rate.js';

const USAGE = `usage: mem0-gov limits get [scope]
       mem0-gov limits set <scope> <rate>
       mem0-gov limits unset <scope>
scope: default | tenant-default | role:<role> | tenant:<tenant> | subject:<tenant>/<subject>
rate:  <count>/<unit> with unit s|m|h|d (e.g. 600/m, 10/s, 1000/h, 100/10s), optional ,burst=<n>`;

function usage(ctx: CliContext, msg: string): number {
  ctx.err(`usage error: ${msg}\n${USAGE}`);
  return EXIT_USAGE;
}

function validScope(ctx: CliContext, s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  try {
    return scopeField(parseScope(s));
  } catch (err) {
    ctx.err(`usage error: ${(err as Error).message}`);
    return undefined;
  }
}

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const args = argv[0] === 'limits' ? argv.slice(1) : argv;
  const [sub, scopeArg, rateArg, ...extra] = args;
  if (extra.length > 0) return usage(ctx, `unexpected argument ${JSON.stringify(extra[0])}`);
  switch (sub) {
    case 'get': {
      if (rateArg !== undefined) return usage(ctx, 'get takes at most one scope');
      const scope = scopeArg === undefined ? undefined : validScope(ctx, scopeArg);
      if (scopeArg !== undefined && scope === undefined) return EXIT_USAGE;
      return withRedis(ctx, async (redis) => {
        const all = await redis.hgetall(LIMITS_KEY);
        const fields = scope === undefined ? Object.keys(all).sort() : [scope];
        for (const f of fields) {
          const v = all[f];
          if (v === undefined) {
            ctx.out(`${f}\t(unset: defaults apply)`);
            continue;
          }
          let note = '';
          try {
            parseScope(f);
            parseRate(v);
          } catch (err) {
            note = `\t(INVALID, ignored by the service: ${(err as Error).message})`;
          }
          ctx.out(`${f}\t${v}${note}`);
        }
        return EXIT_OK;
      });
    }
    case 'set': {
      if (scopeArg === undefined || rateArg === undefined) return usage(ctx, 'set needs <scope> <rate>');
      const scope = validScope(ctx, scopeArg);
      if (scope === undefined) return EXIT_USAGE;
      let rate: string;
      try {
        rate = parseRate(rateArg).text;
      } catch (err) {
        ctx.err(`usage error: ${(err as Error).message}`);
        return EXIT_USAGE;
      }
      return withRedis(ctx, async (redis) => {
        const previous = await redis.hget(LIMITS_KEY, scope);
        if (!(await recorded(ctx, { command: 'limits.set', target: scope, details: { rate, previous } }))) return EXIT_FAIL;
        await redis.hset(LIMITS_KEY, scope, rate);
        ctx.out(`${scope}\t${rate}\t(was ${previous ?? 'unset'}; replicas apply it within 2 s)`);
        return EXIT_OK;
      });
    }
    case 'unset': {
      if (scopeArg === undefined || rateArg !== undefined) return usage(ctx, 'unset needs exactly one <scope>');
      const scope = validScope(ctx, scopeArg);
      if (scope === undefined) return EXIT_USAGE;
      return withRedis(ctx, async (redis) => {
        const previous = await redis.hget(LIMITS_KEY, scope);
        if (!(await recorded(ctx, { command: 'limits.unset', target: scope, details: { previous } }))) return EXIT_FAIL;
        await redis.hdel(LIMITS_KEY, scope);
        ctx.out(`${scope}\tunset\t(was ${previous ?? 'unset'})`);
        return EXIT_OK;
      });
    }
    default:
      return usage(ctx, sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
  }
}

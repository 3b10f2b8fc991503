// `mem0-gov limits get [scope] | set <scope> <rate> | unset <scope>` over the `mem0gov:limits`
// hash (the same hash operators may edit with redis-cli). Formats: gate/README.md.
import { LIMITS_KEY } from '../redis/keys.js';
import { parseRate, parseScope, scopeField } from '../ratelimit/rate.js';
import { command, group, UsageError, EXIT_OK } from './args.js';
import { record } from './context.js';
import { withRedis } from './redis-client.js';

const SCOPE = 'scope: default | tenant-default | role:<role> | tenant:<tenant> | subject:<tenant>/<subject>';
const RATE = 'rate:  <count>/<unit> with unit s|m|h|d (e.g. 600/m, 10/s, 1000/h, 100/10s), optional ,burst=<n>';

/** The hash field of a scope argument; a malformed scope is a usage error. */
function field(scope: string): string {
  try {
    return scopeField(parseScope(scope));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const get = command({
  path: 'limits get',
  usage: ['limits get [scope]'],
  notes: [SCOPE],
  args: ['scope?'],
  async run({ args, ctx }) {
    const scope = args.scope === undefined ? undefined : field(args.scope);
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
  },
});

const set = command({
  path: 'limits set',
  usage: ['limits set <scope> <rate>'],
  notes: [SCOPE, RATE],
  args: ['scope', 'rate'],
  async run({ args, ctx }) {
    const scope = field(args.scope);
    let rate: string;
    try {
      rate = parseRate(args.rate).text;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    return withRedis(ctx, async (redis) => {
      const previous = await redis.hget(LIMITS_KEY, scope);
      await record(ctx, { command: 'limits.set', target: scope, details: { rate, previous } });
      await redis.hset(LIMITS_KEY, scope, rate);
      ctx.out(`${scope}\t${rate}\t(was ${previous ?? 'unset'}; replicas apply it within 2 s)`);
      return EXIT_OK;
    });
  },
});

const unset = command({
  path: 'limits unset',
  usage: ['limits unset <scope>'],
  notes: [SCOPE],
  args: ['scope'],
  async run({ args, ctx }) {
    const scope = field(args.scope);
    return withRedis(ctx, async (redis) => {
      const previous = await redis.hget(LIMITS_KEY, scope);
      await record(ctx, { command: 'limits.unset', target: scope, details: { previous } });
      await redis.hdel(LIMITS_KEY, scope);
      ctx.out(`${scope}\tunset\t(was ${previous ?? 'unset'})`);
      return EXIT_OK;
    });
  },
});

export const limits = group('limits', [get, set, unset]);
export const run = limits.run;

// Shared plumbing for the Redis-backed `mem0-gov` commands: a client from ctx.env that is
// always closed, and the exit-code convention (0 ok, 1 failure, 2 usage).
import pino from 'pino';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CliContext } from '../cli/context.js';
import { closeRedis, connectRedis, loadRedisConfig, waitReady, type RedisClient } from './connect.js';

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

export async function withRedis(ctx: CliContext, fn: (redis: RedisClient) => Promise<number>): Promise<number> {
  let redis: RedisClient | undefined;
  try {
    const cfg = loadRedisConfig(ctx.env);
    // CLI commands are not on the request path: allow a slower Redis than the gate does.
    redis = connectRedis(cfg, pino({ level: 'silent' }));
    await waitReady(redis, 5000);
    return await fn(redis);
  } catch (err) {
    ctx.err(`error: ${(err as Error).message}`);
    return EXIT_FAIL;
  } finally {
    if (redis) await closeRedis(redis);
  }
}

/** Records the admin action; false (and a message) if it cannot be recorded, so the action must not run. */
export async function recorded(ctx: CliContext, action: Parameters<CliContext['recordAdmin']>[0]): Promise<boolean> {
  try {
    await ctx.recordAdmin(action);
    return true;
  } catch (err) {
    ctx.err(`error: cannot record admin action in the audit chain, nothing changed: ${(err as Error).message}`);
    return false;
  }
}

/** node:util parseArgs (pass strict: true); a usage error is printed and reported as undefined. */
export function parseOrUsage<T extends ParseArgsConfig>(ctx: CliContext, config: T, usage: string): ReturnType<typeof parseArgs<T>> | undefined {
  try {
    return parseArgs(config);
  } catch (err) {
    ctx.err(`usage error: ${(err as Error).message}\n${usage}`);
    return undefined;
  }
}

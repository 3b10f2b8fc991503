// A Redis client for the Redis-backed `mem0-gov` commands: configured from ctx.env, always closed.
// A bad MEM0_GOV_REDIS_* variable throws ConfigError (exit 78), an unreachable Redis an Error (exit 1).
import pino from 'pino';
import { closeRedis, connectRedis, loadRedisConfig, waitReady, type RedisClient } from '../redis/connect.js';
import type { CliContext } from './context.js';

export async function withRedis<T>(ctx: CliContext, fn: (redis: RedisClient) => Promise<T>): Promise<T> {
  const cfg = loadRedisConfig(ctx.env);
  // CLI commands are not on the request path: allow a slower Redis than the gate does.
  const redis = connectRedis(cfg, pino({ level: 'silent' }));
  try {
    await waitReady(redis, 5000).catch((err: Error) => {
      throw new Error(`Redis not ready within 5 s (${err.message})`);
    });
    return await fn(redis);
  } finally {
    await closeRedis(redis);
  }
}

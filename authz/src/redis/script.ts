// A Lua script called by SHA (EVALSHA). On NOSCRIPT (a restarted or new Cluster node, SCRIPT
// FLUSH) it is sent once with EVAL, which also caches it on that node; later calls go back
// to EVALSHA. Every call is bounded by `timeoutMs`.
import { createHash } from 'node:crypto';
import type { RedisClient } from './connect.js';
import { onDeadline } from '../deadline.js';

export class RedisTimeoutError extends Error {
  readonly reason = 'redis_timeout';
}

/** `p`, or a RedisTimeoutError once `ms` have passed without its answer (judged after the loop read its sockets: deadline.ts). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const deadline = onDeadline(ms, () => reject(new RedisTimeoutError(`redis did not answer within ${ms} ms`)));
    p.then(
      (v) => {
        deadline.cancel();
        resolve(v);
      },
      (e: unknown) => {
        deadline.cancel();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export interface LuaScript {
  readonly sha: string;
  run(redis: RedisClient, keys: string[], args: (string | number)[], timeoutMs: number): Promise<unknown>;
}

export function luaScript(source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    sha,
    async run(redis, keys, args, timeoutMs) {
      try {
        return await withTimeout(redis.evalsha(sha, keys.length, ...keys, ...args), timeoutMs);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return withTimeout(redis.eval(source, keys.length, ...keys, ...args), timeoutMs);
      }
    },
  };
}

/** SCRIPT LOAD on every master (Cluster) or the one server, so the first request is one round trip. */
export async function preloadScript(redis: RedisClient, source: string, timeoutMs: number): Promise<void> {
  const targets = 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis];
  await withTimeout(Promise.all(targets.map((n) => n.script('LOAD', source))), timeoutMs);
}

// A Lua script called by SHA (EVALSHA). On NOSCRIPT (a restarted or new Cluster node, SCRIPT
// FLUSH) it is sent once with EVAL, which also caches it on that node; later calls go back
// to EVALSHA. Every call is bounded by `timeoutMs`.
import { createHash } from 'node:crypto';
import type { RedisClient } from './connect.js';

export class RedisTimeoutError extends Error {
  readonly reason = 'redis_timeout';
}

/**
 * `p`, or a RedisTimeoutError once `ms` have passed without its answer. The timer does not decide
 * alone: after an event-loop stall (a burst, a busy machine) an expired timer runs *before* the
 * loop reads sockets, so an answer already waiting in the socket would be called a timeout. The
 * verdict waits one turn (setImmediate runs after the poll phase has read the socket); only an
 * answer still missing then is one Redis did not give in time.
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (!settled) reject(new RedisTimeoutError(`redis did not answer within ${ms} ms`));
      });
    }, ms);
    p.then(
      (v) => {
        settled = true;
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        settled = true;
        clearTimeout(timer);
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

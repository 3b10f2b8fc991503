// One place that turns MEM0_GOV_REDIS_* into an ioredis client (standalone or Cluster).
// Commands never wait in an offline queue: while Redis is down they fail at once and the
// caller applies its failure mode; ioredis keeps reconnecting in the background.
import { Redis, Cluster } from 'ioredis';
import type { Env } from '../config/env.js';
import { read } from '../config/read.js';
import { loadBudget } from '../budget.js';
import type { Logger } from '../logger.js';

export type RedisClient = import('ioredis').Redis | import('ioredis').Cluster;

export interface RedisConfig {
  /** redis:// or rediss:// URL (standalone) */
  url: string;
  /** host:port seeds; when non-empty, an ioredis Cluster is used and `url` only supplies TLS/user/db-less options */
  clusterNodes: { host: string; port: number }[];
  /** bound on every gate command, ms */
  timeoutMs: number;
  password?: string;
}

export function loadRedisConfig(env: Env): RedisConfig {
  const clusterNodes = read(env, 'REDIS_CLUSTER_NODES');
  const password = read(env, 'REDIS_PASSWORD');
  return {
    url: read(env, 'REDIS_URL'),
    clusterNodes,
    timeoutMs: loadRedisTimeoutMs(env),
    ...(password !== undefined ? { password } : {}),
  };
}

/** The Redis deadline (budget.ts): the connection's bound on every command, the gate's call included (GateConfig.timeoutMs). */
export function loadRedisTimeoutMs(env: Env): number {
  return loadBudget(env).redisMs;
}

/** Reconnect quickly at first, then at most once a second, forever. */
function backoff(times: number): number {
  return Math.min(50 * times, 1000);
}

/**
 * `commandTimeoutMs` (the service: the Redis deadline, cfg.timeoutMs) bounds every command: a
 * Redis that accepts connections but does not answer (frozen, swapping, a long script) fails the
 * command like a refused connection, so every caller's failure path applies to slowness too. The
 * CLI leaves it unset (not on the request path).
 */
export function connectRedis(cfg: RedisConfig, logger: Logger, opts: { commandTimeoutMs?: number } = {}): RedisClient {
  const log = logger.child({ component: 'redis' });
  const bounded = opts.commandTimeoutMs !== undefined ? { commandTimeout: opts.commandTimeoutMs } : {};
  // Commands issued in the same tick share one write (one syscall): under load the gate's
  // EVALSHAs of many checks go out together, as their replies come back together.
  const pipelined = { enableAutoPipelining: true };
  let client: RedisClient;
  if (cfg.clusterNodes.length > 0) {
    const tls = cfg.url.startsWith('rediss:') ? { tls: {} } : {};
    client = new Cluster(cfg.clusterNodes, {
      ...pipelined,
      clusterRetryStrategy: backoff,
      enableOfflineQueue: false,
      slotsRefreshTimeout: Math.max(1000, cfg.timeoutMs * 4),
      redisOptions: {
        ...(cfg.password !== undefined ? { password: cfg.password } : {}),
        ...tls,
        maxRetriesPerRequest: 0,
        connectTimeout: 2000,
        ...bounded,
      },
    });
  } else {
    client = new Redis(cfg.url, {
      ...pipelined,
      ...(cfg.password !== undefined ? { password: cfg.password } : {}),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: backoff,
      connectTimeout: 2000,
      ...bounded,
    });
  }
  // Without a listener ioredis prints unhandled errors; log each state change once instead.
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) log.warn({ err: err.message }, 'redis connection error');
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info('redis connection restored');
    down = false;
  });
  return client;
}

/** Resolves once the client can take commands (the offline queue is off), or rejects after `ms`. */
export function waitReady(client: RedisClient, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error('redis_unavailable'));
    }, ms);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

/** quit() that never hangs on a dead connection. */
export async function closeRedis(client: RedisClient): Promise<void> {
  try {
    await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 500))]);
  } catch {
    // already closed
  }
  client.disconnect();
}

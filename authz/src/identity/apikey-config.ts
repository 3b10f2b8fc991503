// API key settings (MEM0_GOV_APIKEY_*, declared in config/spec.ts): the service's record cache,
// the CLI's longest key lifetime.
import type { Env } from '../config/env.js';
import { read, readParsed } from '../config/read.js';
import { parseDuration } from '../gate/duration.js';

/** How long a replica reuses a key record it read from Redis, ms (0: never). */
export function loadApiKeyCacheMs(env: Env): number {
  return read(env, 'APIKEY_CACHE_SECONDS') * 1000;
}

/** The longest lifetime `mem0-gov apikey create --ttl` accepts, ms. */
export function loadApiKeyMaxTtlMs(env: Env): number {
  return readParsed(env, 'APIKEY_MAX_TTL', parseDuration);
}

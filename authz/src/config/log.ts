// Log settings (MEM0_GOV_LOG_LEVEL, MEM0_GOV_LOG_DESTINATION). Light on purpose: the CLI entry
// (cli/bin.ts) reads it before anything else is loaded.
import type { Env } from './env.js';
import { read, type ReadAs } from './read.js';
import type { LOG_LEVELS } from './spec.js';

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogConfig {
  level: LogLevel;
  /** The service logs to stdout; the CLI defaults to stderr so its stdout carries only command output. */
  destination: 'stdout' | 'stderr';
}

export function loadLogConfig(env: Env, as: ReadAs = 'service'): LogConfig {
  return { level: read(env, 'LOG_LEVEL', as), destination: read(env, 'LOG_DESTINATION', as) };
}

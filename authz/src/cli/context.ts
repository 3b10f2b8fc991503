// What every `mem0-gov` command module receives. Command modules export
//   run(argv: string[], ctx: CliContext): Promise<number>   (the exit code)
// and never call process.exit, read process.env or print directly, so tests can drive them.
import type { Env } from '../config/env.js';
import type { AdminAction } from '../types.js';

export type { AdminAction };

export interface CliContext {
  env: Env;
  out(line: string): void;
  err(line: string): void;
  /** Records an admin action in the audit chain; throws if it cannot (the action must then not run). */
  recordAdmin(action: Omit<AdminAction, 'actor'>): Promise<void>;
  actor: string;
}

export class UsageError extends Error {}

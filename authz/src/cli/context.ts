// What every `mem0-gov` command receives. Commands are declared with cli/args.ts (command/group),
// whose run(argv, ctx) returns the exit code; they never call process.exit, read process.env or
// print directly, so tests can drive them.
import { ConfigError, type Env } from '../config/env.js';
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

/**
 * Records the admin action before it takes effect. If it cannot be recorded this throws (exit 1,
 * or 78 for a configuration error), so the command stops before changing anything.
 */
export async function record(ctx: CliContext, action: Omit<AdminAction, 'actor'>): Promise<void> {
  try {
    await ctx.recordAdmin(action);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new Error(`cannot record admin action in the audit chain, nothing changed: ${(err as Error).message}`);
  }
}

// What every `mem0-gov` command module receives. Command modules export
//   run(argv: string[], ctx: CliContext): Promise<number>   (the exit code)
// and never call process.exit, read process.env or print directly, so tests can drive them.
import type { Env } from '../config/env.js';

/** One admin action, written to the audit chain before it takes effect. */
export interface AdminAction {
  /** who ran it: MEM0_GOV_ADMIN_ACTOR, else the OS user */
  actor: string;
  /** e.g. `limits.set`, `revoke`, `tenant.suspend`, `breakglass.grant`, `audit.checkpoint` */
  command: string;
  /** what it acts on, e.g. `tenant:acme`, `jti:abc` */
  target: string;
  details: Record<string, string | number | boolean | null>;
}

export interface CliContext {
  env: Env;
  out(line: string): void;
  err(line: string): void;
  /** Records an admin action in the audit chain; throws if it cannot (the action must then not run). */
  recordAdmin(action: Omit<AdminAction, 'actor'>): Promise<void>;
  actor: string;
}

export class UsageError extends Error {}

// Runs the commands of a document (compliance plan, guide) as an operator would: the fenced `sh` block after a
// `<!-- run: NAME -->` marker, executed by bash with the admin CLI (bin/mem0-gov) and PostgreSQL's
// client tools (.tools/pgbin) on the path. Tests use it so that a document's commands cannot drift
// from what works.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, PG_BIN } from './tools.js';

/** The `sh` blocks of a markdown file that follow `<!-- run: NAME -->`, by name. */
export function runnableBlocks(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<!-- run: ([a-z0-9-]+) -->\s*\n```sh\n([\s\S]*?)\n```/g;
  for (const m of markdown.matchAll(re)) {
    if (out.has(m[1]!)) throw new Error(`two blocks named ${m[1]}`);
    out.set(m[1]!, m[2]!);
  }
  return out;
}

export interface BlockResult { code: number; out: string; err: string }

/** A runbook file's blocks, runnable with an environment. */
export function runbook(path: string): { names: string[]; run(name: string, env: Record<string, string>, timeoutMs?: number): Promise<BlockResult> } {
  const blocks = runnableBlocks(readFileSync(join(ROOT, path), 'utf8'));
  return {
    names: [...blocks.keys()],
    run(name, env, timeoutMs = 120_000) {
      const script = blocks.get(name);
      if (script === undefined) throw new Error(`${path} has no block <!-- run: ${name} -->`);
      return sh(script, env, timeoutMs);
    },
  };
}

/** One shell command (not from a document), same PATH. */
export function sh(command: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<BlockResult> {
  const fullEnv = { ...process.env, ...env, PATH: `${join(ROOT, 'bin')}:${PG_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { env: fullEnv, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, cwd: ROOT }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as unknown as { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 1;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

// Signals for fault injection (fault tests, benches): freeze a server with SIGSTOP so its
// connections stay open and nothing answers, thaw it with SIGCONT. Linux /proc only.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Pids of `root` and all its descendants (from /proc). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // "pid (comm) state ppid …": comm may contain spaces or parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch { /* gone */ }
  }
  const out: number[] = [];
  const walk = (p: number): void => { out.push(p); for (const c of children.get(p) ?? []) walk(c); };
  walk(root);
  return out;
}

/** The pid of redis-server on `port` (it rewrites its title to `redis-server 127.0.0.1:<port>`). */
export function redisPid(port: number): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'redis-server') continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
      if (argv.includes(`:${port}`) || argv.includes(`--port ${port} `)) return Number(d);
    } catch { /* gone */ }
  }
  throw new Error(`no redis-server on port ${port}`);
}

export function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try { process.kill(p, sig); } catch { /* gone */ }
  }
}

/** The postmaster of a data directory and every backend it started. */
export function postgresPids(dataDir: string): number[] {
  return processTree(Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]));
}

/** Freezes PostgreSQL: every process of the server stops; connections stay open, nothing answers. */
export function pausePostgres(dataDir: string): void {
  signalAll(postgresPids(dataDir), 'SIGSTOP');
}

/**
 * Thaws it. The `runuser` it runs under (testing/postgres.ts) stops itself when its child stops,
 * and must be continued too, or it would never reap a postmaster killed later.
 */
export function resumePostgres(dataDir: string): void {
  const pids = postgresPids(dataDir);
  signalAll(pids, 'SIGCONT');
  try {
    const stat = readFileSync(`/proc/${pids[0]}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (readFileSync(`/proc/${ppid}/comm`, 'utf8').trim() === 'runuser') signalAll([ppid], 'SIGCONT');
  } catch { /* gone */ }
}

// CPU time of process trees from /proc (Linux): utime + stime of every live process under each
// root, plus cutime + cstime (children that ended and were reaped), so node:cluster workers,
// Go threads and PostgreSQL backends all count. Read before and after a run; the difference is
// the CPU the run cost those processes.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { processTree } from '../../testing/signals.js';

let ticks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK; 100 on Linux). */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** utime + stime + cutime + cstime of one /proc/<pid>/stat line, in ticks. */
export function statTicks(stat: string): number {
  // "pid (comm) state ppid …": comm may hold spaces or ')', so fields are counted after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After ')': state is field 3, so utime (14) … cstime (17) are at indexes 11 … 14.
  return [11, 12, 13, 14].reduce((a, i) => a + Number(f[i] ?? 0), 0);
}

/** CPU seconds used so far by the processes under `roots` (each root with its descendants). */
export function treeCpuSeconds(roots: readonly number[]): number {
  const seen = new Set<number>();
  let t = 0;
  for (const root of roots) {
    for (const pid of processTree(root)) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      try {
        t += statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch { /* ended between the listing and the read */ }
    }
  }
  return t / clockTicks();
}

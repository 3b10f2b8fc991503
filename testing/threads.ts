// A process's threads and their nice values, from /proc (Linux): what the kernel schedules by.
// Threads may end while they are read: those are left out.
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadNice { tid: number; nice: number }

export function threadNices(pid: number | 'self'): ThreadNice[] {
  const out: ThreadNice[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      // Fields after "(comm)": state is field 3, nice field 19 (proc(5)).
      out.push({ tid: Number(t), nice: Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[16]) });
    } catch {
      // ended in between
    }
  }
  return out;
}

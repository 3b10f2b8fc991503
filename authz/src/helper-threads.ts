// V8's background threads — the optimizing compiler (TurboFan) and the GC's helpers — get a lower
// OS priority than the thread that answers checks (MEM0_GOV_HELPER_THREADS_NICE). After a start
// or a rollout, real traffic makes V8 compile for a few seconds (about a third of a core here,
// warm-up or not: the shapes of real requests differ from any rehearsal); at equal priority that
// work took CPU from the event loop and from Envoy and PostgreSQL beside it, and the first
// seconds answered 2–3× slower. Lower priority, it runs in the CPU time nothing else wants.
//
// Called once, before the service starts: every thread then alive but the main one is lowered.
// Those are V8's platform workers and Node's own (delayed tasks, signal watcher), and also libuv's
// pool, which Node's ESM loader starts before any of our code runs (no thread name or API tells
// them apart). The pool does some request-path work: WebCrypto's signature check of a token not
// yet in the verified-token cache, the spool's writes and fsyncs while PostgreSQL is out (and,
// with the BFQ I/O scheduler, their I/O priority follows nice), DNS lookups on reconnects. At
// nice +10 those wait only while every core is saturated; `0` keeps them equal (docs/DESIGN.md
// "Availability"). Threads made later keep the main thread's priority. Linux only (a thread id
// is a `setpriority` target there); raising nice needs no privilege.
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export interface HelperThreads {
  /** Threads whose priority was lowered. */
  lowered: number;
  /** Their nice value now (the process's own + the setting, at most 19). */
  nice: number;
}

export function lowerHelperThreads(by: number, taskDir = '/proc/self/task'): HelperThreads {
  const own = getPriority(0);
  const nice = Math.min(19, own + by);
  if (by <= 0 || process.platform !== 'linux') return { lowered: 0, nice: own };
  let tids: number[];
  try {
    tids = readdirSync(taskDir).map(Number).filter((t) => Number.isSafeInteger(t) && t !== process.pid);
  } catch {
    return { lowered: 0, nice: own };
  }
  let lowered = 0;
  for (const tid of tids) {
    try {
      setPriority(tid, nice);
      lowered++;
    } catch {
      // Ended in between, or not ours to change: it keeps its priority.
    }
  }
  return { lowered, nice };
}

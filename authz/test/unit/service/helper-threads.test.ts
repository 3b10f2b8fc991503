// MEM0_GOV_HELPER_THREADS_NICE (authz/src/helper-threads.ts): in a fresh Node process (an ES
// module, as the service is), the threads alive at the call (V8's, Node's, libuv's pool) get the
// process's priority + the setting; the main thread keeps its own, and a thread started afterwards
// (a worker thread here) keeps the main thread's. Read back from /proc: what the kernel schedules by.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../../../testing/tools.js';

interface Seen { result: { lowered: number; nice: number }; pid: number; own: number; before: number[]; nice: Record<string, number> }

function inChild(by: number): Seen {
  const mod = join(ROOT, 'authz', 'src', 'helper-threads.ts');
  const threads = join(ROOT, 'testing', 'threads.ts');
  const code = `
    import { getPriority } from 'node:os';
    import { Worker } from 'node:worker_threads';
    import { lowerHelperThreads } from ${JSON.stringify(mod)};
    import { threadNices } from ${JSON.stringify(threads)};
    const own = getPriority(0);
    const before = threadNices('self').map((t) => t.tid);
    const result = lowerHelperThreads(${by});
    const w = new Worker('setInterval(() => {}, 1000)', { eval: true });
    await new Promise((r) => w.once('online', r));
    const nice = Object.fromEntries(threadNices('self').map((t) => [t.tid, t.nice]));
    console.log(JSON.stringify({ result, pid: process.pid, own, before, nice }));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Seen;
}

describe('helper threads', () => {
  it('lowers the threads alive at the call by the setting; the main thread and later threads keep the process priority', () => {
    const s = inChild(7);
    // Relative to the process's own priority (a CI runner may itself run niced), at most 19.
    const lowered = Math.min(19, s.own + 7);
    expect(lowered).toBeGreaterThan(s.own); // else this run proves nothing
    const helpers = s.before.filter((t) => t !== s.pid);
    expect(helpers.length).toBeGreaterThanOrEqual(4); // V8's platform workers, at least
    expect(s.result).toEqual({ lowered: helpers.length, nice: lowered });
    expect(s.nice[String(s.pid)]).toBe(s.own);
    for (const t of helpers) expect(s.nice[String(t)], `thread ${t}`).toBe(lowered);
    const later = Object.keys(s.nice).map(Number).filter((t) => !s.before.includes(t));
    expect(later.length).toBeGreaterThan(0);
    for (const t of later) expect(s.nice[String(t)], `thread ${t} started after`).toBe(s.own);
  });

  it('0 leaves every thread alone', () => {
    const s = inChild(0);
    expect(s.result).toEqual({ lowered: 0, nice: s.own });
    expect(Object.values(s.nice).every((n) => n === s.own)).toBe(true);
  });
});

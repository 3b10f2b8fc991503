// One `audit verify` of a chain in a fresh process, as the CLI runs it (small heap, workers started
// on demand), timed around the verification itself (not Node/tsx start-up). Used by run.ts.
//   npx tsx bench/audit/verify-once.ts <pgUrl> <chain> [cold|warm|reference]
// cold: the CLI's path (verifyDatabase starts its own workers); warm: workers started and ready
// before the clock starts (a long-running auditor); reference: the row-by-row verifier only.
// Prints one JSON line: {rows, seconds, problem, workers, cpuSeconds, pgCpuSeconds} — CPU time of
// this process (all threads) and of the PostgreSQL backend serving the COPY (read from /proc,
// so null where the server is not local or /proc is unavailable), both during the verification.
import { readFileSync } from 'node:fs';
import { connect } from '../../authz/src/audit/pg.js';
import { verifyDatabase } from '../../authz/src/audit/verify-db.js';
import { VerifyPool } from '../../authz/src/audit/verify-pool.js';

const [url, chain, mode = 'cold'] = process.argv.slice(2);
if (url === undefined || chain === undefined || !['cold', 'warm', 'reference'].includes(mode)) {
  process.stderr.write('usage: verify-once.ts <pgUrl> <chain> [cold|warm|reference]\n');
  process.exit(2);
}
const client = await connect(url, 'bench-verify');
const reader = await connect(url, 'bench-verify-2');
const pool = mode === 'warm' ? new VerifyPool() : undefined;
if (pool !== undefined) await pool.ready();
const backendPid = Number((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
/** utime + stime of a local process from /proc (clock ticks of 10 ms), in seconds; null if unreadable. */
function procCpu(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}
const pg0 = procCpu(backendPid);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const [rep] = await verifyDatabase(client, { chain, keys: [], readers: [reader], pool, fast: mode !== 'reference' });
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const pg1 = procCpu(backendPid);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const pgCpuSeconds = pg0 === null || pg1 === null ? null : pg1 - pg0;
await pool?.close();
await client.end();
await reader.end();
process.stdout.write(`${JSON.stringify({ rows: rep?.rows ?? 0, seconds, problem: rep === undefined ? 'no chain' : rep.problem, workers: pool?.size ?? null, cpuSeconds, pgCpuSeconds })}\n`);

// One `audit verify` of a chain in a fresh process, as the CLI runs it, timed around the
// verification itself (not Node/tsx start-up). Used by run.ts.
//   npx tsx bench/audit/verify-once.ts <pgUrl> <chain> <full|inline|incremental> <publicKeyPem> <marksFile>
// full: every row, worker threads as the CLI starts them; inline: every row on this thread only;
// incremental: from the last signed checkpoint the marks file names (the run saves its marks).
// Prints one JSON line: {rows, from_seq, seconds, problem, cpuSeconds, pgCpuSeconds} — CPU time of
// this process (all threads) and of the PostgreSQL backend serving the COPY (read from /proc, so
// null where the server is not local), both during the verification.
import { readFileSync } from 'node:fs';
import { loadVerifier } from '../../authz/src/audit/checkpoint.js';
import { connect } from '../../authz/src/audit/pg.js';
import { verifyDatabase } from '../../authz/src/audit/verify-db.js';
import { databaseKey, VerifyMarks } from '../../authz/src/audit/verify-state.js';

const [url, chain, mode, pubFile, marksFile] = process.argv.slice(2);
if (url === undefined || chain === undefined || !['full', 'inline', 'incremental'].includes(mode ?? '') || pubFile === undefined || marksFile === undefined) {
  process.stderr.write('usage: verify-once.ts <pgUrl> <chain> <full|inline|incremental> <publicKeyPem> <marksFile>\n');
  process.exit(2);
}
const client = await connect(url, 'bench-verify');
const keys = [loadVerifier(readFileSync(pubFile, 'utf8'))];
const marks = VerifyMarks.load(marksFile, await databaseKey(client));
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
const [rep] = await verifyDatabase(client, { chain, keys, marks, full: mode !== 'incremental', ...(mode === 'inline' ? { workers: 0 } : {}) });
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const pg1 = procCpu(backendPid);
marks.save();
await client.end();
process.stdout.write(`${JSON.stringify({
  rows: rep?.rows ?? 0, from_seq: rep?.from_seq ?? null, seconds, problem: rep === undefined ? 'no chain' : rep.problem,
  cpuSeconds: (cpu.user + cpu.system) / 1e6, pgCpuSeconds: pg0 === null || pg1 === null ? null : pg1 - pg0,
})}\n`);

// A load run in a worker thread (testing/load.ts openLoopInWorker): its own event loop, so a heavy
// client (a flood: thousands of TLS requests a second) does not delay the Mem0 stand-in and the
// harness in the main thread, nor they its sending and timing.
import { parentPort, workerData } from 'node:worker_threads';
import { loadClient, mixed, openLoop } from './load.js';

interface Job { baseUrl: string; caFile: string; sessions: number; rate: number; durationMs: number; tokens: string[]; epochOffset: number }

const job = workerData as Job;
const client = loadClient(job.baseUrl, job.caFile, { sessions: job.sessions });
const results = await openLoop(client, { rate: job.rate, durationMs: job.durationMs, make: mixed(job.tokens) });
await client.close();
// sentAt on the caller's time axis.
for (const r of results) r.sentAt += job.epochOffset;
parentPort!.postMessage(results);

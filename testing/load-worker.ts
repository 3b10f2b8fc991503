// A load client in a worker thread (testing/load.ts startLoadWorker): its own event loop, so a
// heavy client (a flood: thousands of TLS requests a second) does not delay the Mem0 stand-in and
// the harness in the main thread, nor they its sending and timing. It keeps its connections
// between runs; each message is one run, 'close' ends it.
import { parentPort, workerData } from 'node:worker_threads';
import { loadClient, mixed, openLoop } from './load.js';

interface Setup { baseUrl: string; caFile: string; sessions: number; tokens: string[] }
interface Run { rate: number; durationMs: number; epochOffset: number }

const setup = workerData as Setup;
const client = loadClient(setup.baseUrl, setup.caFile, { sessions: setup.sessions });
parentPort!.on('message', (msg: Run | 'close') => {
  if (msg === 'close') {
    void client.close().then(() => process.exit(0));
    return;
  }
  void openLoop(client, { rate: msg.rate, durationMs: msg.durationMs, make: mixed(setup.tokens) }).then((results) => {
    // sentAt on the caller's time axis.
    for (const r of results) r.sentAt += msg.epochOffset;
    parentPort!.postMessage(results);
  });
});

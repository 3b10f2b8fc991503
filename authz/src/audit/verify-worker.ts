// Worker-thread entry of the verify pool (verify-pool.ts): verifies COPY text blocks.
import { parentPort } from 'node:worker_threads';
import { NOT_VERIFIED, verifyBlock } from './verify-block.js';
import type { WorkerReady, WorkerReply, WorkerRequest } from './verify-pool.js';

const port = parentPort;
if (port === null) throw new Error('verify-worker must run in a worker thread');
let job: { id: number; chainId: string; cps: Map<number, string[]> } | null = null;
port.on('message', (m: WorkerRequest) => {
  if (m.type === 'job') {
    job = { id: m.job, chainId: m.chainId, cps: new Map(m.cps) };
    return;
  }
  const summary = job === null || job.id !== m.job ? NOT_VERIFIED : verifyBlock(m.bytes, job.chainId, job.cps);
  // The block's buffer goes back to the pool for the reader to fill again.
  const buffer = m.bytes.buffer as ArrayBuffer;
  const reply: WorkerReply = { job: m.job, block: m.block, summary, buffer };
  port.postMessage(reply, [buffer]);
});
const ready: WorkerReady = { ready: true, from: import.meta.url };
port.postMessage(ready);

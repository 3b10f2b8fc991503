// A small pool of worker threads that verify COPY text blocks in parallel (verify-block.ts).
// Each row's hash depends only on values stored in that row (prev_hash included), so blocks
// are independent; the caller checks the links between blocks in order.
// Workers run the prebuilt plain-JS bundle (build-worker.ts) when it is fresh: it starts much
// faster. Otherwise they load the TypeScript entry through tsx's API (the project runs on tsx;
// Node 20 does not pass loader hooks to workers). If a worker cannot start, blocks are verified inline.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { freshWorkerBundle } from './build-worker.js';
import { NOT_VERIFIED, verifyBlock, type BlockSummary, type CheckpointHashes } from './verify-block.js';

export type WorkerRequest =
  | { type: 'job'; job: number; chainId: string; cps: [number, string[]][] }
  | { type: 'block'; job: number; block: number; bytes: Uint8Array };
/** `buffer`: the block's ArrayBuffer handed back (transferred) for the reader to fill again. */
export type WorkerReply = { job: number; block: number; summary: BlockSummary; buffer: ArrayBuffer };
/** A worker's first message: `from` is the module URL it runs (the bundle's or verify-worker.ts'). */
export type WorkerReady = { ready: true; from: string };

export interface VerifyPoolOptions {
  /** Prebuilt worker bundle to use when fresh (default dist/audit/verify-worker.mjs); null = never. */
  bundle?: string | null;
  /** A worker not up after this long is given up (its blocks are verified inline). Default 15 s. */
  startTimeoutMs?: number;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  dead: boolean;
  /** Pending blocks by `job:block`: a late reply for an abandoned job never settles a new job's block. */
  inflight: Map<string, (s: BlockSummary) => void>;
}

const MAX_INFLIGHT_PER_WORKER = 3;
/** Block buffers kept for reuse: every block in flight plus the reader's read-ahead. */
const MAX_FREE_BUFFERS = 16;

function tsxWorkerSource(): string {
  // tsx/esm/api resolves to its CommonJS build through require; the ESM build sits beside it.
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const entry = new URL('./verify-worker.ts', import.meta.url).href;
  return `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`;
}

/** One worker per core, at most 4 (measured on 2 cores, workers warm: 2 workers ≈ 1.2× one, 1.4× inline). */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

export class VerifyPool {
  private readonly slots: Slot[] = [];
  private job = 0;
  private chainId = '';
  private cps: CheckpointHashes = new Map();
  private waiters: (() => void)[] = [];
  private readonly freeBuffers: ArrayBuffer[] = [];
  /** Blocks verified by worker threads / on the calling thread (for tests and the bench). */
  readonly stats = { worker: 0, inline: 0 };
  /** Module URLs the started workers report running (for tests: bundle or TypeScript entry). */
  readonly startedFrom = new Set<string>();

  /** `size` 0 = everything inline (small chains, or no worker threads wanted). */
  constructor(size = defaultWorkers(), opts: VerifyPoolOptions = {}) {
    if (size === 0) return;
    const bundle = opts.bundle === null ? null : freshWorkerBundle(opts.bundle);
    let spawn: () => Worker;
    if (bundle !== null) {
      // Plain JS: no loader needed, so don't hand the parent's (tsx) flags to the worker either.
      const wopts: WorkerOptions = { execArgv: [] };
      spawn = () => new Worker(pathToFileURL(bundle), wopts);
    } else {
      let src: string;
      try {
        src = tsxWorkerSource();
      } catch {
        return; // tsx not resolvable: inline only
      }
      spawn = () => new Worker(src, { eval: true });
    }
    for (let i = 0; i < size; i++) {
      const slot: Slot = { worker: spawn(), ready: false, dead: false, inflight: new Map() };
      slot.worker.unref();
      slot.worker.on('message', (m: WorkerReply | WorkerReady) => {
        if ('ready' in m) {
          slot.ready = true;
          this.startedFrom.add(m.from);
          slot.worker.postMessage(this.jobMessage());
        } else {
          const key = `${m.job}:${m.block}`;
          const done = slot.inflight.get(key);
          slot.inflight.delete(key);
          this.stats.worker++;
          this.recycle(m.buffer);
          done?.(m.summary);
        }
        this.wake();
      });
      const fail = (): void => {
        slot.dead = true;
        // Its blocks were transferred away: report them not-ok, so the caller runs the reference verifier.
        for (const done of slot.inflight.values()) done(NOT_VERIFIED);
        slot.inflight.clear();
        this.wake();
      };
      slot.worker.on('error', fail);
      slot.worker.on('exit', fail);
      // A worker that never comes up must not hold verification up: give up on it (blocks go inline).
      setTimeout(() => { if (!slot.ready) void slot.worker.terminate(); }, opts.startTimeoutMs ?? 15_000).unref();
      this.slots.push(slot);
    }
  }

  private jobMessage(): WorkerRequest {
    return { type: 'job', job: this.job, chainId: this.chainId, cps: [...this.cps].map(([s, h]) => [s, [...h]]) };
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Starts a chain: later blocks are checked against this chain id and these checkpoint hashes. */
  startJob(chainId: string, cps: CheckpointHashes): void {
    this.job++;
    this.chainId = chainId;
    this.cps = cps;
    const msg = this.jobMessage();
    for (const s of this.slots) if (s.ready && !s.dead) s.worker.postMessage(msg);
  }

  /**
   * Verifies a block (whole lines). Resolves once the block is handed over; waits for a free
   * worker when all are busy (back-pressure for the reader) or still starting, verifies inline
   * when no worker is up or can come up. `bytes` is transferred to the worker: its ArrayBuffer
   * must be its own (copy-out.ts blocks are); it comes back for reuse (allocBlock).
   */
  async submit(block: number, bytes: Uint8Array): Promise<{ summary: Promise<BlockSummary> }> {
    // Wrapped: an async function returning a bare promise would wait for the verification itself.
    for (;;) {
      const live = this.slots.filter((s) => s.ready && !s.dead);
      if (live.length === 0) {
        // Workers still starting: wait for them (~40 ms) rather than hash on this thread, whose
        // not yet optimized code would hold up the reader far longer (measured: a fresh CLI
        // process verified ~25% slower that way).
        if (this.slots.some((s) => !s.ready && !s.dead)) {
          await new Promise<void>((r) => this.waiters.push(r));
          continue;
        }
        break;
      }
      const slot = live.reduce((a, b) => (b.inflight.size < a.inflight.size ? b : a));
      if (slot.inflight.size < MAX_INFLIGHT_PER_WORKER) {
        const result = new Promise<BlockSummary>((resolve) => slot.inflight.set(`${this.job}:${block}`, resolve));
        const req: WorkerRequest = { type: 'block', job: this.job, block, bytes };
        slot.worker.postMessage(req, [bytes.buffer as ArrayBuffer]);
        return { summary: result };
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
    return { summary: Promise.resolve(this.inline(bytes)) };
  }

  private inline(bytes: Uint8Array): BlockSummary {
    this.stats.inline++;
    const summary = verifyBlock(bytes, this.chainId, this.cps);
    this.recycle(bytes.buffer as ArrayBuffer);
    return summary;
  }

  /**
   * A buffer of at least `bytes` bytes for the reader's next block: one handed back by a worker
   * when there is one (fewer fresh ArrayBuffers, less garbage-collector work), else a new one.
   */
  allocBlock(bytes: number): ArrayBuffer {
    const i = this.freeBuffers.findIndex((b) => b.byteLength >= bytes);
    return i === -1 ? new ArrayBuffer(bytes) : this.freeBuffers.splice(i, 1)[0]!;
  }

  private recycle(buffer: ArrayBuffer): void {
    if (this.freeBuffers.length < MAX_FREE_BUFFERS) this.freeBuffers.push(buffer);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Resolves once every worker is up or gone; true if at least one is up. */
  async ready(): Promise<boolean> {
    while (this.slots.some((s) => !s.ready && !s.dead)) await new Promise<void>((r) => this.waiters.push(r));
    return this.slots.some((s) => s.ready && !s.dead);
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate().catch(() => 0)));
  }
}

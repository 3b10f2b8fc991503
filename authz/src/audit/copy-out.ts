// COPY … TO STDOUT read straight off the connection's socket into blocks of whole lines, ready to
// be transferred to verify workers, in buffers the caller may recycle. Why not pg-copy-streams'
// copy-to here: it makes a Buffer per CopyData message and a concatenation per socket chunk, and
// cutting that into line blocks copied everything once more — three times the chain's size in
// fresh ArrayBuffers, which kept V8's major GC busy on external-memory pressure. Here each row is
// copied once, into a recycled block. (The writer's COPY FROM still uses pg-copy-streams.)
// The hand-over to and from pg follows pg-copy-streams: take pg's 'data' listener off the socket
// for the COPY and give it back (with the bytes after CopyDone, or from an ErrorResponse on), so
// pg parses CommandComplete / ErrorResponse / ReadyForQuery and calls this query's handlers.
import type { Duplex } from 'node:stream';
import type pg from 'pg';

const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const ERROR_RESPONSE = 0x45; // E
/** Messages that may come before or between CopyData: CopyOutResponse, NoticeResponse, ParameterStatus, NotificationResponse. */
const SKIPPED = new Set([0x48, 0x4e, 0x53, 0x41]);
const NEWLINE = 10;
const HEADER = 5; // type byte + int32 length (which counts itself)

/** Blocks hold about this many bytes of whole lines (a longer single line makes a longer block). */
const BLOCK_BYTES = 512 * 1024;
/** Capacity of a block buffer: room beyond BLOCK_BYTES, so a block rarely has to move a partial line. */
export const BLOCK_CAPACITY = BLOCK_BYTES + 64 * 1024;
/** Blocks read ahead of the consumer before the socket is left unread (backpressure). */
const MAX_QUEUED = 2;

/** Returns a buffer of at least `bytes` bytes for a new block (e.g. one a worker handed back). */
export type BlockAllocator = (bytes: number) => ArrayBuffer;
const freshBlock: BlockAllocator = (bytes) => new ArrayBuffer(bytes);

type DataHandler = (chunk: Buffer) => void;

class CopyOutBlocks implements pg.Submittable {
  private stream: Duplex | null = null;
  private pgData: DataHandler | null = null;
  // Parse state: the start of a header split across chunks, payload bytes still to come, bytes
  // of a message that is not CopyData (notice, parameter status) still to skip.
  private head: Buffer | null = null;
  private left = 0;
  private skip = 0;
  // The block being filled; lineEnd = its length up to the last complete line.
  private block: Uint8Array;
  private pos = 0;
  private lineEnd = 0;
  private readonly queue: Uint8Array[] = [];
  /** pg is done with this query (ReadyForQuery, or an error pg reported). */
  private finished = false;
  private error: Error | null = null;
  /** Read on to the end without keeping anything: the consumer left early, or pg gave up on the query. */
  private discard = false;
  private wake: (() => void) | null = null;

  constructor(private readonly text: string, private readonly alloc: BlockAllocator) {
    this.block = new Uint8Array(alloc(BLOCK_CAPACITY));
  }

  // pg expects an Error returned (not thrown) from submit: it then reports it through handleError.
  submit(connection: pg.Connection): Error | undefined {
    const stream = connection.stream;
    const listeners = stream.listeners('data') as DataHandler[];
    if (listeners.length !== 1) return new Error(`COPY TO: expected pg's one data listener on the socket, found ${listeners.length}`);
    this.stream = stream;
    this.pgData = listeners[0]!;
    stream.removeListener('data', this.pgData);
    stream.pause();
    stream.on('readable', this.onReadable);
    (connection as unknown as { query(text: string): void }).query(this.text);
    this.pump();
    return undefined;
  }

  private readonly onReadable = (): void => this.pump();

  private pump(): void {
    while (this.stream !== null && (this.discard || this.queue.length < MAX_QUEUED)) {
      const chunk = this.stream.read() as Buffer | null;
      if (chunk === null) return;
      this.parse(chunk);
    }
  }

  private parse(input: Buffer): void {
    let chunk = input;
    if (this.head !== null) {
      chunk = Buffer.concat([this.head, chunk]);
      this.head = null;
    }
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.left > 0) {
        const take = Math.min(this.left, n - i);
        if (!this.discard) this.append(chunk, i, i + take);
        i += take;
        this.left -= take;
        if (this.left === 0) this.endOfRow();
        continue;
      }
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        i += take;
        this.skip -= take;
        continue;
      }
      if (n - i < HEADER) {
        this.head = Buffer.from(chunk.subarray(i));
        return;
      }
      const code = chunk[i]!;
      const len = chunk.readUInt32BE(i + 1) - 4;
      if (code === ERROR_RESPONSE) {
        this.handBack(chunk.subarray(i)); // pg parses it and calls handleError
        return;
      }
      i += HEADER;
      if (code === COPY_DATA) {
        this.left = len;
        if (len === 0) this.endOfRow();
      } else if (code === COPY_DONE) {
        if (!this.discard) {
          if (this.pos > this.lineEnd) this.error = new Error('COPY TO ended inside a line');
          this.flush();
        }
        this.handBack(chunk.subarray(i + len)); // CommandComplete and ReadyForQuery follow
        return;
      } else if (SKIPPED.has(code)) {
        this.skip = len;
      } else {
        // Not a COPY TO after all (or a protocol surprise): let pg parse the rest and finish the query.
        this.error ??= new Error(`COPY TO: unexpected message ${JSON.stringify(String.fromCharCode(code))} from the server`);
        this.handBack(chunk.subarray(i - HEADER));
        return;
      }
    }
  }

  private append(src: Buffer, a: number, b: number): void {
    if (this.pos + (b - a) > this.block.length) {
      // Full: ship the complete lines, carry the partial line over into the next block.
      const carry = this.block.subarray(this.lineEnd, this.pos);
      const next = new Uint8Array(this.alloc(Math.max(BLOCK_CAPACITY, 2 * (carry.length + (b - a)))));
      next.set(carry);
      this.flush();
      this.block = next;
      this.pos = carry.length;
    }
    this.block.set(src.subarray(a, b), this.pos);
    this.pos += b - a;
  }

  private endOfRow(): void {
    // PostgreSQL sends one row per CopyData message; cut only after a newline all the same.
    if (this.pos === 0 || this.block[this.pos - 1] !== NEWLINE) return;
    this.lineEnd = this.pos;
    if (this.pos >= BLOCK_BYTES) {
      this.flush();
      this.block = new Uint8Array(this.alloc(BLOCK_CAPACITY));
      this.pos = 0;
    }
  }

  /** Queues the complete lines of the current block (a view on its own ArrayBuffer, transferable). */
  private flush(): void {
    if (this.lineEnd > 0) this.queue.push(new Uint8Array(this.block.buffer, 0, this.lineEnd));
    this.lineEnd = 0;
    this.notify();
  }

  private handBack(rest: Buffer): void {
    const stream = this.stream;
    const pgData = this.pgData;
    if (stream === null || pgData === null) return;
    this.stream = null;
    stream.removeListener('readable', this.onReadable);
    stream.on('data', pgData);
    if (rest.length > 0) pgData(rest);
    // As pg-copy-streams: resume on the next tick, after pg's handler has run.
    process.nextTick(() => stream.resume());
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  // pg calls these once it has the socket back, or when it gives up on the query itself (lost
  // connection, query_timeout) while the socket is still ours: then read on, discarding, and hand
  // the socket back at a message boundary (CopyDone or ErrorResponse), never in mid-message.
  handleError(err: Error): void {
    this.error ??= err;
    this.finished = true;
    if (this.stream !== null) this.startDiscarding();
    this.notify();
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    this.finished = true;
    this.notify();
  }

  // What pg may call on a query it parses messages for, should the server send other than COPY
  // output (see the unexpected-message case in parse): nothing to do.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}

  async *blocks(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const b = this.queue.shift();
        if (b !== undefined) {
          this.pump(); // room in the queue again: read on
          yield b;
          continue;
        }
        if (this.finished) {
          if (this.error !== null) throw this.error;
          return;
        }
        await this.settled();
      }
    } finally {
      // The consumer left early (break, throw): read the COPY to its end, discarding, so pg gets
      // its socket back and the session stays usable.
      if (!this.finished) {
        this.startDiscarding();
        while (!this.finished) await this.settled();
      }
    }
  }

  /** Drops what is queued and reads on without keeping anything, up to the hand-back. */
  private startDiscarding(): void {
    this.discard = true;
    this.queue.length = 0;
    this.pump();
  }

  private settled(): Promise<void> {
    return new Promise<void>((resolve) => { this.wake = resolve; });
  }
}

/**
 * Runs `COPY … TO STDOUT` (text format) on `client` and yields its output as blocks of whole
 * lines: each ends with "\n" and is a view from offset 0 of an ArrayBuffer of its own (from
 * `alloc`), so it can be transferred. Errors (the server's, or a lost connection) are thrown after
 * the blocks read before them. A consumer that stops early (break, throw) waits while the rest of
 * the COPY is read and dropped, so the session is usable afterwards.
 */
export async function* copyOutBlocks(client: pg.Client, copySql: string, alloc: BlockAllocator = freshBlock): AsyncGenerator<Uint8Array> {
  // Started by the first next(), so a reader nobody iterates never takes the socket.
  const q = new CopyOutBlocks(copySql, alloc);
  client.query(q);
  yield* q.blocks();
}

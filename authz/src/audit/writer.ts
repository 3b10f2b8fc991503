// One chain's writer: holds the chain's advisory lock on its own connection, seals events
// (seq, prev_hash, hash assigned exactly once), group-commits them every few ms (one COPY per
// batch, the next batch hashed while the previous commits), spools them (fsync) while PostgreSQL
// is down and replays the spool in order when it returns.
import type pg from 'pg';
import type { Logger } from '../logger.js';
import * as metrics from '../metrics.js';
import type { AuditEvent } from '../types.js';
import { loadSigner, type Checkpoint, type CheckpointSigner } from './checkpoint.js';
import type { AuditConfig } from './config.js';
import { encodeCopyRows } from './copy-text.js';
import { connect, copyEncodedRows, insertCheckpoint, insertRows, isUniqueViolation, readHead, tryLockChain, MAX_ROWS_PER_INSERT } from './pg.js';
import { AuditError, GENESIS_HASH, normalizeEvent, sealNormalized, type AuditRow } from './row.js';
import { openSpool, type Spool } from './spool.js';

const PING_EVERY_MS = 1000;
/** Rows sealed between two yields to the event loop while a batch is in flight. */
const SEAL_SLICE = 500;

interface Pending {
  ev: AuditEvent;
  resolve(): void;
  reject(err: Error): void;
}

/** A batch with seq/prev_hash/hash assigned, ready to write; `before` = head before it. */
interface Sealed {
  batch: Pending[];
  rows: AuditRow[];
  encoded: string;
  before: { seq: number; hash: string };
}

export interface WriterHealth {
  pg: boolean;
  spoolDepth: number;
  queueDepth: number;
  spoolWritable: boolean;
}

export interface WriterOptions {
  clock?: () => number;
  /** How long to wait for the chain lock before failing (0 = fail at once). */
  lockWaitMs?: number;
}

export class ChainWriter {
  private client: pg.Client | null = null;
  private head: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };
  private queue: Pending[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private timer: { cancel(): void } | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private nextReconnectAt = 0;
  private lastCp = { seq: 0, at: 0 };
  private forceCheckpoint = false;
  private closed = false;
  private readonly signer: CheckpointSigner | null;
  private readonly clock: () => number;

  private constructor(
    private readonly cfg: AuditConfig,
    private readonly logger: Logger,
    private readonly spool: Spool | null,
    opts: WriterOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.signer = cfg.checkpointKeyPem !== undefined ? loadSigner(cfg.checkpointKeyPem) : null;
  }

  static async open(cfg: AuditConfig, logger: Logger, opts: WriterOptions = {}): Promise<ChainWriter> {
    const spool = cfg.spool ? await openSpool(cfg.spoolDir, cfg.chainId) : null;
    const w = new ChainWriter(cfg, logger, spool, opts);
    try {
      await w.start(opts.lockWaitMs ?? 0);
    } catch (err) {
      await spool?.close();
      throw err;
    }
    return w;
  }

  get chainId(): string {
    return this.cfg.chainId;
  }

  get publicKeyPem(): string | null {
    return this.signer?.publicKeyPem ?? null;
  }

  private async start(lockWaitMs: number): Promise<void> {
    if (this.signer === null) {
      this.logger.warn({ chainId: this.cfg.chainId }, 'MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE unset: no signed checkpoints; a consistently rewritten chain would not be detectable');
    }
    const deadline = this.clock() + lockWaitMs;
    for (;;) {
      try {
        await this.connectAndRecover();
        break;
      } catch (err) {
        if (err instanceof AuditError && err.reason === 'chain_locked') {
          if (this.clock() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
            continue;
          }
          throw err;
        }
        const spooled = this.spool?.rows() ?? [];
        const last = spooled[spooled.length - 1];
        if (last === undefined) {
          throw new AuditError('audit_unavailable', `PostgreSQL unreachable at start and no spooled head for chain ${this.cfg.chainId}: ${(err as Error).message}`);
        }
        // The spool's last row is the head: rows reach the spool only after every earlier row.
        this.head = { seq: last.seq, hash: last.hash };
        this.nextReconnectAt = this.clock() + this.cfg.reconnectMs;
        this.logger.warn({ chainId: this.cfg.chainId, spooled: spooled.length }, 'PostgreSQL unreachable at start: spooling');
        break;
      }
    }
    this.lastCp = { seq: this.head.seq, at: this.clock() };
    // Drives reconnects (spool drain without traffic) and time-based checkpoints.
    const every = Math.min(this.cfg.reconnectMs, this.cfg.checkpointSeconds * 1000);
    this.ticker = setInterval(() => this.kick(), every);
    this.ticker.unref();
    this.updateMetrics();
  }

  /** Connects, takes the chain lock, recovers the head, replays the spool. Throws on failure. */
  private async connectAndRecover(): Promise<void> {
    const c = await connect(this.cfg.pgUrl, `mem0gov-audit:${this.cfg.chainId}`);
    try {
      // "Durable before the answer" means a flushed commit, whatever the server default is.
      await c.query('SET synchronous_commit = on');
      if (!(await tryLockChain(c, this.cfg.chainId))) {
        throw new AuditError('chain_locked', `audit chain ${JSON.stringify(this.cfg.chainId)} is held by another writer (PostgreSQL advisory lock); give each instance its own MEM0_GOV_AUDIT_CHAIN_ID`);
      }
      const spooled = this.spool?.rows() ?? [];
      if (spooled.length > 0) {
        const dbHead = await readHead(c, this.cfg.chainId);
        const first = spooled[0]!;
        if ((dbHead?.hash ?? GENESIS_HASH) !== first.prev_hash && (dbHead?.seq ?? 0) < first.seq) {
          this.logger.error({ chainId: this.cfg.chainId, dbSeq: dbHead?.seq ?? 0, spoolFirst: first.seq }, 'spool does not continue the stored chain; replaying anyway (verify will report it)');
        }
        await c.query('BEGIN');
        try {
          await insertRows(c, spooled);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        this.logger.info({ chainId: this.cfg.chainId, rows: spooled.length }, 'audit spool replayed');
        await this.spool!.clear();
      }
      this.head = (await readHead(c, this.cfg.chainId)) ?? { seq: 0, hash: GENESIS_HASH };
      this.client = c;
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
  }

  append(ev: AuditEvent): Promise<void> {
    if (this.closed) return Promise.reject(new AuditError('audit_closed', 'audit sink is closed'));
    let normalized: AuditEvent;
    try {
      normalized = normalizeEvent(ev);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ev: normalized, resolve, reject });
      metrics.auditQueueDepth.set(this.queue.length);
      if (this.queue.length >= this.cfg.maxBatch) this.kick();
      else if (this.timer === null && !this.running) {
        // Nothing in flight: write now (events of the same tick still share the commit). While a
        // commit is in flight the loop takes whatever gathered as soon as it is done, so batching
        // under load needs no timer. A configured window only adds an idle wait.
        if (this.cfg.batchMs > 0) {
          const t = setTimeout(() => this.kick(), this.cfg.batchMs);
          this.timer = { cancel: () => clearTimeout(t) };
        } else {
          const i = setImmediate(() => this.kick());
          this.timer = { cancel: () => clearImmediate(i) };
        }
      }
    });
  }

  /** Forces a signed checkpoint over the committed head; null when there is no key or nothing new. */
  async checkpointNow(): Promise<Checkpoint | null> {
    this.forceCheckpoint = true;
    await this.idle();
    return this.lastWritten;
  }

  private lastWritten: Checkpoint | null = null;

  health(): WriterHealth {
    return {
      pg: this.client !== null,
      spoolDepth: this.spool?.depth() ?? 0,
      queueDepth: this.queue.length,
      spoolWritable: this.spool?.writable() ?? false,
    };
  }

  private kick(): void {
    this.clearTimer();
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      // Events that arrived after the last pass (none normally: the loop drains the queue).
      if (this.queue.length > 0) this.kick();
    });
  }

  private clearTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.kick();
    });
  }

  private async loop(): Promise<void> {
    try {
      if (this.client === null && this.clock() >= this.nextReconnectAt) await this.reconnect();
      while (this.queue.length > 0) {
        // Under steady load the queue never empties: retry PostgreSQL between batches too.
        if (this.client === null && this.clock() >= this.nextReconnectAt) await this.reconnect();
        let cur: Sealed | null = this.sealBatch(this.takeBatch());
        while (cur !== null) {
          const writing = this.commit(cur);
          // Seal (hash + encode) the next batch while PostgreSQL commits this one: two cores busy
          // instead of one. Only on the PostgreSQL path; statements are still sent one at a time.
          const next: Sealed | null = this.client !== null && this.queue.length > 0 ? await this.sealBatchYielding(this.takeBatch()) : null;
          const stored = await writing;
          if (next !== null && !stored) {
            // `cur` was durable nowhere and its seqs are reused: `next` must be sealed again after it.
            this.queue.unshift(...next.batch);
            cur = null;
          } else cur = next;
        }
      }
      if (this.client !== null && this.checkpointDue()) await this.writeCheckpoint();
      // Idle: probe the session now and then so health() (readiness) notices a dead PostgreSQL.
      if (this.client !== null && this.queue.length === 0 && this.clock() - this.lastOkAt >= PING_EVERY_MS) await this.ping();
    } catch (err) {
      // commit() settles every promise itself; this is a last line of defence.
      this.logger.error({ err: { message: (err as Error).message } }, 'audit writer loop failed');
    } finally {
      this.forceCheckpoint = false;
      this.updateMetrics();
    }
  }

  private takeBatch(): Pending[] {
    return this.queue.splice(0, Math.min(this.cfg.maxBatch, MAX_ROWS_PER_INSERT));
  }

  /** Assigns seq, prev_hash and hash (advancing the head) and encodes the COPY payload. */
  private sealBatch(batch: Pending[]): Sealed {
    const before = this.head;
    const rows: AuditRow[] = [];
    for (const p of batch) {
      const row = sealNormalized(this.cfg.chainId, this.head, p.ev);
      this.head = { seq: row.seq, hash: row.hash };
      rows.push(row);
    }
    return { batch, rows, encoded: encodeCopyRows(rows), before };
  }

  /** sealBatch in slices, yielding between them so the socket keeps sending the batch in flight. */
  private async sealBatchYielding(batch: Pending[]): Promise<Sealed> {
    const before = this.head;
    const rows: AuditRow[] = [];
    let encoded = '';
    for (let i = 0; i < batch.length; i += SEAL_SLICE) {
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      const slice = this.sealBatch(batch.slice(i, i + SEAL_SLICE));
      for (const r of slice.rows) rows.push(r);
      encoded += slice.encoded;
    }
    return { batch, rows, encoded, before };
  }

  private async reconnect(): Promise<void> {
    this.nextReconnectAt = this.clock() + this.cfg.reconnectMs;
    try {
      await this.connectAndRecover();
      this.logger.info({ chainId: this.cfg.chainId, seq: this.head.seq }, 'audit writer reconnected to PostgreSQL');
    } catch (err) {
      this.logger.debug({ err: { message: (err as Error).message } }, 'audit reconnect failed');
    }
  }

  /** Makes a sealed batch durable (PostgreSQL, else spool) and settles its promises; false if neither took it. */
  private async commit(sealed: Sealed): Promise<boolean> {
    const { batch, rows } = sealed;
    const settle = (err?: Error): void => {
      for (const p of batch) (err ? p.reject(err) : p.resolve());
    };
    const client = this.client;
    if (client !== null) {
      try {
        // One COPY = one transaction (batches never exceed MAX_ROWS_PER_INSERT).
        await copyEncodedRows(client, sealed.encoded);
        this.lastOkAt = this.clock();
        settle();
        return true;
      } catch (err) {
        // COPY has no ON CONFLICT: a duplicate event_id (already stored) fails the whole COPY,
        // and the INSERT … ON CONFLICT (event_id) DO NOTHING path keeps today's exactly-once semantics.
        if (isUniqueViolation(err) && this.client === client) {
          try {
            await insertRows(client, rows);
            this.lastOkAt = this.clock();
            settle();
            return true;
          } catch (err2) {
            this.markDown(err2 as Error);
          }
        } else this.markDown(err as Error);
      }
    }
    if (this.spool !== null) {
      try {
        await this.spool.append(rows);
        this.updateMetrics();
        settle();
        return true;
      } catch (err) {
        this.logger.error({ err: { message: (err as Error).message }, path: this.spool.path }, 'audit spool write failed');
      }
    }
    // Durable nowhere: these seqs were never stored, so the next batch reuses them.
    this.head = sealed.before;
    settle(new AuditError('audit_unavailable', 'audit event could not be committed to PostgreSQL or spooled'));
    return false;
  }

  private lastOkAt = 0;

  private async ping(): Promise<void> {
    try {
      await this.client!.query('SELECT 1');
      this.lastOkAt = this.clock();
    } catch (err) {
      this.markDown(err as Error);
    }
  }

  private markDown(err: Error): void {
    this.logger.warn({ chainId: this.cfg.chainId, err: { message: err.message } }, 'PostgreSQL write failed: spooling audit events');
    const c = this.client;
    this.client = null;
    void c?.end().catch(() => undefined);
    this.nextReconnectAt = this.clock() + this.cfg.reconnectMs;
  }

  private checkpointDue(): boolean {
    if (this.signer === null || this.head.seq <= this.lastCp.seq) return false;
    if (this.forceCheckpoint) return true;
    return this.head.seq - this.lastCp.seq >= this.cfg.checkpointEvery
      || this.clock() - this.lastCp.at >= this.cfg.checkpointSeconds * 1000;
  }

  private async writeCheckpoint(): Promise<void> {
    if (this.signer === null || this.client === null) return;
    const cp = this.signer.sign(this.cfg.chainId, this.head.seq, this.head.hash, new Date(this.clock()).toISOString());
    try {
      await insertCheckpoint(this.client, cp);
      this.lastCp = { seq: cp.seq, at: this.clock() };
      this.lastWritten = cp;
    } catch (err) {
      this.markDown(err as Error);
    }
  }

  private updateMetrics(): void {
    metrics.auditQueueDepth.set(this.queue.length);
    metrics.auditSpoolDepth.set(this.spool?.depth() ?? 0);
  }

  /** Flushes the queue, writes a last checkpoint, releases the lock (by closing its session). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.forceCheckpoint = true;
    await this.idle();
    this.clearTimer();
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
    await this.spool?.close();
  }
}

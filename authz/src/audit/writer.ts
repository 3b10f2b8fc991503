// One chain's writer: holds the chain's advisory lock on its own connection, seals events
// (seq, prev_hash, hash assigned exactly once), group-commits them (at once when idle; under load
// the next batch gathers and is hashed while the previous commits; one statement per batch), and keeps answers flowing when
// PostgreSQL is down *or slow*: a batch PostgreSQL has not confirmed within the durability
// deadline goes to the fsynced spool and its promises resolve; later batches follow it there
// (chain order); the spool is replayed in bounded chunks beside new decisions once PostgreSQL
// answers again, and the writer goes back to writing PostgreSQL directly when it has caught up
// (audit/README.md "Writing").
//
// Batches of up to INSERT_MAX_ROWS rows are one prepared INSERT … VALUES (one round trip), larger ones one COPY.
// Two activities share the one session:
//   intake  — seals queued events and makes them durable: PostgreSQL directly (mode `direct`) or
//             the spool (mode `spool`). The only path an answer waits on.
//   recovery — in the background: reconnects, replays the spool chunk by chunk, hands back to
//             `direct` when nothing is left; never on an answer's path.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Logger } from '../logger.js';
import { onDeadline } from '../deadline.js';
import { createLogLimiter } from '../log-limit.js';
import * as metrics from '../metrics.js';
import type { AuditEvent } from '../types.js';
import { loadSigner, type Checkpoint, type CheckpointSigner } from './checkpoint.js';
import type { AuditConfig } from './config.js';
import { encodeCopyRows } from './copy-text.js';
import { connect, copyEncodedRows, insertCheckpoint, insertRows, insertValues, isUniqueViolation, readHead, tryLockChain, MAX_ROWS_PER_INSERT, MAX_ROWS_PER_VALUES } from './pg.js';
import { AuditError, GENESIS_HASH, normalizeEvent, sealNormalized, type AuditRow } from './row.js';
import { openSpool, type Spool } from './spool.js';

const PING_EVERY_MS = 1000;
/** Rows sealed between two yields to the event loop while a batch is in flight. */
const SEAL_SLICE = 500;
/** Up to this many rows a batch is one INSERT (one write, one round trip); more: one COPY (two
 * round trips, cheaper per row). Under a steady trickle most batches hold a few rows. */
const INSERT_MAX_ROWS = MAX_ROWS_PER_VALUES;
/** Spool rows replayed per statement (one transaction each) while new decisions keep coming. */
export const REPLAY_CHUNK = 1000;
/** A session operation that has not settled after this long is abandoned (connection closed,
 * reconnect); the advisory lock keeps a late commit of it from racing the replay. */
const ABANDON_MS = 30_000;

interface Pending {
  ev: AuditEvent;
  /** performance.now() at append: the durability deadline counts from here. */
  at: number;
  resolve(): void;
  reject(err: Error): void;
}

/** A batch with seq/prev_hash/hash assigned, ready to write; `before` = head before it;
 * `encoded`: the COPY payload, for batches written with COPY (more than INSERT_MAX_ROWS rows). */
interface Sealed {
  batch: Pending[];
  rows: AuditRow[];
  encoded: string;
  before: { seq: number; hash: string };
}

export interface WriterHealth {
  /** PostgreSQL answers: connected and not stalled. */
  pg: boolean;
  /** Spooled rows not yet confirmed in PostgreSQL. */
  spoolDepth: number;
  queueDepth: number;
  spoolWritable: boolean;
}

export interface WriterOptions {
  clock?: () => number;
  /** How long to wait for the chain lock before failing (0 = fail at once). */
  lockWaitMs?: number;
  /**
   * The durability deadline (ms): how long an event may wait for PostgreSQL's commit before its
   * batch goes to the spool and append() resolves from there. Counted from append(). Only with a
   * spool; undefined = wait for PostgreSQL (the CLI's admin sink).
   */
  durabilityMs?: number;
}

type Mode = 'direct' | 'spool';
type Persisted = 'pg' | 'spool' | 'failed';

function sleep(ms: number): Promise<'timeout'> {
  return new Promise((r) => setTimeout(() => r('timeout'), ms));
}

export class ChainWriter {
  private client: pg.Client | null = null;
  /** The session operation in flight (at most one), and whether it overran its deadline. */
  private busy: Promise<void> | null = null;
  private stalled = false;
  /** Where the intake writes: PostgreSQL, or the spool while it holds unconfirmed rows. */
  private mode: Mode = 'direct';
  private head: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };
  private queue: Pending[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private timer: { cancel(): void } | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private nextReconnectAt = 0;
  private reconnecting = false;
  private draining = false;
  /** The recovery side asked the intake to pause for the final hand-over to `direct`. */
  private handover = false;
  private lastCp = { seq: 0, at: 0 };
  private forceCheckpoint = false;
  private closed = false;
  private lastOkAt = 0;
  private lastWritten: Checkpoint | null = null;
  private readonly signer: CheckpointSigner | null;
  private readonly clock: () => number;
  private readonly durabilityMs: number | undefined;
  private readonly limited = createLogLimiter();

  private constructor(
    private readonly cfg: AuditConfig,
    private readonly logger: Logger,
    private readonly spool: Spool | null,
    opts: WriterOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.signer = cfg.checkpointKeyPem !== undefined ? loadSigner(cfg.checkpointKeyPem) : null;
    this.durabilityMs = spool !== null && opts.durabilityMs !== undefined && opts.durabilityMs > 0 ? opts.durabilityMs : undefined;
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
        await this.connectSession();
        // Not serving yet: a spool left by a stopped process is replayed before the first
        // answer (in bounded chunks, each its own transaction).
        while (this.spool !== null && this.spool.depth() > 0) await this.replayChunk(this.client!, this.spool.peek(REPLAY_CHUNK));
        if (this.spool !== null && this.spool.last() !== undefined) {
          await this.spool.clear();
          this.logger.info({ chainId: this.cfg.chainId }, 'audit spool replayed');
        }
        this.head = (await readHead(this.client!, this.cfg.chainId)) ?? { seq: 0, hash: GENESIS_HASH };
        this.mode = 'direct';
        break;
      } catch (err) {
        await this.dropSession();
        if (err instanceof AuditError && err.reason === 'chain_locked') {
          if (this.clock() < deadline) {
            await new Promise((r) => setTimeout(r, 100));
            continue;
          }
          throw err;
        }
        const last = this.spool?.last();
        if (last === undefined) {
          throw new AuditError('audit_unavailable', `PostgreSQL unreachable at start and no spooled head for chain ${this.cfg.chainId}: ${(err as Error).message}`);
        }
        // The spool's last row is the head: rows reach the spool only after every earlier row.
        this.head = { seq: last.seq, hash: last.hash };
        this.mode = 'spool';
        this.nextReconnectAt = this.clock() + this.cfg.reconnectMs;
        this.logger.warn({ chainId: this.cfg.chainId, spooled: this.spool!.depth() }, 'PostgreSQL unreachable at start: spooling');
        break;
      }
    }
    this.lastCp = { seq: this.head.seq, at: this.clock() };
    // Drives reconnects and spool replay without traffic, and time-based checkpoints.
    const every = Math.min(this.cfg.reconnectMs, this.cfg.checkpointSeconds * 1000);
    this.ticker = setInterval(() => this.tick(), every);
    this.ticker.unref();
    this.updateMetrics();
  }

  /** Connects and takes the chain lock; `this.client` is set only on success. Throws on failure. */
  private async connectSession(): Promise<void> {
    const c = await connect(this.cfg.pgUrl, `mem0gov-audit:${this.cfg.chainId}`);
    try {
      // "Durable before the answer" means a flushed commit, whatever the server default is.
      await c.query('SET synchronous_commit = on');
      if (!(await tryLockChain(c, this.cfg.chainId))) {
        throw new AuditError('chain_locked', `audit chain ${JSON.stringify(this.cfg.chainId)} is held by another writer (PostgreSQL advisory lock); give each instance its own MEM0_GOV_AUDIT_CHAIN_ID`);
      }
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    this.client = c;
    this.busy = null;
    this.stalled = false;
    this.lastOkAt = this.clock();
  }

  private async dropSession(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.busy = null;
    this.stalled = false;
    await c?.end().catch(() => undefined);
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
      this.queue.push({ ev: normalized, at: performance.now(), resolve, reject });
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

  health(): WriterHealth {
    return {
      pg: this.client !== null && !this.stalled,
      spoolDepth: this.spool?.depth() ?? 0,
      queueDepth: this.queue.length,
      spoolWritable: this.spool?.writable() ?? false,
    };
  }

  // ---- intake ---------------------------------------------------------------------------------

  private kick(): void {
    this.clearTimer();
    if (this.running || this.handover) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      // Events that arrived after the last pass (none normally: the loop drains the queue).
      if (this.queue.length > 0 && !this.handover) this.kick();
    });
  }

  private clearTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Resolves once the intake has nothing in flight (kicking it if events are queued). */
  private idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      if (this.running) return;
      if (this.handover) {
        resolve();
        return;
      }
      this.kick();
    });
  }

  /** The session is free for the intake's own writes. */
  private get direct(): boolean {
    return this.mode === 'direct' && this.client !== null && this.busy === null;
  }

  /** The intake writes PostgreSQL (its own batch may be in flight). */
  private get pgPath(): boolean {
    return this.mode === 'direct' && this.client !== null;
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.handover) {
        let cur: Sealed | null = this.sealBatch(this.takeBatch());
        while (cur !== null) {
          const writing = this.persist(cur);
          // Seal (hash + encode) the next batch while PostgreSQL commits this one: two cores busy
          // instead of one. Only on the PostgreSQL path; statements are still sent one at a time.
          const next: Sealed | null = this.pgPath && this.queue.length > 0 && !this.handover ? await this.sealBatchYielding(this.takeBatch()) : null;
          const stored = await writing;
          if (next !== null && stored === 'failed') {
            // `cur` was durable nowhere and its seqs are reused: `next` must be sealed again after it.
            this.queue.unshift(...next.batch);
            cur = null;
          } else cur = next;
        }
      }
      if (this.direct && this.checkpointDue()) await this.writeCheckpoint();
      // Idle: probe the session now and then so health() (readiness) notices a dead or stalled PostgreSQL.
      if (this.direct && this.queue.length === 0 && this.clock() - this.lastOkAt >= PING_EVERY_MS) await this.ping();
    } catch (err) {
      // persist() settles every promise itself; this is a last line of defence.
      this.logger.error({ err: { message: (err as Error).message } }, 'audit writer loop failed');
    } finally {
      this.forceCheckpoint = false;
      this.updateMetrics();
    }
  }

  private takeBatch(): Pending[] {
    return this.queue.splice(0, Math.min(this.cfg.maxBatch, MAX_ROWS_PER_INSERT));
  }

  /** Assigns seq, prev_hash and hash (advancing the head) and, for a COPY, encodes the payload. */
  private sealBatch(batch: Pending[], encode = batch.length > INSERT_MAX_ROWS): Sealed {
    const before = this.head;
    const rows: AuditRow[] = [];
    for (const p of batch) {
      const row = sealNormalized(this.cfg.chainId, this.head, p.ev);
      this.head = { seq: row.seq, hash: row.hash };
      rows.push(row);
    }
    return { batch, rows, encoded: encode ? encodeCopyRows(rows) : '', before };
  }

  /** sealBatch in slices, yielding between them so the socket keeps sending the batch in flight. */
  private async sealBatchYielding(batch: Pending[]): Promise<Sealed> {
    const before = this.head;
    const rows: AuditRow[] = [];
    let encoded = '';
    for (let i = 0; i < batch.length; i += SEAL_SLICE) {
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      const slice = this.sealBatch(batch.slice(i, i + SEAL_SLICE), batch.length > INSERT_MAX_ROWS);
      for (const r of slice.rows) rows.push(r);
      encoded += slice.encoded;
    }
    return { batch, rows, encoded, before };
  }

  /** Makes a sealed batch durable (PostgreSQL, else the spool) and settles its promises. */
  private persist(sealed: Sealed): Promise<Persisted> {
    // Not async: the loop sees the commit in the same tick its promises resolve (a checkpoint
    // due after N rows lands at N when nothing else queued meanwhile).
    if (this.direct) return this.writeDirect(sealed);
    return this.toSpool(sealed, null);
  }

  private settle(sealed: Sealed, err?: Error): void {
    for (const p of sealed.batch) (err ? p.reject(err) : p.resolve());
  }

  /**
   * The batch's statement on the session, raced against the durability deadline of its oldest
   * event. In time: done. PostgreSQL fails: the spool. Deadline first: the spool takes the batch,
   * the statement is left to finish (its rows may well commit: the replay skips them) and the
   * writer spools until the replay has caught up.
   */
  private writeDirect(sealed: Sealed): Promise<Persisted> {
    const client = this.client!;
    const deadline = this.deadlineOf(sealed);
    return new Promise<Persisted>((resolve) => {
      let decided = false;
      const op = this.onSession(client, () => (sealed.rows.length <= INSERT_MAX_ROWS
        ? insertValues(client, sealed.rows)
        : copyEncodedRows(client, sealed.encoded)).catch((err: unknown) => {
        // Neither VALUES nor COPY has ON CONFLICT: a key already stored fails the statement, and
        // insertRows (skips rows whose (event_id, ts) is stored) keeps the exactly-once semantics.
        if (!isUniqueViolation(err) || this.client !== client) throw err;
        return insertRows(client, sealed.rows);
      }));
      // Judged after the loop has read PostgreSQL's socket: a commit already answered is not late.
      const timer = deadline === undefined ? null : onDeadline(Math.max(0, deadline - performance.now()), () => {
        if (decided) return;
        decided = true;
        // PostgreSQL has not confirmed in time: slow, stalled or locked. From now on the intake spools.
        this.mode = 'spool';
        this.stalled = true;
        this.limited('warn', this.logger, 'pg-slow', { chainId: this.cfg.chainId, durabilityMs: this.durabilityMs, rows: sealed.rows.length },
          'PostgreSQL did not confirm within the durability deadline: spooling audit events');
        resolve(this.toSpool(sealed, op));
      });
      // Settled in the operation's own callbacks: answers go out as soon as the commit is in.
      op.then(() => {
        if (decided) return;
        decided = true;
        timer?.cancel();
        this.lastOkAt = this.clock();
        this.settle(sealed);
        resolve('pg');
      }, (err: unknown) => {
        if (decided) return;
        decided = true;
        timer?.cancel();
        this.markDown(client, err as Error);
        resolve(this.toSpool(sealed, null));
      });
    });
  }

  /**
   * Appends a sealed batch to the spool (fsync) and settles it. If the spool refuses and the
   * batch's COPY is still in flight (`pending`), its rows may yet commit: wait for PostgreSQL's
   * verdict rather than reuse seqs that might be stored. Durable nowhere: reject, reuse the seqs.
   */
  private async toSpool(sealed: Sealed, pending: Promise<void> | null): Promise<Persisted> {
    if (this.spool !== null) {
      try {
        await this.spool.append(sealed.rows);
        if (this.mode === 'direct') this.mode = 'spool';
        this.updateMetrics();
        this.settle(sealed);
        this.kickRecovery();
        return 'spool';
      } catch (err) {
        this.limited('error', this.logger, 'spool-write', { err: { message: (err as Error).message }, path: this.spool.path }, 'audit spool write failed');
      }
    }
    if (pending !== null) {
      try {
        await pending;
        this.settle(sealed);
        return 'pg';
      } catch {
        // fall through: durable nowhere
      }
    }
    // Durable nowhere: these seqs were never stored, so the next batch reuses them.
    this.head = sealed.before;
    this.settle(sealed, new AuditError('audit_unavailable', 'audit event could not be committed to PostgreSQL or spooled'));
    return 'failed';
  }

  private deadlineOf(sealed: Sealed): number | undefined {
    if (this.durabilityMs === undefined) return undefined;
    let oldest = Infinity;
    for (const p of sealed.batch) if (p.at < oldest) oldest = p.at;
    return oldest + this.durabilityMs;
  }

  /**
   * Runs one operation on the session (at most one at a time). When it settles the session is
   * free again (and no longer stalled); a failure closes the session. An operation that never
   * settles is abandoned after ABANDON_MS.
   */
  private onSession(client: pg.Client, fn: () => Promise<void>): Promise<void> {
    const op = fn();
    const done = op.then(() => undefined, () => undefined);
    this.busy = done;
    const abandon = setTimeout(() => {
      if (this.client !== client || this.busy !== done) return;
      this.markDown(client, new Error(`PostgreSQL did not answer for ${ABANDON_MS} ms`));
    }, ABANDON_MS);
    abandon.unref();
    // Health: a session busy past the deadline is stalled, whoever waits on it.
    const slow = setTimeout(() => {
      if (this.client === client && this.busy === done) this.stalled = true;
    }, this.durabilityMs ?? 1000);
    slow.unref();
    void op.then(() => {
      clearTimeout(abandon);
      clearTimeout(slow);
      if (this.client === client && this.busy === done) {
        this.busy = null;
        this.stalled = false;
        this.lastOkAt = this.clock();
        this.kickRecovery();
      }
    }, (err: unknown) => {
      clearTimeout(abandon);
      clearTimeout(slow);
      if (this.client === client) this.markDown(client, err as Error);
    });
    return op;
  }

  private async ping(): Promise<void> {
    const client = this.client!;
    const op = this.onSession(client, async () => { await client.query('SELECT 1'); });
    const limit = this.durabilityMs ?? 5_000;
    const r = await Promise.race([op.then(() => 'ok', () => 'failed'), sleep(limit)]);
    if (r === 'ok') this.lastOkAt = this.clock();
    else if (r === 'timeout' && this.client === client) {
      // An idle session that does not answer: spool from now on, like a slow commit.
      this.mode = 'spool';
      this.stalled = true;
    }
  }

  private markDown(client: pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.limited('warn', this.logger, 'pg-down', { chainId: this.cfg.chainId, err: { message: err.message } }, 'PostgreSQL write failed: spooling audit events');
    this.client = null;
    this.busy = null;
    this.stalled = false;
    this.mode = 'spool';
    void client.end().catch(() => undefined);
    this.nextReconnectAt = this.clock() + this.cfg.reconnectMs;
  }

  // ---- recovery: reconnect, replay the spool beside new decisions, hand back to `direct` --------

  private tick(): void {
    if (this.closed) return;
    this.kickRecovery();
    // Time-based checkpoints and idle pings run in the intake.
    if (!this.running && this.direct && (this.checkpointDue() || this.clock() - this.lastOkAt >= PING_EVERY_MS)) this.kick();
  }

  private kickRecovery(): void {
    if (this.closed) return;
    if (this.client === null) {
      if (!this.reconnecting && this.clock() >= this.nextReconnectAt) void this.reconnect();
      return;
    }
    if (this.mode === 'spool' && this.busy === null && !this.draining) void this.drain();
  }

  private async reconnect(): Promise<void> {
    this.reconnecting = true;
    this.nextReconnectAt = this.clock() + this.cfg.reconnectMs;
    try {
      await this.connectSession();
      const c = this.client!;
      const dbHead = await readHead(c, this.cfg.chainId);
      const first = this.spool?.peek(1)[0];
      if (first !== undefined) {
        if ((dbHead?.seq ?? 0) + 1 < first.seq) {
          this.logger.error({ chainId: this.cfg.chainId, dbSeq: dbHead?.seq ?? 0, spoolFirst: first.seq }, 'spool does not continue the stored chain; replaying anyway (verify will report it)');
        }
        this.mode = 'spool';
      } else {
        // Nothing spooled: what PostgreSQL holds is the head.
        this.head = dbHead ?? { seq: 0, hash: GENESIS_HASH };
        this.mode = 'direct';
      }
      this.logger.info({ chainId: this.cfg.chainId, seq: dbHead?.seq ?? 0, spooled: this.spool?.depth() ?? 0 }, 'audit writer reconnected to PostgreSQL');
    } catch (err) {
      await this.dropSession();
      this.logger.debug({ err: { message: (err as Error).message } }, 'audit reconnect failed');
    } finally {
      this.reconnecting = false;
    }
    this.updateMetrics();
    if (this.client !== null) {
      this.kickRecovery();
      if (this.queue.length > 0) this.kick();
    }
  }

  /** One chunk of spooled rows into PostgreSQL: one COPY (one transaction); if some are stored already, one INSERT that skips them. */
  private async replayChunk(client: pg.Client, rows: AuditRow[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await copyEncodedRows(client, encodeCopyRows(rows));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      await insertRows(client, rows);
    }
    this.spool!.confirm(rows.length);
  }

  /**
   * Replays the spool in chunks while the intake keeps appending new rows behind them; when the
   * replay has caught up, pauses the intake for the last rows, truncates the spool and hands
   * back to `direct`. Every chunk runs on the session like any other operation.
   */
  private async drain(): Promise<void> {
    const spool = this.spool;
    if (spool === null) {
      this.mode = 'direct';
      return;
    }
    this.draining = true;
    const started = spool.depth();
    try {
      while (!this.closed && this.client !== null && this.busy === null && this.mode === 'spool') {
        const client = this.client;
        const rows = spool.peek(REPLAY_CHUNK);
        if (rows.length > 0) {
          await this.onSession(client, () => this.replayChunk(client, rows));
          this.updateMetrics();
          continue;
        }
        // Caught up: pause the intake, replay what it spooled meanwhile, truncate, go direct.
        this.handover = true;
        await this.intakeStopped();
        const last = spool.peek(MAX_ROWS_PER_INSERT);
        const replay = this.onSession(client, () => this.replayChunk(client, last));
        const r = await Promise.race([replay.then(() => 'ok', () => 'failed'), sleep(this.durabilityMs ?? 5_000)]);
        if (r === 'ok' && spool.depth() === 0 && this.client === client) {
          // Still paused: nothing can be appended while the file is truncated.
          await spool.clear();
          this.mode = 'direct';
          this.logger.info({ chainId: this.cfg.chainId, rows: started }, 'audit spool replayed');
        } else if (r === 'timeout') {
          this.stalled = true;
        }
        break;
      }
    } catch {
      // onSession closed the session (markDown); the next reconnect resumes the replay.
    } finally {
      this.draining = false;
      if (this.handover) {
        this.handover = false;
        if (this.queue.length > 0) this.kick();
      }
      this.updateMetrics();
    }
  }

  /** Resolves once the intake loop is not running (it stops between batches while `handover`). */
  private intakeStopped(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---- checkpoints --------------------------------------------------------------------------

  private checkpointDue(): boolean {
    if (this.signer === null || this.head.seq <= this.lastCp.seq) return false;
    if (this.forceCheckpoint) return true;
    return this.head.seq - this.lastCp.seq >= this.cfg.checkpointEvery
      || this.clock() - this.lastCp.at >= this.cfg.checkpointSeconds * 1000;
  }

  private async writeCheckpoint(): Promise<void> {
    if (this.signer === null || !this.direct) return;
    const client = this.client!;
    const cp = this.signer.sign(this.cfg.chainId, this.head.seq, this.head.hash, new Date(this.clock()).toISOString());
    const op = this.onSession(client, () => insertCheckpoint(client, cp));
    const r = await Promise.race([op.then(() => 'ok', () => 'failed'), sleep(this.durabilityMs ?? 5_000)]);
    if (r === 'ok') {
      this.lastCp = { seq: cp.seq, at: this.clock() };
      this.lastWritten = cp;
    } else if (r === 'timeout' && this.client === client) {
      this.mode = 'spool';
      this.stalled = true;
    }
  }

  private updateMetrics(): void {
    metrics.auditQueueDepth.set(this.queue.length);
    metrics.auditSpoolDepth.set(this.spool?.depth() ?? 0);
  }

  /**
   * Flushes the queue, replays what the spool holds if PostgreSQL answers (bounded: what is left
   * stays spooled for the next start), writes a last checkpoint, releases the lock (by closing
   * its session).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.forceCheckpoint = true;
    await this.idle();
    const until = performance.now() + 5_000;
    // Wait for a running replay or a stalled operation, then replay the rest ourselves.
    while ((this.draining || this.busy !== null) && this.client !== null && performance.now() < until) await sleep(10);
    const spool = this.spool;
    try {
      while (spool !== null && spool.depth() > 0 && this.client !== null && this.busy === null && performance.now() < until) {
        await this.replayChunk(this.client, spool.peek(REPLAY_CHUNK));
      }
      if (spool !== null && spool.depth() === 0 && spool.last() !== undefined && this.client !== null) {
        await spool.clear();
        this.mode = 'direct';
      }
      this.forceCheckpoint = true;
      if (this.client !== null && this.busy === null && this.mode === 'direct' && this.checkpointDue()) await this.writeCheckpoint();
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message } }, 'audit spool not replayed at close; the next start replays it');
    }
    this.clearTimer();
    const c = this.client;
    this.client = null;
    this.busy = null;
    await Promise.race([c?.end().catch(() => undefined), sleep(1000)]);
    this.updateMetrics();
    await this.spool?.close();
  }
}

// Shared set-up for the audit integration suites: a throwaway PostgreSQL with the audit schema
// migrated by the owner (superuser here) and the INSERT/SELECT-only writer role.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { startPostgres, type PostgresHandle } from '../../../../testing/postgres.js';
import type { AuditConfig } from '../../../src/audit/config.js';
import { migrate, migrationFiles } from '../../../src/audit/migrate.js';
import type { AuditEvent, DecisionValue } from '../../../src/types.js';

export interface AuditDb {
  pg: PostgresHandle;
  /** superuser on the mem0gov database (the "attacker" in tamper tests) */
  ownerUrl: string;
  writerUrl: string;
  su: pg.Client;
  /** Reconnects `su` (after the server was killed and restarted). */
  reopenSu(): Promise<void>;
  stop(): Promise<void>;
}

const spoolDirs: string[] = [];

/**
 * `onlyUpTo`: apply the migrations up to this version only (as an older release would have left
 * the schema); `migrate(db.ownerUrl)` applies the rest later, as an upgrade does.
 */
export async function startAuditDb(opts: { onlyUpTo?: string } = {}): Promise<AuditDb> {
  const h = await startPostgres();
  const boot = new pg.Client(h.adminUrl);
  await boot.connect();
  await boot.query('CREATE DATABASE mem0gov');
  await boot.end();
  const ownerUrl = `postgres://postgres@127.0.0.1:${h.port}/mem0gov`;
  if (opts.onlyUpTo === undefined) await migrate(ownerUrl);
  else await migrateUpTo(ownerUrl, opts.onlyUpTo);
  const open = async (): Promise<pg.Client> => {
    const c = new pg.Client(ownerUrl);
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const db: AuditDb = {
    pg: h,
    ownerUrl,
    writerUrl: `postgres://mem0gov_writer@127.0.0.1:${h.port}/mem0gov`,
    su: await open(),
    async reopenSu() {
      await db.su.end().catch(() => undefined);
      db.su = await open();
    },
    async stop() {
      await db.su.end().catch(() => undefined);
      await h.stop();
      for (const d of spoolDirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
  return db;
}

async function migrateUpTo(ownerUrl: string, last: string): Promise<void> {
  const c = new pg.Client(ownerUrl);
  await c.connect();
  try {
    await c.query('CREATE SCHEMA IF NOT EXISTS audit');
    await c.query('CREATE TABLE IF NOT EXISTS audit.schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const m of migrationFiles().filter((x) => x.version <= last)) {
      await c.query(m.sql);
      await c.query('INSERT INTO audit.schema_migrations (version) VALUES ($1)', [m.version]);
    }
    await c.query('GRANT SELECT ON audit.schema_migrations TO mem0gov_writer');
  } finally {
    await c.end();
  }
}

export const silent = pino({ level: process.env.AUDIT_TEST_LOG ?? 'silent' });

export function testKeyPem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function auditCfg(db: AuditDb, chainId: string, over: Partial<AuditConfig> = {}): AuditConfig {
  const spoolDir = mkdtempSync(join(tmpdir(), 'mem0gov-spool-'));
  spoolDirs.push(spoolDir);
  return {
    pgUrl: db.writerUrl,
    chainId,
    spoolDir,
    spool: true,
    batchMs: 2,
    maxBatch: 500,
    checkpointEvery: 1000,
    checkpointSeconds: 3600,
    migrate: false,
    reconnectMs: 50,
    ...over,
  };
}

let n = 0;
export function event(over: Partial<AuditEvent> = {}): AuditEvent {
  n++;
  const decisions: DecisionValue[] = ['allow', 'deny', 'invalid_request', 'unauthenticated', 'rate_limited', 'error'];
  return {
    event_id: randomUUID(),
    ts: new Date(Date.UTC(2026, 10, 23, 10, 0, 0, n)).toISOString(),
    decision: decisions[n % decisions.length]!,
    reasons: ['policy_allow', `r${n % 7}`],
    actor_sub: `user-${n % 13}`,
    roles: ['agent-writer'],
    tenant: n % 2 === 0 ? 'acme' : 'globex',
    agent: 'agent-1',
    session: `s-${n % 5}`,
    action: 'write',
    route: 'memories.create',
    method: 'POST',
    path: '/memories',
    entity_ids: [`acme:u${n % 3}`],
    memory_id: null,
    source_ip: '10.0.0.7',
    request_id: randomUUID(),
    policy_revision: 'a'.repeat(64),
    break_glass: false,
    phi: n % 11 === 0,
    latency_ms: (n % 100) / 7,
    body_digest: 'b'.repeat(64),
    status: 200,
    kind: 'decision',
    ref_event_id: null,
    detail: null,
    ...over,
  };
}

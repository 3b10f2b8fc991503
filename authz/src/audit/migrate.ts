// Applies audit/migrations/*.sql in name order, once each, as the owner role. The writer role
// only needs to see that the schema is current (SELECT on audit.schema_migrations).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.js';
import { connect } from './pg.js';
import { AuditError } from './row.js';

const MIGRATION_LOCK = '7370134823751117000'; // advisory lock key: one migrator at a time

export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'audit', 'migrations');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new AuditError('migrations_missing', 'audit/migrations not found above ' + dirname(fileURLToPath(import.meta.url)));
}

export function migrationFiles(dir = migrationsDir()): { version: string; sql: string }[] {
  return readdirSync(dir).filter((f) => /^\d+_.*\.sql$/.test(f)).sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: readFileSync(join(dir, f), 'utf8') }));
}

/** Versions already applied, or null when the schema is absent / unreadable with this URL. */
export async function appliedVersions(pgUrl: string): Promise<Set<string> | null> {
  const c = await connect(pgUrl, 'mem0gov-audit-migrate-check');
  try {
    const r = await c.query<{ version: string }>('SELECT version FROM audit.schema_migrations');
    return new Set(r.rows.map((x) => x.version));
  } catch {
    return null;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Applies pending migrations on `ownerUrl`; returns the versions it applied. */
export async function migrate(ownerUrl: string, logger?: Logger): Promise<string[]> {
  const c = await connect(ownerUrl, 'mem0gov-audit-migrate');
  const applied: string[] = [];
  try {
    await c.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK]);
    await c.query('CREATE SCHEMA IF NOT EXISTS audit');
    await c.query('CREATE TABLE IF NOT EXISTS audit.schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await c.query<{ version: string }>('SELECT version FROM audit.schema_migrations')).rows.map((x) => x.version));
    for (const m of migrationFiles()) {
      if (done.has(m.version)) continue;
      await c.query('BEGIN');
      try {
        await c.query(m.sql);
        await c.query('INSERT INTO audit.schema_migrations (version) VALUES ($1)', [m.version]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw new AuditError('migration_failed', `migration ${m.version} failed: ${(err as Error).message}`);
      }
      applied.push(m.version);
      logger?.info({ version: m.version }, 'audit migration applied');
    }
    await c.query('GRANT SELECT ON audit.schema_migrations TO mem0gov_writer');
  } finally {
    await c.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK]).catch(() => undefined);
    await c.end().catch(() => undefined);
  }
  return applied;
}

/**
 * At service start: nothing to do when the writer already sees every version; otherwise
 * migrate with the owner URL (PG_ADMIN_URL, else the writer URL, which then needs DDL rights).
 */
export async function ensureSchema(opts: { pgUrl: string; adminUrl?: string; migrate: boolean; logger: Logger }): Promise<void> {
  const wanted = migrationFiles().map((m) => m.version);
  const have = await appliedVersions(opts.pgUrl);
  if (have !== null && wanted.every((v) => have.has(v))) return;
  if (!opts.migrate) {
    throw new AuditError('schema_outdated', 'audit schema is missing or outdated and MEM0_GOV_AUDIT_MIGRATE=false: run `mem0-gov audit migrate`');
  }
  await migrate(opts.adminUrl ?? opts.pgUrl, opts.logger);
}

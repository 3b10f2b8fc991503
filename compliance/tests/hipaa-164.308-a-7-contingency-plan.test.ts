// HIPAA 164.308(a)(7) contingency plan: the backup → restore → verify cycle of
// compliance/contingency-plan.md, run with the document's own commands against real servers. A
// stack (Envoy, authz, Redis, PostgreSQL) makes audit rows and Redis state (a limit, a revoked
// subject, a suspended tenant, a break-glass grant, a tombstone, a signed checkpoint); the backup
// block dumps both; a FRESH PostgreSQL cluster and a fresh redis-server get them through the
// restore blocks; the restored chain verifies (checkpoints signed), its heads are in the live
// chain, the Redis state is the live one key for key and survives a restart with the AOF; authz
// restarted on the restored servers obeys the restored state; reconcile lists what changed after
// the backup; the checkpoint key rotates; and a tampered backup fails verification.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresHandle } from '../../testing/postgres.js';
import { freePort, waitFor } from '../../testing/tools.js';
import { useStack } from './helpers.js';
import { runbook, sh } from '../../testing/runbook.js';

const c = useStack();
const plan = runbook('compliance/contingency-plan.md');
const work = mkdtempSync(join(tmpdir(), 'mem0gov-contingency-'));
const BACKUP_DIR = join(work, 'backup');
const ADMIN_CHAIN = `admin:drill-${process.pid}`;
const RESTORED_CHAIN = `restored-${process.pid}`;

let fresh: PostgresHandle | undefined;
let redisDir = '';
let redisPort = 0;
let redisProc: ChildProcess | undefined;
const S: { memoryId?: string; checkpointSeq?: number; liveState?: Map<string, string> } = {};

afterAll(async () => {
  // The daemonized restore Redis (started by the document's block) and the one started here.
  const pidFile = join(redisDir, 'redis.pid');
  if (redisDir && existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  if (redisProc && redisProc.exitCode === null) {
    const exited = new Promise((r) => redisProc!.once('exit', r));
    redisProc.kill('SIGKILL');
    await exited;
  }
  await fresh?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The admin CLI's environment for the live stack (what an operator sources). */
function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...c.stack.env,
    MEM0_GOV_LOG_LEVEL: 'silent',
    MEM0_GOV_ADMIN_ACTOR: 'contingency-drill',
    MEM0_GOV_AUDIT_ADMIN_CHAIN_ID: ADMIN_CHAIN,
    MEM0_GOV_AUDIT_VERIFY_STATE: join(work, 'verify-marks.json'), // the verifier's local marks: not the developer's .state
    BACKUP_DIR,
    MEM0_GOV_PG_ADMIN_URL: c.stack.pgOwnerUrl,
    MEM0_GOV_REDIS_URL: c.stack.redis.url,
    CHECKPOINT_PUBLIC_KEY: c.stack.env.MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE!,
    ...extra,
  };
}

async function cli(args: string, extra: Record<string, string> = {}): Promise<string> {
  const r = await sh(`mem0-gov ${args}`, cliEnv(extra));
  if (r.code !== 0) throw new Error(`mem0-gov ${args} → ${r.code}\n${r.out}\n${r.err}`);
  return r.out;
}

/** Every mem0gov:* key with a value that does not expire within 10 minutes: type, value, absolute expiry. */
async function redisState(url: string): Promise<Map<string, string>> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    const out = new Map<string, string>();
    const soon = Date.now() + 600_000;
    for (const key of await r.keys('mem0gov:*')) {
      const type = await r.type(key);
      const expireAt = Number(await r.call('PEXPIRETIME', key));
      if (expireAt > 0 && expireAt < soon) continue; // caches and rate-limit buckets
      let value: unknown;
      if (type === 'string') value = await r.get(key);
      else if (type === 'hash') value = Object.entries(await r.hgetall(key)).sort();
      else if (type === 'zset') value = await r.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'set') value = (await r.smembers(key)).sort();
      else if (type === 'list') value = await r.lrange(key, 0, -1);
      out.set(key, JSON.stringify({ type, value, expireAt }));
    }
    return out;
  } finally {
    r.disconnect();
  }
}

async function query<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

const restoredUrls = (db = 'mem0gov'): { superuser: string; owner: string; writer: string } => ({
  superuser: fresh!.adminUrl,
  owner: `postgres://postgres@127.0.0.1:${fresh!.port}/${db}`,
  writer: `postgres://mem0gov_writer@127.0.0.1:${fresh!.port}/${db}`,
});

describe('HIPAA 164.308(a)(7) contingency plan: backup, restore, verify', () => {
  it('the plan has the blocks this test runs', () => {
    expect(plan.names.sort()).toEqual(['backup', 'deleted-since', 'reconcile', 'restore-postgres', 'restore-redis', 'rotate-checkpoint-key', 'verify-after-rotation', 'verify-restored']);
  });

  it('a running system makes audit rows and Redis state worth keeping', async () => {
    const writer = await c.stack.token({ tenant: 'acme', roles: ['agent-writer'], sub: 'alice' });
    const admin = await c.stack.token({ tenant: 'acme', roles: ['admin'], sub: 'carol' });
    const created = await c.req({ method: 'POST', path: '/memories', token: writer, body: { messages: [{ role: 'user', content: 'prefers tea' }], user_id: 'acme:alice', infer: false } });
    expect(created.status).toBe(200);
    S.memoryId = created.json<{ results: { id: string }[] }>().results[0]!.id;
    expect((await c.req({ path: '/memories?user_id=globex:bob', token: writer })).status).toBe(403); // a denial in the chain
    expect((await c.req({ method: 'DELETE', path: `/memories/${S.memoryId}`, token: admin })).status).toBe(200); // tombstone

    await cli('limits set tenant:acme 600/m');
    await cli('revoke --tenant acme --sub mallory --ttl 24h --reason "contingency drill"');
    await cli('tenant suspend globex --reason "contingency drill"');
    await cli('breakglass grant --tenant acme --sub bob --role admin --ttl 2h --justification "contingency drill grant"');
    const mallory = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'mallory' });
    expect((await c.req({ path: '/memories?user_id=acme:alice', token: mallory })).json<{ reason: string }>().reason).toBe('subject_revoked');
    const globex = await c.stack.token({ tenant: 'globex', roles: ['agent-reader'], sub: 'gina' });
    expect((await c.req({ path: '/memories?user_id=globex:gina', token: globex })).json<{ reason: string }>().reason).toBe('tenant_suspended');

    expect(await cli('audit checkpoint')).toMatch(/checkpoint chain=/);
    const [cp] = await c.sql<{ seq: string }>('SELECT max(seq) AS seq FROM audit.checkpoints WHERE chain_id = $1', [c.stack.env.MEM0_GOV_AUDIT_CHAIN_ID]);
    S.checkpointSeq = Number(cp!.seq);
    expect(S.checkpointSeq).toBeGreaterThan(2);
  }, 120_000);

  it('backs up the audit database and the Redis state (backup block)', async () => {
    S.liveState = await redisState(c.stack.redis.url);
    const r = await plan.run('backup', cliEnv());
    expect(r.code, r.err).toBe(0);
    for (const f of ['taken-at', 'audit.dump', 'redis.rdb', 'verify-at-backup.txt', 'SHA256SUMS']) expect(existsSync(join(BACKUP_DIR, f)), f).toBe(true);
    expect(readFileSync(join(BACKUP_DIR, 'verify-at-backup.txt'), 'utf8')).toMatch(/^ok chain=/m);
    // Critical state is in what was backed up (keys as gate/README.md lays them out).
    const keys = [...S.liveState.keys()];
    expect(keys).toContain('mem0gov:limits');
    expect(keys).toContain('mem0gov:{t:acme}:rev:sub:mallory');
    expect(keys).toContain('mem0gov:{t:globex}:suspended');
    expect(keys).toContain('mem0gov:{t:acme}:bg:bob');
    expect(keys).toContain(`mem0gov:tomb:${S.memoryId}`);
    // A change after the backup, for the reconcile step.
    await cli('revoke --tenant acme --sub eve --reason "after the backup"');
  }, 120_000);

  it('restores both onto fresh servers (restore blocks); Redis equals the live state and survives a restart with its AOF', async () => {
    fresh = await startPostgres();
    const urls = restoredUrls();
    const pgRes = await plan.run('restore-postgres', cliEnv({ RESTORE_PG_SUPERUSER_URL: urls.superuser, RESTORE_PG_ADMIN_URL: urls.owner }));
    expect(pgRes.code, pgRes.err).toBe(0);
    const live = await c.sql<{ n: string }>('SELECT count(*) AS n FROM audit.events');
    const restored = await query<{ n: string }>(urls.owner, 'SELECT count(*) AS n FROM audit.events');
    expect(Number(restored[0]!.n)).toBeGreaterThan(5);
    expect(Number(restored[0]!.n)).toBeLessThanOrEqual(Number(live[0]!.n));
    // The writer role works on the restored database and it is append-only again.
    await expect(query(urls.owner, 'DELETE FROM audit.events')).rejects.toThrow(/append-only/);

    redisDir = mkdtempSync(join(work, 'redis-'));
    redisPort = await freePort();
    const rRes = await plan.run('restore-redis', cliEnv({ RESTORE_REDIS_DIR: redisDir, RESTORE_REDIS_PORT: String(redisPort) }));
    expect(rRes.code, rRes.err).toBe(0);
    expect(rRes.out).toMatch(/restored keys: [1-9]/);
    const url = `redis://127.0.0.1:${redisPort}`;
    expect(await redisState(url)).toEqual(S.liveState);

    // As the plan says: stop it, start the normal service (appendonly yes): the AOF holds the data.
    await sh(`redis-cli -p ${redisPort} SHUTDOWN`);
    await waitFor('restore redis stopped', async () => !existsSync(join(redisDir, 'redis.pid')) || (await sh(`redis-cli -p ${redisPort} PING`)).code !== 0, 10_000, 100);
    expect(existsSync(join(redisDir, 'appendonlydir'))).toBe(true);
    redisProc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''], { stdio: 'ignore' });
    await waitFor('redis with AOF', async () => (await sh(`redis-cli -p ${redisPort} PING`)).out.trim() === 'PONG', 10_000, 100);
    expect(await redisState(url)).toEqual(S.liveState);
  }, 120_000);

  it('the restored chain verifies with its signed checkpoints and is a prefix of the live chain (verify block)', async () => {
    const urls = restoredUrls();
    const r = await plan.run('verify-restored', cliEnv({ RESTORE_PG_URL: urls.writer }));
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    const service = new RegExp(`^ok chain=${c.stack.env.MEM0_GOV_AUDIT_CHAIN_ID} .* checkpoints_verified=([0-9]+)`, 'm').exec(r.out);
    expect(Number(service?.[1])).toBeGreaterThanOrEqual(1);
    expect(r.out).toMatch(new RegExp(`chain ${c.stack.env.MEM0_GOV_AUDIT_CHAIN_ID}: restored head at seq [0-9]+ is in the live chain`));
    expect(r.out).toMatch(new RegExp(`chain ${ADMIN_CHAIN}: restored head`));
  }, 120_000);

  it('authz restarted on the restored servers obeys the restored state and audits to a new chain', async () => {
    const urls = restoredUrls();
    await c.stack.stopAuthz();
    await c.stack.restartAuthz({
      MEM0_GOV_REDIS_URL: `redis://127.0.0.1:${redisPort}`, MEM0_GOV_PG_URL: urls.writer, MEM0_GOV_PG_ADMIN_URL: urls.owner, MEM0_GOV_AUDIT_CHAIN_ID: RESTORED_CHAIN,
    });
    const reader = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'rita' });
    await waitFor('restored authz serves', async () => (await c.req({ path: '/memories?user_id=acme:alice', token: reader })).status === 200, 20_000, 200);
    const reason = async (tenant: string, sub: string, path: string): Promise<string> =>
      (await c.req({ path, token: await c.stack.token({ tenant, roles: ['agent-reader'], sub }) })).json<{ reason: string }>().reason;
    expect(await reason('acme', 'mallory', '/memories?user_id=acme:alice')).toBe('subject_revoked');
    expect(await reason('globex', 'gina', '/memories?user_id=globex:gina')).toBe('tenant_suspended');
    // Revoked after the backup: not in the snapshot, so allowed again until reconciled.
    const eve = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'eve' });
    expect((await c.req({ path: '/memories?user_id=acme:alice', token: eve })).status).toBe(200);
    // The tombstone came back: the deleted memory's history stays readable by its own tenant.
    expect((await c.req({ path: `/memories/${S.memoryId}/history`, token: reader })).status).toBe(200);

    const newRows = await query<{ n: string }>(urls.owner, 'SELECT count(*) AS n FROM audit.events WHERE chain_id = $1', [RESTORED_CHAIN]);
    expect(Number(newRows[0]!.n)).toBeGreaterThan(0);
    const v = await sh('mem0-gov audit verify --public-key "$CHECKPOINT_PUBLIC_KEY"', cliEnv({ MEM0_GOV_PG_URL: urls.writer }));
    expect(v.code, v.err).toBe(0);
    expect(v.out).toMatch(new RegExp(`^ok chain=${RESTORED_CHAIN} `, 'm'));
    expect(v.out).toMatch(new RegExp(`^ok chain=${c.stack.env.MEM0_GOV_AUDIT_CHAIN_ID} `, 'm'));
  }, 120_000);

  it('reconcile lists the admin actions after the backup (re-applying them restores containment) and the deletes to repeat on a restored Mem0', async () => {
    const r = await plan.run('reconcile', cliEnv());
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/cli\.revoke \| sub:eve@acme/);
    expect(r.out).not.toMatch(/mallory/); // before the backup: already in the snapshot
    const urls = restoredUrls();
    await cli('revoke --tenant acme --sub eve --reason "reconciled after restore"', { MEM0_GOV_REDIS_URL: `redis://127.0.0.1:${redisPort}`, MEM0_GOV_PG_URL: urls.writer, MEM0_GOV_PG_ADMIN_URL: urls.owner });
    const eve = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'eve' });
    expect((await c.req({ path: '/memories?user_id=acme:alice', token: eve })).json<{ reason: string }>().reason).toBe('subject_revoked');
    // Mem0 restored from an older backup: the deletes to carry out again.
    const deleted = await plan.run('deleted-since', cliEnv({ MEM0_BACKUP_TIME: '2000-01-01T00:00:00Z' }));
    expect(deleted.code, deleted.err).toBe(0);
    expect(deleted.out).toContain(`| acme | ${S.memoryId}`);
  }, 120_000);

  it('rotates the checkpoint key: the service signs with the new one, both public keys verify, the new one alone does not', async () => {
    const urls = restoredUrls();
    const onRestored = { MEM0_GOV_REDIS_URL: `redis://127.0.0.1:${redisPort}`, MEM0_GOV_PG_URL: urls.writer, MEM0_GOV_PG_ADMIN_URL: urls.owner, MEM0_GOV_AUDIT_CHAIN_ID: RESTORED_CHAIN };
    const keys = { NEW_CHECKPOINT_KEY: join(work, 'checkpoint-new.pem'), NEW_CHECKPOINT_PUBLIC_KEY: join(work, 'checkpoint-new.pub.pem') };
    const gen = await plan.run('rotate-checkpoint-key', cliEnv(keys));
    expect(gen.code, gen.err).toBe(0);
    // Deploy: restart with the new key (the stop signs the head with the old one), serve, stop (signs with the new one).
    await c.stack.stopAuthz();
    await c.stack.restartAuthz({ ...onRestored, MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: keys.NEW_CHECKPOINT_KEY });
    const reader = await c.stack.token({ tenant: 'acme', roles: ['agent-reader'], sub: 'rita' });
    await waitFor('authz with the new key serves', async () => (await c.req({ path: '/memories?user_id=acme:alice', token: reader })).status === 200, 20_000, 200);
    await c.stack.stopAuthz();
    await c.stack.restartAuthz({ ...onRestored, MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: keys.NEW_CHECKPOINT_KEY });
    const keyIds = await query<{ key_id: string }>(urls.owner, 'SELECT DISTINCT key_id FROM audit.checkpoints WHERE chain_id = $1', [RESTORED_CHAIN]);
    expect(keyIds.length).toBe(2);

    const both = await plan.run('verify-after-rotation', cliEnv({ ...keys, MEM0_GOV_PG_URL: urls.writer }));
    expect(both.code, `${both.out}\n${both.err}`).toBe(0);
    expect(both.out).toMatch(new RegExp(`^ok chain=${RESTORED_CHAIN} .*checkpoints_verified=[2-9]`, 'm'));
    const alone = await sh('mem0-gov audit verify --full --public-key "$NEW_CHECKPOINT_PUBLIC_KEY"', cliEnv({ ...keys, MEM0_GOV_PG_URL: urls.writer }));
    expect(alone.code).toBe(1);
    expect(alone.err).toMatch(/checkpoint_unknown_key/);
  }, 120_000);

  it('a tampered backup restores but fails verification, naming the row', async () => {
    const sql = join(work, 'audit.sql');
    expect((await sh(`pg_restore --file="${sql}" "${join(BACKUP_DIR, 'audit.dump')}"`)).code).toBe(0);
    const text = readFileSync(sql, 'utf8');
    const lines = text.split('\n');
    // The rows of audit.events: one COPY section per table holding them (partitions included).
    const events: { i: number; f: string[]; at: (name: string) => number }[] = [];
    lines.forEach((l, i) => {
      const m = /^COPY audit\.events\w* \(([^)]*)\) FROM stdin;$/.exec(l);
      if (m === null) return;
      const cols = m[1]!.split(',').map((x) => x.trim());
      for (let k = i + 1; k < lines.length && lines[k] !== '\\.'; k++) events.push({ i: k, f: lines[k]!.split('\t'), at: (name) => cols.indexOf(name) });
    });
    expect(events.length).toBeGreaterThan(5);
    const chain = c.stack.env.MEM0_GOV_AUDIT_CHAIN_ID!;
    const restore = async (db: string, body: string): Promise<{ code: number; out: string; err: string }> => {
      writeFileSync(join(work, `${db}.sql`), body);
      expect((await sh(`psql "${fresh!.adminUrl}" -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE ${db}"`)).code).toBe(0);
      const load = await sh(`psql "${restoredUrls(db).owner}" -v ON_ERROR_STOP=1 -q -f "${join(work, `${db}.sql`)}"`);
      expect(load.code, load.err).toBe(0);
      return sh('mem0-gov audit verify --full --public-key "$CHECKPOINT_PUBLIC_KEY"', cliEnv({ MEM0_GOV_PG_URL: restoredUrls(db).writer }));
    };

    // 1. One denied decision turned into an allow.
    const victim = events.find((e) => e.f[e.at('decision')] === 'deny' && e.f[e.at('chain_id')] === chain);
    expect(victim).toBeDefined();
    const seq = victim!.f[victim!.at('seq')];
    const f = [...victim!.f];
    f[victim!.at('decision')] = 'allow';
    const edited = [...lines];
    edited[victim!.i] = f.join('\t');
    const v1 = await restore('tampered_row', edited.join('\n'));
    expect(v1.code).toBe(1);
    expect(v1.err).toMatch(new RegExp(`FAIL chain=${chain} seq=${seq} .*hash_mismatch`));

    // 2. The chain cut before its signed checkpoint.
    const drop = new Set(events.filter((e) => e.f[e.at('chain_id')] === chain && Number(e.f[e.at('seq')]) >= S.checkpointSeq!).map((e) => e.i));
    expect(drop.size).toBeGreaterThan(0);
    const v2 = await restore('tampered_tail', lines.filter((_, i) => !drop.has(i)).join('\n'));
    expect(v2.code).toBe(1);
    expect(v2.err).toMatch(new RegExp(`FAIL chain=${chain} .*checkpoint_beyond_head`));
  }, 120_000);
});

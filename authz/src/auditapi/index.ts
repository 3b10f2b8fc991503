// The audit API and its explorer page, served by authz on :9192 under /audit/ and reached
// through Envoy (same TLS listener, docs/DESIGN.md "Audit API"):
//   GET /audit/events?since&until&tenant&actor&agent&memory&route&decision&kind&limit&cursor
//   GET /audit/memories/{id}         one memory's trail: decisions and what Mem0 did
//   GET /audit/chains                chain status: last verified checkpoint, first bad row
//   GET /audit/export?since&until&format=jsonl|csv[&tenant]   tar: rows + manifest (`audit verify --file`)
//   GET /audit/evidence?since&until  tar: the evidence pack
//   GET /audit/ui/…                  the explorer page (static, no data; Envoy asks no token for it)
// Envoy asks ext_authz about every API request like any other (routes audit.*, permission
// audit_read): the decision row is written before the request gets here. The API trusts no header
// for who is asking: it looks the decision up in the audit chain by the x-mem0-gov-decision-id
// Envoy forwards and takes tenant, subject, roles and scope (audit reason `audit_scope_all`) from
// that row, which must be an allowed decision of this route, method and path, at most a minute
// old, not used before. Every answer is recorded as an outcome row naming that decision before it
// is released. Rows carry ids, counts and digests, never memory content.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Logger } from '../logger.js';
import type { AuditSink } from '../types.js';
import { auditReadRow, type AuditReadContext, type AuditReadFacts } from '../record.js';
import { REASONS, type Reason } from '../reasons.js';
import { loadSigner } from '../audit/checkpoint.js';
import { writeEvidencePack } from '../audit/evidence.js';
import { exportAudit, rowObject } from '../audit/export.js';
import { chainBounds, connect, listChains, readArchives, readChainStatus, selectRows } from '../audit/pg.js';
import type { AuditRow } from '../audit/row.js';
import { bundleRevision } from '../policy/bundle.js';
import { tarStream } from './tar.js';

export interface AuditApiDeps {
  /** The writer's URL (SELECT on the audit tables is all the API needs). */
  pgUrl: string;
  audit: AuditSink;
  logger: Logger;
  policy: { wasmPath: string; dataPath: string };
  /** The checkpoint signing key (its public half goes into evidence packs). */
  checkpointKeyPem?: string;
  clock?: () => number;
}

export interface AuditApi {
  /** Handles /audit and /audit/…; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  close(): Promise<void>;
}

/** How old a decision may be when its request arrives. */
const DECISION_MAX_AGE_MS = 60_000;
const MAX_LIMIT = 500;
const MAX_TRAIL = 2000;
const API_ROUTES: Readonly<Record<string, string>> = {
  '/audit/events': 'audit.events',
  '/audit/chains': 'audit.chains',
  '/audit/export': 'audit.export',
  '/audit/evidence': 'audit.evidence',
};
const MEMORY_PATH = /^\/audit\/memories\/([A-Za-z0-9._-]{1,128})$/;
const ID = /^[\x21-\x7e]{1,256}$/;
const DECISIONS = new Set(['allow', 'deny', 'invalid_request', 'unauthenticated', 'rate_limited', 'error']);
const KINDS = new Set(['decision', 'outcome', 'admin', 'config']);

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
const UI_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The explorer's files: next to this module (sources, or a build that copied them), else the
 * sources' folder above a compiled tree (as migrations are found); null when neither has them.
 */
function uiDir(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  const here = join(dir, 'ui');
  if (existsSync(join(here, 'index.html'))) return here;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'authz', 'src', 'auditapi', 'ui');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  return null;
}

const UI_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Who asks, as their decision row says. */
export interface Caller extends AuditReadContext {
  /** null: every tenant (audit_read_all). */
  scope: string | null;
}

class ApiError extends Error {
  constructor(readonly reason: Reason, message: string, readonly status = REASONS[reason].status) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY_HEADERS, ...extra }).end(JSON.stringify(body));
}

function isoParam(q: URLSearchParams, name: string, fallback: Date): Date {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new ApiError('invalid_parameter', `${name} is not an ISO 8601 date`);
  return d;
}

function idParam(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!ID.test(v)) throw new ApiError('invalid_parameter', `${name} is not a printable id of at most 256 characters`);
  return v;
}

/** Small pool of sessions (the API's reads are short; exports hold one for their duration). */
function sessions(pgUrl: string): { use<T>(fn: (c: pg.Client) => Promise<T>): Promise<T>; close(): Promise<void> } {
  const idle: pg.Client[] = [];
  return {
    async use(fn) {
      const c = idle.pop() ?? await connect(pgUrl, 'mem0gov-audit-api');
      let ok = false;
      try {
        const out = await fn(c);
        ok = true;
        return out;
      } finally {
        if (ok && idle.length < 4) idle.push(c);
        else await c.end().catch(() => undefined);
      }
    },
    async close() {
      await Promise.all(idle.splice(0).map((c) => c.end().catch(() => undefined)));
    },
  };
}

export function createAuditApi(deps: AuditApiDeps): AuditApi {
  const clock = deps.clock ?? Date.now;
  const db = sessions(deps.pgUrl);
  const used = new Map<string, number>();
  const publicPems = deps.checkpointKeyPem !== undefined ? [loadSigner(deps.checkpointKeyPem).publicKeyPem] : [];
  const uiPath = uiDir();
  if (uiPath === null) deps.logger.warn('audit explorer files (authz/src/auditapi/ui) not found: /audit/ui/ answers 404, the API works');
  const ui: Record<string, Buffer> = uiPath === null ? {} : Object.fromEntries(Object.keys(UI_FILES).map((f) => [f, readFileSync(join(uiPath, f))]));

  /** The caller of this request, from its decision row (see the header comment). */
  async function caller(c: pg.Client, req: IncomingMessage, route: string, path: string): Promise<Caller> {
    const id = req.headers['x-mem0-gov-decision-id'];
    if (typeof id !== 'string' || !ID.test(id)) throw new ApiError('audit_decision_unknown', 'no decision: the audit API is reached through Envoy');
    const now = clock();
    for (const [k, at] of used) if (at < now - 2 * DECISION_MAX_AGE_MS) used.delete(k);
    if (used.has(id)) throw new ApiError('audit_decision_unknown', 'this decision was used already');
    // Durable before Envoy got the answer — in PostgreSQL, or in the writer's spool while
    // PostgreSQL was slow (then it arrives within moments): look again a few times before refusing.
    let row: AuditRow | undefined;
    for (let attempt = 0; attempt < 5 && row === undefined; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 200));
      [row] = await selectRows(c, "WHERE event_id = $1 AND ts >= $2 AND ts <= $3 AND kind = 'decision'",
        [id, new Date(now - DECISION_MAX_AGE_MS).toISOString(), new Date(now + 5_000).toISOString()]);
    }
    if (row === undefined || row.decision !== 'allow' || row.route !== route || row.method !== 'GET' || row.path !== path
      || row.actor_sub === null || row.tenant === null) {
      throw new ApiError('audit_decision_unknown', 'no allowed decision for this request');
    }
    // Envoy forwards the identity of that decision; anything else is not this request's.
    const h = (n: string): string | undefined => (typeof req.headers[n] === 'string' ? req.headers[n] as string : undefined);
    if ((h('x-mem0-gov-tenant') ?? row.tenant) !== row.tenant || (h('x-mem0-gov-subject') ?? row.actor_sub) !== row.actor_sub) {
      throw new ApiError('audit_decision_unknown', 'the forwarded identity is not the decision\'s');
    }
    used.set(id, now);
    return {
      decisionId: id, requestId: row.request_id, route, method: 'GET', path,
      identity: { subject: row.actor_sub, roles: row.roles ?? [], tenant: row.tenant, agent: row.agent ?? undefined, sessionId: row.session ?? undefined },
      sourceIp: row.source_ip, policyRevision: row.policy_revision,
      scope: (row.reasons ?? []).includes('audit_scope_all') ? null : row.tenant,
    };
  }

  /** The tenant a query may read: the caller's own, or (audit_read_all) any named one, or all. */
  function tenantOf(who: Caller, q: URLSearchParams): string | undefined {
    const asked = idParam(q, 'tenant');
    if (who.scope === null) return asked;
    if (asked !== undefined && asked !== who.scope) throw new ApiError('cross_tenant', `this auditor reads tenant ${who.scope} only`);
    return who.scope;
  }

  async function events(c: pg.Client, who: Caller, q: URLSearchParams): Promise<{ body: unknown; facts: Partial<AuditReadFacts> }> {
    const until = isoParam(q, 'until', new Date(clock() + 60_000));
    const since = isoParam(q, 'since', new Date(until.getTime() - 86_400_000));
    const limitText = q.get('limit') ?? '100';
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) throw new ApiError('invalid_parameter', `limit is 1..${MAX_LIMIT}`);
    const limit = Number(limitText);
    const where: string[] = ['ts >= $1', 'ts < $2'];
    const params: unknown[] = [since.toISOString(), until.toISOString()];
    const add = (sql: string, v: unknown): void => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    const tenant = tenantOf(who, q);
    if (tenant !== undefined) add('tenant = ?', tenant);
    const filters: Record<string, string> = { since: since.toISOString(), until: until.toISOString() };
    if (tenant !== undefined) filters.tenant = tenant;
    for (const [name, column] of [['actor', 'actor_sub'], ['agent', 'agent'], ['memory', 'memory_id'], ['route', 'route']] as const) {
      const v = idParam(q, name);
      if (v !== undefined) {
        add(`${column} = ?`, v);
        filters[name] = v;
      }
    }
    const decision = q.get('decision');
    if (decision !== null && decision !== '') {
      if (!DECISIONS.has(decision)) throw new ApiError('invalid_parameter', 'decision is one of allow, deny, invalid_request, unauthenticated, rate_limited, error');
      add('decision = ?', decision);
      filters.decision = decision;
    }
    const kind = q.get('kind');
    if (kind !== null && kind !== '') {
      if (!KINDS.has(kind)) throw new ApiError('invalid_parameter', 'kind is one of decision, outcome, admin, config');
      add(kind === 'decision' ? "(kind = ? OR (kind IS NULL AND method NOT IN ('CLI', 'CONFIG')))" : 'kind = ?', kind);
      filters.kind = kind;
    }
    const cursor = q.get('cursor');
    if (cursor !== null && cursor !== '') {
      let at: [string, string, number];
      try {
        at = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string, number];
        if (!Array.isArray(at) || at.length !== 3 || Number.isNaN(new Date(at[0]).getTime()) || typeof at[1] !== 'string' || !Number.isSafeInteger(at[2])) throw new Error('shape');
      } catch {
        throw new ApiError('invalid_parameter', 'cursor is not one this API gave out');
      }
      params.push(at[0], at[1], at[2]);
      const n = params.length;
      where.push(`(ts < $${n - 2} OR (ts = $${n - 2} AND (chain_id, seq) < ($${n - 1}, $${n})))`);
      filters.cursor = cursor;
    }
    const rows = await selectRows(c, `WHERE ${where.join(' AND ')} ORDER BY ts DESC, chain_id DESC, seq DESC LIMIT ${limit + 1}`, params);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const next = rows.length > limit && last !== undefined ? Buffer.from(JSON.stringify([last.ts, last.chain_id, last.seq])).toString('base64url') : null;
    return { body: { scope: { tenant: who.scope }, rows: page.map(rowObject), next_cursor: next }, facts: { returned: page.length, query: filters } };
  }

  async function trail(c: pg.Client, who: Caller, memoryId: string): Promise<{ body: unknown; facts: Partial<AuditReadFacts> }> {
    const t = who.scope !== null ? ' AND tenant = $2' : '';
    const params = who.scope !== null ? [memoryId, who.scope] : [memoryId];
    // Outcome rows of Mem0 requests (not the audit API's own reads) whose detail names the memory:
    // lists and searches that returned it, answers it was withheld from (index events_outcome_ids).
    const named = (o: string): string => `${o}kind = 'outcome' AND ${o}detail IS NOT NULL AND ${o}route NOT LIKE 'audit.%'
      AND audit.detail_ids(${o}detail) @> ARRAY[lower($1)]${t.replace('tenant', `${o}tenant`)}`;
    // Decisions and outcomes that name the memory, those outcome rows, and the decisions they answer.
    const rows = await selectRows(c, `WHERE (chain_id, seq) IN (
        SELECT chain_id, seq FROM audit.events WHERE memory_id = $1${t}
        UNION
        SELECT chain_id, seq FROM audit.events WHERE ${named('')}
        UNION
        SELECT d.chain_id, d.seq FROM audit.events d WHERE d.kind = 'decision'
           AND d.event_id IN (SELECT o.ref_event_id FROM audit.events o WHERE ${named('o.')}))
      ORDER BY ts, chain_id, seq LIMIT ${MAX_TRAIL + 1}`, params);
    return {
      body: { scope: { tenant: who.scope }, memory_id: memoryId, rows: rows.slice(0, MAX_TRAIL).map(rowObject), truncated: rows.length > MAX_TRAIL },
      facts: { returned: Math.min(rows.length, MAX_TRAIL), query: { memory: memoryId } },
    };
  }

  async function chains(c: pg.Client): Promise<{ body: unknown; facts: Partial<AuditReadFacts> }> {
    const status = new Map((await readChainStatus(c)).map((s) => [s.chain_id, s]));
    const archived = new Map<string, { seq: number; before: string }>();
    for (const a of await readArchives(c)) archived.set(a.chain_id, { seq: a.seq, before: a.before });
    const out = [];
    for (const chainId of await listChains(c)) {
      const b = await chainBounds(c, chainId);
      const s = status.get(chainId) ?? null;
      out.push({
        chain_id: chainId, head_seq: b?.hi ?? archived.get(chainId)?.seq ?? null, archived_through: archived.get(chainId) ?? null,
        verified: s === null ? 'unverified' : s.ok ? 'verified' : 'broken', status: s,
      });
    }
    return { body: { chains: out }, facts: { returned: out.length, query: {} } };
  }

  /** Builds files in a temp dir, records the read (with the archive's digest), streams the tar. */
  async function download(res: ServerResponse, who: Caller, name: string, build: (dir: string) => Promise<{ files: string[]; rows: number; query: Record<string, string> }>, started: number): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'mem0gov-audit-api-'));
    try {
      const { files, rows, query } = await build(dir);
      const hash = createHash('sha256');
      for await (const chunk of tarStream(files)) hash.update(chunk);
      const sha256 = hash.digest('hex');
      await record(who, { status: 200, returned: rows, query, sha256 }, started);
      res.writeHead(200, {
        'content-type': 'application/x-tar', 'content-disposition': `attachment; filename="${name}"`, 'cache-control': 'no-store',
        'x-content-sha256': sha256, ...SECURITY_HEADERS,
      });
      for await (const chunk of tarStream(files)) {
        if (!res.write(chunk)) await new Promise<void>((r) => res.once('drain', () => r()));
      }
      res.end();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async function record(who: Caller, f: Partial<AuditReadFacts> & { status: number }, started: number): Promise<void> {
    await deps.audit.append(auditReadRow(who, { returned: 0, query: {}, latencyMs: performance.now() - started, ...f }, clock()));
  }

  async function serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = performance.now();
    const memory = MEMORY_PATH.exec(url.pathname);
    const route = memory !== null ? 'audit.memory' : API_ROUTES[url.pathname];
    if (route === undefined) {
      sendJson(res, 404, { error: 'deny', reason: 'unknown_route', request_id: String(req.headers['x-request-id'] ?? ''), decision_id: '' });
      return;
    }
    let who: Caller | undefined;
    try {
      if (req.method !== 'GET') throw new ApiError('unknown_route', 'the audit API only reads (GET)', 405);
      const q = url.searchParams;
      who = await db.use((c) => caller(c, req, route, url.pathname));
      const w = who;
      if (route === 'audit.export' || route === 'audit.evidence') {
        const until = isoParam(q, 'until', new Date(clock() + 60_000));
        const since = isoParam(q, 'since', new Date(until.getTime() - 30 * 86_400_000));
        if (since > until) throw new ApiError('invalid_parameter', 'since must not be after until');
        const stamp = `${since.toISOString()}_${until.toISOString()}`.replace(/[:.]/g, '');
        if (route === 'audit.export') {
          const format = q.get('format') ?? 'jsonl';
          if (format !== 'jsonl' && format !== 'csv') throw new ApiError('invalid_parameter', 'format is jsonl or csv');
          const tenant = tenantOf(w, q);
          await download(res, w, `audit-${stamp}.tar`, (dir) => db.use(async (c) => {
            const r = await exportAudit(c, { since, until, format, outDir: dir, ...(tenant !== undefined ? { tenant } : {}), ...(publicPems[0] !== undefined ? { publicKeyPem: publicPems[0] } : {}) });
            return { files: [r.rowsPath, r.manifestPath], rows: r.manifest.row_count, query: { since: since.toISOString(), until: until.toISOString(), format, ...(tenant !== undefined ? { tenant } : {}) } };
          }), started);
          return;
        }
        await download(res, w, `evidence-${stamp}.tar`, (dir) => db.use(async (c) => {
          const [wasm, data] = await Promise.all([readFile(deps.policy.wasmPath), readFile(deps.policy.dataPath)]);
          const status = await readChainStatus(c);
          const files = await writeEvidencePack(c, {
            out: dir, since, until, ...(w.scope !== null ? { tenant: w.scope } : {}), publicPems,
            generator: 'mem0-gov audit API', generatedBy: `${w.identity.subject} (decision ${w.decisionId})`,
            verification: {
              source: 'the service verifier\'s last run per chain (audit.chain_status)', verified_at: new Date(clock()).toISOString(),
              result: status.every((s) => s.ok) ? 'valid' : 'BROKEN', checkpoint_public_keys: [], chains: status,
            },
            policy: { revision: bundleRevision(wasm, data), wasm: deps.policy.wasmPath, data: deps.policy.dataPath, data_content: JSON.parse(data.toString('utf8')) as unknown },
          });
          return { files: files.map((f) => join(dir, f)), rows: files.length, query: { since: since.toISOString(), until: until.toISOString(), ...(w.scope !== null ? { tenant: w.scope } : {}) } };
        }), started);
        return;
      }
      const out = await db.use((c) => (route === 'audit.events' ? events(c, w, q) : route === 'audit.memory' ? trail(c, w, memory![1]!) : chains(c)));
      await record(w, { status: 200, ...out.facts }, started);
      sendJson(res, 200, out.body);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError('internal_error', (err as Error).message);
      if (!(err instanceof ApiError)) deps.logger.error({ err: { message: (err as Error).message }, path: url.pathname }, 'audit API failed');
      // A refusal after the caller was known is part of the trail too.
      if (who !== undefined) await record(who, { status: e.status, error: e.reason }, started).catch(() => undefined);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, e.status, { error: REASONS[e.reason].decision, reason: e.reason, message: e.message, request_id: String(req.headers['x-request-id'] ?? ''), decision_id: who?.decisionId ?? '' });
    }
  }

  function serveUi(res: ServerResponse, file: string): void {
    const body = ui[file];
    const type = UI_FILES[file];
    if (body === undefined || type === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain', ...SECURITY_HEADERS }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', 'content-security-policy': UI_CSP, ...SECURITY_HEADERS }).end(body);
  }

  return {
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://audit.invalid');
      if (url.pathname !== '/audit' && !url.pathname.startsWith('/audit/')) return false;
      if (url.pathname === '/audit' || url.pathname === '/audit/') {
        res.writeHead(302, { location: '/audit/ui/', ...SECURITY_HEADERS }).end();
      } else if (url.pathname.startsWith('/audit/ui/')) {
        serveUi(res, url.pathname.slice('/audit/ui/'.length) || 'index.html');
      } else {
        void serve(req, res, url);
      }
      return true;
    },
    close: () => db.close(),
  };
}

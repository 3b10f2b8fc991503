// The authorization matrix: every role × every route × scope (own tenant, other tenant, PHI,
// break-glass, missing memory, no entity id) plus tenant ABAC and id-scheme edge cases.
// Written once here, saved as policies/matrix.json, and replayed by three suites: the Rego unit
// tests (opa test), the TS tests through the compiled wasm, and the lead's Envoy e2e.
//
// Expectations come from SPEC below, a plain transcription of DESIGN's role table and
// policies/README.md, not from data.json, so a drifting data file fails the matrix.
// Regenerate: npx tsx policies/matrix.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EntityRef, MemoryOwner, PolicyInput, RouteId } from '../authz/src/types.js';

export const NOW_MS = Date.UTC(2026, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

/** DESIGN "Roles", plus the PHI permission (admin and phi-reader hold it). */
const SPEC_ROLES: Record<string, string[]> = {
  'agent-reader': ['read'],
  'agent-writer': ['read', 'write'],
  admin: ['read', 'write', 'delete', 'bulk_delete', 'admin', 'phi'],
  // The audit API: the tenant's trail; platform-auditor every tenant's (DESIGN "Roles").
  auditor: ['audit_read'],
  'phi-reader': ['phi'],
  'platform-admin': ['platform_admin'],
  'platform-auditor': ['audit_read', 'audit_read_all'],
};

interface RouteSpec {
  method: string;
  path: string;
  action: PolicyInput['request']['action'];
  perm: string;
  owner?: true;
  entityRequired?: true;
  /** acts on every tenant: platform_admin only */
  global?: true;
  /** Mem0's own accounts: always denied */
  account?: true;
  breakGlass?: true;
  /** body is memory content: the tenant's content rules go to the response stage */
  content?: true;
  /** the audit API: audit_read_all widens the scope to every tenant (audit reason audit_scope_all) */
  audit?: true;
  /** where the route's entity ids come from; none = the route names no entity */
  source?: EntityRef['source'];
}

export const ROUTES: Record<RouteId, RouteSpec> = {
  'memories.create': { method: 'POST', path: '/memories', action: 'write', perm: 'write', entityRequired: true, content: true, source: 'body' },
  'memories.list': { method: 'GET', path: '/memories', action: 'read', perm: 'read', entityRequired: true, source: 'query' },
  'memories.list_all': { method: 'GET', path: '/memories', action: 'platform', perm: 'platform_admin', global: true },
  'memories.get': { method: 'GET', path: '/memories/m-1', action: 'read', perm: 'read', owner: true },
  'memories.history': { method: 'GET', path: '/memories/m-1/history', action: 'read', perm: 'read', owner: true },
  'memories.update': { method: 'PUT', path: '/memories/m-1', action: 'write', perm: 'write', owner: true, content: true },
  'memories.delete': { method: 'DELETE', path: '/memories/m-1', action: 'delete', perm: 'delete', owner: true },
  'memories.bulk_delete': { method: 'DELETE', path: '/memories', action: 'bulk_delete', perm: 'bulk_delete', entityRequired: true, source: 'query' },
  search: { method: 'POST', path: '/search', action: 'read', perm: 'read', entityRequired: true, source: 'filters' },
  'entities.list': { method: 'GET', path: '/entities', action: 'read', perm: 'read' },
  'entities.delete': { method: 'DELETE', path: '/entities/user/ID', action: 'admin', perm: 'admin', source: 'path' },
  reset: { method: 'POST', path: '/reset', action: 'platform', perm: 'platform_admin', global: true, breakGlass: true },
  'configure.get': { method: 'GET', path: '/configure', action: 'platform', perm: 'platform_admin', global: true },
  'configure.providers': { method: 'GET', path: '/configure/providers', action: 'platform', perm: 'platform_admin', global: true },
  'configure.set': { method: 'POST', path: '/configure', action: 'platform', perm: 'platform_admin', global: true },
  'requests.list': { method: 'GET', path: '/requests', action: 'platform', perm: 'platform_admin', global: true },
  'instructions.generate': { method: 'POST', path: '/generate-instructions', action: 'write', perm: 'write' },
  docs: { method: 'GET', path: '/openapi.json', action: 'read', perm: 'read' },
  'mem0.account': { method: 'POST', path: '/auth/login', action: 'account', perm: '', account: true },
  'audit.events': { method: 'GET', path: '/audit/events', action: 'audit_read', perm: 'audit_read', audit: true },
  'audit.memory': { method: 'GET', path: '/audit/memories/m-1', action: 'audit_read', perm: 'audit_read', audit: true },
  'audit.chains': { method: 'GET', path: '/audit/chains', action: 'audit_read', perm: 'audit_read', audit: true },
  'audit.export': { method: 'GET', path: '/audit/export', action: 'audit_read', perm: 'audit_read', audit: true },
  'audit.evidence': { method: 'GET', path: '/audit/evidence', action: 'audit_read', perm: 'audit_read', audit: true },
};

const PRIORITY = [
  'tenant_invalid', 'tenant_suspended', 'action_denied_for_tenant', 'source_ip_not_allowed', 'outside_allowed_hours', 'unknown_route',
  'mem0_account_route', 'role_missing', 'platform_admin_required', 'break_glass_required', 'entity_id_required', 'cross_tenant',
  'memory_not_found', 'phi_permission_missing', 'custom_prompt_not_allowed', 'raw_storage_not_allowed',
];

const CONTENT_RULES = { mode: 'mask', detectors: ['email', 'ssn'], custom: [] };

/** Tenants the matrix needs, merged over the production data.json. */
export const TEST_TENANTS = {
  suspendedco: { suspended: true },
  netco: { allowed_cidrs: ['10.0.0.0/8', '2001:db8::/32'] },
  dayco: { allowed_hours_utc: [[8, 18]] },
  nightco: { allowed_hours_utc: [[22, 6]] },
  mapco: { id_prefixes: ['mapco-'] },
  // incident response "deny writes": reads go on, everything else is refused
  lockedco: { denied_actions: ['write', 'delete', 'bulk_delete', 'admin'] },
  // custom prompts and raw storage (infer=false) only for admins; content rules on writes
  strictco: { custom_prompt_roles: ['admin'], raw_storage_roles: ['admin'], content_rules: CONTENT_RULES },
};

export interface Expect {
  allow: boolean;
  reasons: string[];
  status?: number;
  break_glass: boolean;
  phi: boolean;
  audit_reasons: string[];
  /** allowed only: what the response stage enforces, and the content rules of writes */
  answer?: { tenant_prefixes: string[] | null; phi_allowed: boolean };
  content?: unknown;
}

export interface MatrixCase {
  name: string;
  /** role set, route and scope, for e2e suites that rebuild the HTTP request */
  scenario: { roles: string[]; route: string; scope: string; tenant: string };
  input: PolicyInput;
  expect: Expect;
}

interface Scope {
  tenant: string;
  entityIds: string[];
  owner?: MemoryOwner;
  options?: PolicyInput['request']['options'];
  phiInBody?: boolean;
  grant?: { role: string; expires_at_ms: number };
  nowMs?: number;
  sourceIp?: string;
}

function makeInput(roles: string[], route: RouteId | string, s: Scope): PolicyInput {
  const spec = ROUTES[route as RouteId] as RouteSpec | undefined;
  const source = spec?.source ?? 'body';
  const input: PolicyInput = {
    now_ms: s.nowMs ?? NOW_MS,
    request: {
      method: spec?.method ?? 'PATCH',
      path: (spec?.path ?? '/bogus').replace('ID', encodeURIComponent(s.entityIds[0] ?? '')),
      route: route as RouteId,
      action: spec?.action ?? 'read',
      entities: s.entityIds.map((id, i) => ({ kind: i % 2 === 0 ? 'user_id' : 'agent_id', id, source })),
      phi_in_body: s.phiInBody ?? false,
      source_ip: s.sourceIp ?? '10.1.2.3',
      options: s.options ?? {},
    },
    subject: { sub: 'alice', tenant: s.tenant, roles },
  };
  if (spec?.owner) {
    input.request.memory_id = 'm-1';
    if (s.owner) input.owner = s.owner;
  }
  if (s.grant) input.break_glass = { ...s.grant, grant_id: 'bg-1' };
  return input;
}

type TenantConf = {
  suspended?: boolean; denied_actions?: string[]; id_prefixes?: string[]; allowed_cidrs?: string[]; allowed_hours_utc?: number[][];
  custom_prompt_roles?: string[]; raw_storage_roles?: string[]; content_rules?: unknown;
};

function ipInCidrs(ip: string, cidrs: string[]): boolean {
  // Only what the matrix uses: IPv4 /8 and IPv6 /32 prefixes written in full groups.
  return cidrs.some((c) => {
    const [net, bits] = c.split('/');
    if (net === undefined || bits === undefined) return false;
    if (net.includes(':')) return ip.includes(':') && ip.toLowerCase().startsWith(net.split('::')[0]!.toLowerCase() + ':');
    const octets = Number(bits) / 8;
    return !ip.includes(':') && ip.split('.').slice(0, octets).join('.') === net.split('.').slice(0, octets).join('.');
  });
}

/** The oracle: DESIGN + README rules written out plainly. */
function expectFor(input: PolicyInput): Expect {
  const t = input.subject.tenant;
  const conf: TenantConf = (TEST_TENANTS as Record<string, TenantConf>)[t] ?? {};
  const bg = input.break_glass !== undefined && input.break_glass.expires_at_ms > input.now_ms;
  const roles = bg ? [...input.subject.roles, input.break_glass!.role] : input.subject.roles;
  // break-glass never confers what reaches every tenant: platform_admin, audit_read_all
  const perms = new Set([
    ...input.subject.roles.flatMap((r) => SPEC_ROLES[r] ?? []),
    ...(bg ? (SPEC_ROLES[input.break_glass!.role] ?? []).filter((p) => p !== 'platform_admin' && p !== 'audit_read_all') : []),
  ]);
  const tenantValid = t !== '' && !t.includes(':');
  const own = (id: string | undefined): boolean => {
    if (!tenantValid || id === undefined) return false;
    return [`${t}:`, ...(conf.id_prefixes ?? [])].some((p) => id.startsWith(p) && id.length > p.length);
  };
  const spec = ROUTES[input.request.route] as RouteSpec | undefined;
  const ents = input.request.entities;
  const o = input.owner;
  const ownerIds = o ? [o.user_id, o.agent_id, o.run_id].filter((x): x is string => typeof x === 'string' && x !== '') : [];
  const known = o?.exists === true || o?.deleted === true;
  const visible = o?.exists === true || (o?.deleted === true && input.request.route === 'memories.history');
  const idsOwn = ownerIds.length > 0 && ownerIds.every(own);
  const ownerOwn = visible && idsOwn;
  const hour = Math.floor(input.now_ms / HOUR) % 24;
  const hoursOk = (conf.allowed_hours_utc ?? []).length === 0 || (conf.allowed_hours_utc ?? []).some(([a, b]) =>
    a! <= b! ? hour >= a! && hour < b! : hour >= a! || hour < b!);
  const optionOk = (list: string[] | undefined): boolean => list === undefined || roles.some((r) => list.includes(r));
  const deny = new Set<string>();
  if (!tenantValid) deny.add('tenant_invalid');
  if (conf.suspended) deny.add('tenant_suspended');
  if (spec && spec.perm !== '' && (conf.denied_actions ?? []).includes(spec.perm)) deny.add('action_denied_for_tenant');
  if ((conf.allowed_cidrs ?? []).length > 0 && !ipInCidrs(input.request.source_ip, conf.allowed_cidrs!)) deny.add('source_ip_not_allowed');
  if (!hoursOk) deny.add('outside_allowed_hours');
  if (!spec) deny.add('unknown_route');
  if (spec?.account) deny.add('mem0_account_route');
  if (spec && !spec.account && !spec.global && !perms.has(spec.perm)) deny.add('role_missing');
  if (spec?.global && !perms.has('platform_admin')) deny.add('platform_admin_required');
  if (spec?.breakGlass && !bg) deny.add('break_glass_required');
  if (spec?.entityRequired && ents.length === 0) deny.add('entity_id_required');
  if (ents.some((e) => !own(e.id))) deny.add('cross_tenant');
  if (spec?.owner && !ownerOwn) deny.add('memory_not_found');
  if (spec?.owner && ownerOwn && o?.phi && !perms.has('phi')) deny.add('phi_permission_missing');
  const opts = input.request.options;
  if (input.request.route === 'memories.create' && opts.custom_prompt === true && !optionOk(conf.custom_prompt_roles)) deny.add('custom_prompt_not_allowed');
  if (input.request.route === 'memories.create' && opts.infer === false && !optionOk(conf.raw_storage_roles)) deny.add('raw_storage_not_allowed');
  const reasons = PRIORITY.filter((r) => deny.has(r));
  const audit: string[] = [];
  if (spec?.owner && !ownerOwn) audit.push(known ? (idsOwn ? '' : 'memory_cross_tenant') : 'memory_absent');
  if (spec?.owner && o?.deleted === true) audit.push('memory_deleted');
  if (spec?.audit && perms.has('audit_read_all')) audit.push('audit_scope_all');
  const e: Expect = {
    allow: reasons.length === 0,
    reasons,
    break_glass: bg,
    phi: input.request.phi_in_body || o?.phi === true,
    audit_reasons: audit.filter((x) => x !== '').sort(),
  };
  if (!e.allow) e.status = reasons[0] === 'entity_id_required' ? 400 : reasons[0] === 'memory_not_found' ? 404 : 403;
  if (e.allow) {
    e.answer = {
      tenant_prefixes: spec?.global ? null : [`${t}:`, ...(conf.id_prefixes ?? [])],
      phi_allowed: perms.has('phi'),
    };
    const rules = conf.content_rules as { mode?: string } | undefined;
    e.content = spec?.content && rules !== undefined && rules.mode !== 'off' ? rules : null;
  }
  return e;
}

const ROLE_SETS: string[][] = [
  [], ['agent-reader'], ['agent-writer'], ['admin'], ['auditor'], ['phi-reader'], ['agent-reader', 'phi-reader'], ['superuser'],
  ['platform-admin'], ['platform-auditor'],
];

function owner(userId: string, phi = false): MemoryOwner {
  return { exists: true, user_id: userId, agent_id: userId.replace(/:.*/, ':agent-7'), phi };
}

export function buildMatrix(policyData: { mem0gov: Record<string, unknown> }): {
  mem0gov_matrix: { data: { mem0gov: Record<string, unknown> }; now_ms: number; cases: MatrixCase[] };
} {
  const cases: MatrixCase[] = [];
  const add = (roles: string[], route: string, scope: string, s: Scope): void => {
    const input = makeInput(roles, route, s);
    cases.push({
      name: `${roles.join('+') || 'no-role'} ${route} ${scope}`,
      scenario: { roles, route, scope, tenant: s.tenant },
      input,
      expect: expectFor(input),
    });
  };
  const activeAdmin = { role: 'admin', expires_at_ms: NOW_MS + HOUR };
  for (const roles of ROLE_SETS) {
    for (const [route, spec] of Object.entries(ROUTES) as [RouteId, RouteSpec][]) {
      const named = spec.source ? ['acme:alice'] : [];
      const own: Scope = { tenant: 'acme', entityIds: named, owner: spec.owner ? owner('acme:alice') : undefined };
      add(roles, route, 'own-tenant', own);
      add(roles, route, 'other-tenant', {
        tenant: 'acme',
        entityIds: spec.source ? ['globex:bob'] : [],
        owner: spec.owner ? owner('globex:bob') : undefined,
      });
      add(roles, route, 'break-glass-admin', { ...own, grant: activeAdmin });
      add(roles, route, 'break-glass-expired', { ...own, grant: { role: 'admin', expires_at_ms: NOW_MS } });
      add(roles, route, 'break-glass-other-tenant', {
        tenant: 'acme', entityIds: spec.source ? ['globex:bob'] : [], owner: spec.owner ? owner('globex:bob') : undefined, grant: activeAdmin,
      });
      if (spec.owner) {
        add(roles, route, 'phi', { ...own, owner: owner('acme:alice', true) });
        add(roles, route, 'phi-other-tenant', { ...own, owner: owner('globex:bob', true) });
        add(roles, route, 'missing', { ...own, owner: { exists: false, phi: false } });
        add(roles, route, 'owner-lookup-absent', { ...own, owner: undefined });
        add(roles, route, 'owner-mixed-tenants', { ...own, owner: { exists: true, user_id: 'acme:alice', agent_id: 'globex:agent', phi: false } });
        add(roles, route, 'owner-without-ids', { ...own, owner: { exists: true, phi: false } });
        add(roles, route, 'deleted', { ...own, owner: { exists: false, deleted: true, user_id: 'acme:alice', phi: false } });
        add(roles, route, 'deleted-other-tenant', { ...own, owner: { exists: false, deleted: true, user_id: 'globex:bob', phi: false } });
        add(roles, route, 'deleted-phi', { ...own, owner: { exists: false, deleted: true, user_id: 'acme:alice', phi: true } });
      }
      if (spec.source) {
        add(roles, route, 'mixed-entities', { tenant: 'acme', entityIds: ['acme:alice', 'globex:bob'] });
        add(roles, route, 'no-entity', { tenant: 'acme', entityIds: [] });
      }
      if (route === 'memories.create') add(roles, route, 'phi-in-body', { ...own, phiInBody: true });
    }
  }
  // Id scheme edge cases and tenant ABAC, for the writer on create and the admin on configure.
  const w = ['agent-writer'];
  const at = (h: number, m = 0): number => Date.UTC(2026, 0, 15, h, m);
  const edge: [string, Scope][] = [
    ['prefix-confusion', { tenant: 'acme', entityIds: ['acmex:alice'] }],
    ['empty-local-part', { tenant: 'acme', entityIds: ['acme:'] }],
    ['bare-tenant-id', { tenant: 'acme', entityIds: ['acme'] }],
    ['tenant-empty', { tenant: '', entityIds: [':alice'] }],
    ['tenant-with-colon', { tenant: 'acme:x', entityIds: ['acme:x:alice'] }],
    ['mapped-prefix', { tenant: 'mapco', entityIds: ['mapco-42'] }],
    ['mapped-default-scheme', { tenant: 'mapco', entityIds: ['mapco:42'] }],
    ['mapped-prefix-confusion', { tenant: 'mapco', entityIds: ['mapc-42'] }],
    ['other-tenant-prefix-map', { tenant: 'acme', entityIds: ['mapco-42'] }],
    ['suspended', { tenant: 'suspendedco', entityIds: ['suspendedco:a'] }],
    ['cidr-inside', { tenant: 'netco', entityIds: ['netco:a'], sourceIp: '10.200.0.1' }],
    ['cidr-outside', { tenant: 'netco', entityIds: ['netco:a'], sourceIp: '192.168.1.1' }],
    ['cidr-ipv6-inside', { tenant: 'netco', entityIds: ['netco:a'], sourceIp: '2001:db8::7' }],
    ['cidr-ipv6-outside', { tenant: 'netco', entityIds: ['netco:a'], sourceIp: '2001:db9::7' }],
    ['hours-before', { tenant: 'dayco', entityIds: ['dayco:a'], nowMs: at(7, 59) }],
    ['hours-start', { tenant: 'dayco', entityIds: ['dayco:a'], nowMs: at(8) }],
    ['hours-last-minute', { tenant: 'dayco', entityIds: ['dayco:a'], nowMs: at(17, 59) }],
    ['hours-end', { tenant: 'dayco', entityIds: ['dayco:a'], nowMs: at(18) }],
    ['hours-wrap-late', { tenant: 'nightco', entityIds: ['nightco:a'], nowMs: at(23) }],
    ['hours-wrap-early', { tenant: 'nightco', entityIds: ['nightco:a'], nowMs: at(5, 59) }],
    ['hours-wrap-end', { tenant: 'nightco', entityIds: ['nightco:a'], nowMs: at(6) }],
    ['hours-wrap-noon', { tenant: 'nightco', entityIds: ['nightco:a'], nowMs: at(12) }],
    ['suspended-break-glass', { tenant: 'suspendedco', entityIds: ['suspendedco:a'], grant: activeAdmin }],
  ];
  for (const [scope, s] of edge) add(w, 'memories.create', scope, s);
  add(['admin'], 'configure.set', 'suspended', { tenant: 'suspendedco', entityIds: [] });
  add(['platform-admin'], 'configure.set', 'suspended', { tenant: 'suspendedco', entityIds: [] });
  // A tenant admin's break-glass grant of platform-admin does not reach every tenant.
  for (const route of ['reset', 'memories.list_all', 'configure.set'] as RouteId[]) {
    add(['admin'], route, 'break-glass-platform-grant', { tenant: 'acme', entityIds: [], grant: { role: 'platform-admin', expires_at_ms: NOW_MS + HOUR } });
    add(['platform-admin'], route, 'platform-with-break-glass', { tenant: 'platform', entityIds: [], grant: { role: 'agent-reader', expires_at_ms: NOW_MS + HOUR } });
  }
  // A break-glass grant of platform-auditor reads the own tenant's trail only (no audit_scope_all).
  for (const route of ['audit.events', 'audit.export'] as RouteId[]) {
    add(['agent-reader'], route, 'break-glass-platform-auditor-grant', { tenant: 'acme', entityIds: [], grant: { role: 'platform-auditor', expires_at_ms: NOW_MS + HOUR } });
    add(['auditor'], route, 'break-glass-platform-auditor-grant', { tenant: 'acme', entityIds: [], grant: { role: 'platform-auditor', expires_at_ms: NOW_MS + HOUR } });
  }
  // Request options a tenant restricts to some roles, and the tenant's content rules on writes.
  const sc = (options: PolicyInput['request']['options']): Scope => ({ tenant: 'strictco', entityIds: ['strictco:a'], options });
  for (const roles of [['agent-writer'], ['admin']]) {
    add(roles, 'memories.create', 'custom-prompt', sc({ custom_prompt: true }));
    add(roles, 'memories.create', 'raw-storage', sc({ infer: false }));
    add(roles, 'memories.create', 'infer-true', sc({ infer: true }));
    add(roles, 'memories.create', 'content-rules', sc({}));
    add(roles, 'memories.update', 'content-rules', { tenant: 'strictco', entityIds: [], owner: owner('strictco:a') });
    add(roles, 'search', 'content-rules-not-on-reads', sc({}));
  }
  add(['agent-writer'], 'memories.create', 'custom-prompt-default-tenant', { tenant: 'acme', entityIds: ['acme:a'], options: { custom_prompt: true, infer: false } });
  add(['agent-writer'], 'memories.create', 'custom-prompt-break-glass-admin', { ...sc({ custom_prompt: true }), grant: activeAdmin });
  add(['admin'], 'reset', 'break-glass-reader-grant', { tenant: 'acme', entityIds: [], grant: { role: 'agent-reader', expires_at_ms: NOW_MS + HOUR } });
  add(['agent-reader'], 'memories.get', 'break-glass-phi-reader', { tenant: 'acme', entityIds: [], owner: owner('acme:alice', true), grant: { role: 'phi-reader', expires_at_ms: NOW_MS + 1 } });
  // A tenant with writes denied: every route for admin (reads pass, the rest is refused), a
  // writer and a reader, and break-glass admin (which must not lift the denial).
  for (const route of (Object.keys(ROUTES) as RouteId[]).filter((r) => !ROUTES[r].global && !ROUTES[r].account)) {
    const spec = ROUTES[route];
    const s: Scope = { tenant: 'lockedco', entityIds: spec.source ? ['lockedco:alice'] : [], owner: spec.owner ? owner('lockedco:alice') : undefined };
    add(['admin'], route, 'writes-denied', s);
    add(['agent-reader'], route, 'writes-denied-break-glass-admin', { ...s, grant: activeAdmin });
  }
  for (const route of ['memories.create', 'memories.update', 'memories.get', 'search'] as RouteId[]) {
    const spec = ROUTES[route];
    add(['agent-writer'], route, 'writes-denied', {
      tenant: 'lockedco', entityIds: spec.source ? ['lockedco:alice'] : [], owner: spec.owner ? owner('lockedco:alice') : undefined,
    });
  }
  add(['admin'], 'bogus.route', 'unknown-route', { tenant: 'acme', entityIds: ['acme:alice'] });

  const data = { mem0gov: { ...policyData.mem0gov, tenants: TEST_TENANTS } };
  return { mem0gov_matrix: { data, now_ms: NOW_MS, cases } };
}

export const HERE = dirname(fileURLToPath(import.meta.url));

export function readPolicyData(): { mem0gov: Record<string, unknown> } {
  return JSON.parse(readFileSync(join(HERE, 'data.json'), 'utf8')) as { mem0gov: Record<string, unknown> };
}

export function renderMatrix(): string {
  // One case per line: diffable, and small enough to review.
  const m = buildMatrix(readPolicyData()).mem0gov_matrix;
  const cases = m.cases.map((c) => `   ${JSON.stringify(c)}`).join(',\n');
  return `{"mem0gov_matrix": {\n "now_ms": ${m.now_ms},\n "data": ${JSON.stringify(m.data)},\n "cases": [\n${cases}\n ]\n}}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(join(HERE, 'matrix.json'), renderMatrix());
  console.log(`policies/matrix.json: ${buildMatrix(readPolicyData()).mem0gov_matrix.cases.length} cases`);
}

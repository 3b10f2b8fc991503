// The policy input of a recorded decision, both ways (docs/policy-rollout.md "What is replayable").
// A decision row already holds most of what `buildPolicyInput` (input.ts) gave the policy: route,
// action, method, path, memory id, source IP, subject, roles, agent, entity ids, the looked-up
// owner's ids (`owner.<kind>=<id>` in entity_ids) and the request options (detail.options). What it
// lacks goes into `detail.policy_input` when the decision is recorded: the policy's clock, where
// each entity id was named, PHI in the body, the owner's flags and the break-glass grant. Flags,
// times, a role name and ids only — never memory content. Pure, no I/O.
import { ENTITY_KINDS, type Action, type AuditEvent, type EntityKind, type EntityRef, type MemoryOwner, type PolicyInput, type RouteId } from '../types.js';

/** `detail.policy_input` of a decision row: the input fields the row does not otherwise hold. */
export interface PolicyInputDigest {
  /** input.now_ms: the row's ts is when the check started, the policy ran a little later. */
  now_ms: number;
  /** Where each request entity id was named, in the order of the row's (non-owner) entity_ids. */
  sources?: EntityRef['source'][];
  phi_in_body?: true;
  /** The looked-up owner's flags; its ids are the row's `owner.*` entity_ids. */
  owner?: { exists: boolean; phi: boolean; deleted?: true };
  break_glass?: { role: string; expires_at_ms: number; grant_id: string };
}

export function policyInputDigest(input: PolicyInput): PolicyInputDigest {
  const d: PolicyInputDigest = { now_ms: input.now_ms };
  if (input.request.entities.length > 0) d.sources = input.request.entities.map((e) => e.source);
  if (input.request.phi_in_body) d.phi_in_body = true;
  if (input.owner !== undefined) {
    d.owner = { exists: input.owner.exists, phi: input.owner.phi };
    if (input.owner.deleted === true) d.owner.deleted = true;
  }
  if (input.break_glass !== undefined) d.break_glass = { ...input.break_glass };
  return d;
}

/** The columns of a decision row replay reads. */
export type RecordedDecision = Pick<AuditEvent, 'event_id' | 'ts' | 'decision' | 'reasons' | 'status' | 'actor_sub' | 'roles' | 'tenant'
  | 'agent' | 'action' | 'route' | 'method' | 'path' | 'entity_ids' | 'memory_id' | 'source_ip' | 'detail'>;

const SOURCES: ReadonlySet<string> = new Set(['query', 'body', 'filters', 'path']);
const KINDS: ReadonlySet<string> = new Set(ENTITY_KINDS);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The row's detail as an object ({} when null or not an object). */
export function detailOf(row: Pick<RecordedDecision, 'detail'>): Record<string, unknown> {
  if (row.detail === null) return {};
  try {
    const v: unknown = JSON.parse(row.detail);
    return isObject(v) ? v : {};
  } catch {
    return {};
  }
}

/** Why a policy decision's input cannot be rebuilt from its row. */
export type Unreplayable = 'no_input_digest' | 'malformed_row';

/**
 * The input the policy was given for this decision, or why it cannot be rebuilt: a row without
 * `detail.policy_input` (recorded before mem0-gov kept it) or one that does not add up.
 */
export function inputFromRow(row: RecordedDecision): { input: PolicyInput } | { unreplayable: Unreplayable } {
  const detail = detailOf(row);
  const d = detail.policy_input;
  if (!isObject(d)) return { unreplayable: 'no_input_digest' };
  if (typeof d.now_ms !== 'number' || row.route === null || row.action === null || row.actor_sub === null || row.tenant === null) {
    return { unreplayable: 'malformed_row' };
  }
  const named: { kind: EntityKind; id: string }[] = [];
  const owner: Partial<Record<EntityKind, string>> = {};
  for (const e of row.entity_ids) {
    const isOwner = e.startsWith('owner.');
    const text = isOwner ? e.slice('owner.'.length) : e;
    const eq = text.indexOf('=');
    const kind = text.slice(0, Math.max(eq, 0));
    if (eq < 0 || !KINDS.has(kind)) return { unreplayable: 'malformed_row' };
    if (isOwner) owner[kind as EntityKind] = text.slice(eq + 1);
    else named.push({ kind: kind as EntityKind, id: text.slice(eq + 1) });
  }
  const sources = d.sources ?? [];
  if (!Array.isArray(sources) || sources.length !== named.length || !sources.every((s) => typeof s === 'string' && SOURCES.has(s))) {
    return { unreplayable: 'malformed_row' };
  }
  const options = isObject(detail.options) ? detail.options : {};
  const input: PolicyInput = {
    now_ms: d.now_ms,
    request: {
      method: row.method,
      path: row.path,
      route: row.route as RouteId,
      action: row.action as Action,
      entities: named.map((e, i) => ({ ...e, source: sources[i] as EntityRef['source'] })),
      phi_in_body: d.phi_in_body === true,
      // The row stores an empty source address as NULL.
      source_ip: row.source_ip ?? '',
      options: { ...options },
    },
    subject: { sub: row.actor_sub, tenant: row.tenant, roles: [...row.roles] },
  };
  if (row.memory_id !== null) input.request.memory_id = row.memory_id;
  if (row.agent !== null) input.subject.agent = row.agent;
  if (isObject(d.owner)) {
    if (typeof d.owner.exists !== 'boolean' || typeof d.owner.phi !== 'boolean') return { unreplayable: 'malformed_row' };
    const o: MemoryOwner = { exists: d.owner.exists, phi: d.owner.phi, ...owner };
    if (d.owner.deleted === true) o.deleted = true;
    input.owner = o;
  }
  if (isObject(d.break_glass)) {
    const bg = d.break_glass;
    if (typeof bg.role !== 'string' || typeof bg.expires_at_ms !== 'number' || typeof bg.grant_id !== 'string') return { unreplayable: 'malformed_row' };
    input.break_glass = { role: bg.role, expires_at_ms: bg.expires_at_ms, grant_id: bg.grant_id };
  }
  return { input };
}

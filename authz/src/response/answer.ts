// What leaves Mem0, judged by the same rules as what enters it (pure). For each route kind the
// answer is filtered against the policy's answer rules: memories outside the caller's tenant
// and PHI-labelled memories the caller may not see are REMOVED, not redacted in place — a
// placeholder would still tell the caller that a memory exists, for whom and when, and agents
// would have to learn a second shape; removal keeps Mem0's own shape, and the audit row keeps
// the withheld ids and counts.
import type { AnswerRules, MemoryOwner } from '../types.js';
import type { AnswerKind } from '../request/routes.js';
import { isPhiMetadata } from '../request/phi.js';

export interface AnswerResult {
  /** The JSON value to release (unchanged when nothing was withheld). */
  body: unknown;
  changed: boolean;
  /** Items released (memories, history entries or entities). */
  returned: number;
  returnedIds: string[];
  withheldPhi: string[];
  /** Removed for belonging to another tenant (on a per-tenant route: Mem0 or policy misbehaved). */
  withheldCrossTenant: string[];
  phiReleased: boolean;
  /** Memories a write reports it added, updated or deleted. */
  affected?: number;
}

const ID_FIELDS = ['user_id', 'agent_id', 'run_id'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An id is the tenant's iff it starts with one of its prefixes and has a non-empty rest
 * (the policy's own_id rule). */
export function ownsId(prefixes: readonly string[], id: string): boolean {
  return prefixes.some((p) => id.startsWith(p) && id.length > p.length);
}

/** A memory is the caller's iff it names at least one entity id and every one is theirs. */
function inTenant(m: Record<string, unknown>, rules: AnswerRules): boolean {
  if (rules.tenant_prefixes === null) return true;
  const ids = ID_FIELDS.map((k) => m[k]).filter((v): v is string => typeof v === 'string' && v !== '');
  const prefixes = rules.tenant_prefixes;
  return ids.length > 0 && ids.every((id) => ownsId(prefixes, id));
}

function memId(m: Record<string, unknown>): string {
  return typeof m.id === 'string' ? m.id : '?';
}

function filterMemories(list: unknown[], rules: AnswerRules, phiLabels: readonly string[]): Omit<AnswerResult, 'body' | 'changed'> & { kept: unknown[] } {
  const kept: unknown[] = [];
  const r = { returned: 0, returnedIds: [] as string[], withheldPhi: [] as string[], withheldCrossTenant: [] as string[], phiReleased: false };
  for (const m of list) {
    // Anything that is not a memory object cannot be judged: it is not released.
    if (!isObject(m)) {
      r.withheldCrossTenant.push('?');
      continue;
    }
    if (!inTenant(m, rules)) {
      r.withheldCrossTenant.push(memId(m));
      continue;
    }
    const phi = isPhiMetadata(m.metadata, phiLabels);
    if (phi && !rules.phi_allowed) {
      r.withheldPhi.push(memId(m));
      continue;
    }
    if (phi) r.phiReleased = true;
    kept.push(m);
    r.returned++;
    r.returnedIds.push(memId(m));
  }
  return { ...r, kept };
}

export interface AnswerInput {
  kind: AnswerKind;
  body: unknown;
  rules: AnswerRules;
  phiLabels: readonly string[];
  /** The addressed memory (history, get). */
  memoryId?: string;
  /** A write that carries PHI (labelled, or flagged by content rules): its echo is PHI too. */
  writePhi?: boolean;
  owner?: MemoryOwner;
}

export function filterAnswer(a: AnswerInput): AnswerResult {
  const none: AnswerResult = { body: a.body, changed: false, returned: 0, returnedIds: [], withheldPhi: [], withheldCrossTenant: [], phiReleased: false };
  switch (a.kind) {
    case 'memories': {
      // Mem0 answers {"results": [...]}; older servers answered a bare list.
      const list = isObject(a.body) && Array.isArray(a.body.results) ? a.body.results : Array.isArray(a.body) ? a.body : undefined;
      if (list === undefined) return none;
      const f = filterMemories(list, a.rules, a.phiLabels);
      const changed = f.kept.length !== list.length;
      const body = !changed ? a.body : Array.isArray(a.body) ? f.kept : { ...(a.body as Record<string, unknown>), results: f.kept };
      const { kept: _k, ...counts } = f;
      return { ...counts, body, changed };
    }
    case 'memory': {
      if (!isObject(a.body)) return none; // Mem0's `null` for an unknown id
      const f = filterMemories([a.body], a.rules, a.phiLabels);
      const { kept, ...counts } = f;
      // Withheld: the answer Mem0 gives for a memory that does not exist.
      return kept.length === 1 ? { ...counts, body: a.body, changed: false } : { ...counts, body: null, changed: true };
    }
    case 'history': {
      if (!Array.isArray(a.body)) return none;
      // Entries carry no owner: the owner was checked by policy. Entries of another memory
      // than the addressed one are not this answer's to give. PHI follows the owner.
      const kept: unknown[] = [];
      const r = { ...none };
      r.withheldCrossTenant = [];
      r.returnedIds = [];
      for (const e of a.body) {
        if (!isObject(e) || (a.memoryId !== undefined && e.memory_id !== a.memoryId)) {
          r.withheldCrossTenant.push(isObject(e) && typeof e.id === 'string' ? e.id : '?');
          continue;
        }
        if (a.owner?.phi === true && !a.rules.phi_allowed) {
          r.withheldPhi.push(typeof e.id === 'string' ? e.id : '?');
          continue;
        }
        kept.push(e);
        r.returned++;
      }
      r.phiReleased = a.owner?.phi === true && r.returned > 0;
      const changed = kept.length !== a.body.length;
      return { ...r, body: changed ? kept : a.body, changed };
    }
    case 'entities': {
      if (!Array.isArray(a.body)) return none;
      // Mem0 counts every memory of an entity, PHI included, and dates them by the newest: to a
      // caller who may not see PHI, those numbers would tell that hidden memories exist, how
      // many and when. They get the entity without them (null, as Mem0 has for no memory).
      const blind = (e: unknown): unknown => (a.rules.phi_allowed || !isObject(e) ? e : { ...e, total_memories: null, created_at: null, updated_at: null });
      const kept: unknown[] = [];
      const r = { ...none, withheldCrossTenant: [] as string[], returnedIds: [] as string[] };
      for (const e of a.body) {
        const id = isObject(e) && typeof e.id === 'string' ? e.id : undefined;
        if (id === undefined || (a.rules.tenant_prefixes !== null && !ownsId(a.rules.tenant_prefixes, id))) {
          r.withheldCrossTenant.push(id ?? '?');
          continue;
        }
        kept.push(blind(e));
        r.returned++;
      }
      const changed = kept.length !== a.body.length || !a.rules.phi_allowed;
      return { ...r, body: changed ? kept : a.body, changed };
    }
    case 'created': {
      // The writer's own text comes back: released PHI when the write was PHI.
      const results = isObject(a.body) && Array.isArray(a.body.results) ? a.body.results : [];
      const ids = results.filter(isObject).map(memId);
      return { ...none, affected: results.length, returnedIds: ids, phiReleased: a.writePhi === true && results.length > 0 };
    }
    case 'none':
      return none;
  }
}

// Target `filters`: the filter walker (parse.ts walkFilters) judged by what it is for. A search
// the parser accepts, whose every entity id policy would find in the caller's tenant (`acme:…`),
// must not be able to select a memory of another tenant under Mem0's filter semantics: the
// top-level keys are ANDed, AND / OR / NOT combine, entity keys match by value, `eq`, `in`; every
// other key (metadata conditions, operators we do not model) is "unknown" — it may match
// anything. With three-valued logic the filter must evaluate to a definite false for every
// foreign memory; "unknown" or true is a tenant escape.
import fc from 'fast-check';
import { parseCheck } from '../../authz/src/request/parse.js';
import { PipelineStop } from '../../authz/src/errors.js';
import { ENTITY_KINDS } from '../../authz/src/types.js';
import { holds, violated, type Target } from '../engine/target.js';
import { entityIdArb, isRecord, show, TRICKY_IDS } from './shared.js';
import { filtersArb } from './filters-arb.js';

export interface FiltersInput {
  filters: unknown;
  /** Deprecated top-level ids of the search body. */
  top: Record<string, unknown>;
}

const ENTITY = ENTITY_KINDS as readonly string[];
const TENANT_ID = /^acme:.+$/s;

type T3 = true | false | 'unknown';
const and3 = (a: T3, b: T3): T3 => (a === false || b === false ? false : a === true && b === true ? true : 'unknown');
const or3 = (a: T3, b: T3): T3 => (a === true || b === true ? true : a === false && b === false ? false : 'unknown');
const not3 = (a: T3): T3 => (a === 'unknown' ? 'unknown' : !a);

type Memory = Record<string, string | null>;

function entityMatch(v: unknown, actual: string | null): T3 {
  if (typeof v === 'string') return actual === v;
  if (isRecord(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === 'eq' && typeof v.eq === 'string') return actual === v.eq;
    if (keys.length === 1 && keys[0] === 'in' && Array.isArray(v.in) && v.in.every((x) => typeof x === 'string')) return actual !== null && v.in.includes(actual);
  }
  return 'unknown';
}

function evalNode(node: unknown, mem: Memory, depth = 0): T3 {
  if (!isRecord(node) || depth > 50) return 'unknown';
  let r: T3 = true;
  for (const [k, v] of Object.entries(node)) {
    const items = Array.isArray(v) ? v : [v];
    let x: T3;
    if (ENTITY.includes(k)) x = entityMatch(v, mem[k] ?? null);
    else if (/^and$/i.test(k)) x = items.reduce<T3>((acc, n) => and3(acc, evalNode(n, mem, depth + 1)), true);
    else if (/^or$/i.test(k)) x = items.reduce<T3>((acc, n) => or3(acc, evalNode(n, mem, depth + 1)), false);
    else if (/^not$/i.test(k)) x = not3(items.reduce<T3>((acc, n) => and3(acc, evalNode(n, mem, depth + 1)), true));
    else x = 'unknown';
    r = and3(r, x);
  }
  return r;
}

const FOREIGN: Memory[] = [];
for (const u of ['globex:mallory', null]) for (const a of ['globex:agent', null]) for (const run of ['globex:run', null]) {
  if (u !== null || a !== null || run !== null) FOREIGN.push({ user_id: u, agent_id: a, run_id: run });
}
FOREIGN.push({ user_id: 'acme', agent_id: null, run_id: null }, { user_id: 'acme:', agent_id: null, run_id: null }, { user_id: 'xacme:alice', agent_id: null, run_id: null });

const arbitrary: fc.Arbitrary<FiltersInput> = fc.record({
  filters: fc.oneof({ weight: 6, arbitrary: filtersArb }, { weight: 1, arbitrary: filtersArb.map((f) => ({ ...f, user_id: 'acme:alice' })) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }),
  top: fc.record({ user_id: entityIdArb(), agent_id: entityIdArb(), run_id: entityIdArb() }, { requiredKeys: [] }),
});

function fromJson(x: unknown): FiltersInput {
  const o = isRecord(x) ? x : {};
  return { filters: o.filters ?? null, top: isRecord(o.top) ? o.top : {} };
}

function check(i: FiltersInput): void {
  const body: Record<string, unknown> = { query: 'q', filters: i.filters };
  for (const k of ENTITY) if (i.top[k] !== undefined) body[k] = i.top[k];
  let req;
  try {
    req = parseCheck({
      method: 'POST', path: '/search', headers: { 'content-type': 'application/json' },
      body: new Uint8Array(Buffer.from(JSON.stringify(body))), sourceIp: '10.0.0.1', requestId: 'fuzz',
    }, { phiLabels: ['phi'] });
  } catch (err) {
    if (!(err instanceof PipelineStop)) violated('only-pipeline-stops', (err as Error).stack ?? String(err));
    return;
  }
  // Policy's tenant rule: every id the request names is the caller's (`acme:<local>`); an empty
  // list is `entity_id_required` there.
  if (req.entities.length === 0 || !req.entities.every((e) => TENANT_ID.test(e.id))) return;
  // Mem0 merges the top-level ids into the filters (AND).
  for (const mem of FOREIGN) {
    let r = evalNode(isRecord(i.filters) ? i.filters : {}, mem);
    for (const k of ENTITY) if (typeof i.top[k] === 'string') r = and3(r, mem[k] === i.top[k]);
    holds(r === false, 'no-foreign-memory-selectable', { memory: mem, result: r, filters: show(i.filters), top: i.top, entities: req.entities });
  }
}

export const filtersTarget: Target<FiltersInput> = {
  name: 'filters',
  about: 'authz/src/request/parse.ts walkFilters: accepted searches cannot select another tenant’s memories',
  arbitrary,
  fromJson,
  check,
  dictionary: [...ENTITY, ...TRICKY_IDS, 'AND', 'OR', 'NOT', 'and', 'or', 'not', '$or', '$and', '$not', 'eq', 'in', 'ne', 'nin', 'contains', '*', 'metadata', 'acme:alice', 'globex:mallory'],
};

// Mem0 search filters as an attacker writes them: entity keys with every operator Mem0 knows,
// logical AND / OR / NOT in any case (and `$or`-style spellings), metadata conditions, nesting.
import fc from 'fast-check';
import { entityIdArb, anyString } from './shared.js';

const ENTITY_KEY = fc.constantFrom('user_id', 'agent_id', 'run_id');
const LOGICAL_KEY = fc.constantFrom('AND', 'OR', 'NOT', 'and', 'or', 'not', 'And', '$and', '$or', '$not');
const META_KEY = fc.constantFrom('category', 'metadata', 'created_at', 'score', 'USER_ID', 'user', 'actor_id', 'role', 'hash');

const entityValue = fc.oneof(
  { weight: 5, arbitrary: entityIdArb() },
  { weight: 2, arbitrary: entityIdArb().map((id) => ({ eq: id })) },
  { weight: 2, arbitrary: fc.array(entityIdArb(), { minLength: 0, maxLength: 3 }).map((ids) => ({ in: ids })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('ne', 'nin', 'contains', 'icontains', 'gt', 'lte', '*', 'eq', 'in', '$eq', '$in'), fc.oneof(entityIdArb(), fc.array(entityIdArb(), { maxLength: 2 }))).map(([op, v]) => ({ [op]: v })) },
  { weight: 1, arbitrary: fc.oneof(fc.constant('*'), fc.constant(null), fc.integer(), fc.array(entityIdArb(), { maxLength: 2 }), fc.constant({ eq: 'acme:a', in: ['acme:a'] })) },
);
const metaValue = fc.oneof(anyString(8), fc.integer(), fc.boolean(), fc.record({ gte: fc.integer() }), fc.record({ in: fc.array(anyString(4), { maxLength: 2 }) }));

export const filtersArb: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ node: Record<string, unknown>; list: unknown }>((tie) => ({
  node: fc.array(
    fc.oneof(
      { maxDepth: 5, depthIdentifier: 'filters' },
      { weight: 4, arbitrary: fc.tuple(ENTITY_KEY, entityValue) },
      { weight: 2, arbitrary: fc.tuple(LOGICAL_KEY, tie('list')) },
      { weight: 2, arbitrary: fc.tuple(META_KEY, fc.oneof({ weight: 3, arbitrary: metaValue }, { weight: 1, arbitrary: tie('node') })) },
    ),
    { minLength: 0, maxLength: 3 },
  ).map((entries) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  }),
  list: fc.oneof({ maxDepth: 5, depthIdentifier: 'filters' }, { weight: 4, arbitrary: fc.array(tie('node'), { minLength: 0, maxLength: 3 }) }, { weight: 1, arbitrary: tie('node') }),
})).node;

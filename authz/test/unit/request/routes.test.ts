// One route table: the parser's (routes.ts), the policy's route_permission and the matrix's
// routes must name the same routes with the same permissions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTE_TABLE, ROUTES, matchRoute } from '../../../src/request/routes.js';
import { ROUTES as MATRIX_ROUTES } from '../../../../policies/matrix.js';

const rego = readFileSync(join(__dirname, '..', '..', '..', '..', 'policies', 'authz.rego'), 'utf8');
const block = /route_permission := \{([\s\S]*?)\n\}/.exec(rego)![1]!;
const regoPerms = Object.fromEntries([...block.matchAll(/"([a-z_.]+)": "([a-z_]+)"/g)].map((m) => [m[1]!, m[2]!]));

describe('route table', () => {
  it('every route but Mem0\'s account routes has a permission in the policy, and no other route does', () => {
    const ids = [...new Set(ROUTE_TABLE.map((r) => r.id))].filter((id) => id !== 'mem0.account').sort();
    expect(Object.keys(regoPerms).sort()).toEqual(ids);
  });

  it('the policy\'s permission is the route\'s action (platform routes need platform_admin)', () => {
    for (const [id, perm] of Object.entries(regoPerms)) {
      const action = ROUTES[id as keyof typeof ROUTES].action;
      expect([id, perm]).toEqual([id, action === 'platform' ? 'platform_admin' : action]);
    }
  });

  it('the policy matrix covers every route with the same permission', () => {
    expect(Object.keys(MATRIX_ROUTES).sort()).toEqual(Object.keys(ROUTES).sort());
    for (const [id, spec] of Object.entries(MATRIX_ROUTES)) {
      if (id !== 'mem0.account') expect([id, spec.perm]).toEqual([id, regoPerms[id]]);
    }
  });

  it('global routes are exactly the platform ones, and all of them are Mem0 routes that act on every tenant', () => {
    expect(ROUTE_TABLE.filter((r) => r.global).map((r) => r.id).sort()).toEqual(
      ['configure.get', 'configure.providers', 'configure.set', 'memories.list_all', 'requests.list', 'reset']);
  });

  it('matches paths by whole segments only', () => {
    expect(matchRoute('GET', ['memories', 'x', 'history'])?.route).toBe('memories.history');
    expect(matchRoute('GET', ['memoriesx'])).toBeUndefined();
    expect(matchRoute('DELETE', ['api-keys', 'k'])?.route).toBe('mem0.account');
    expect(matchRoute('GET', ['auth'])).toBeUndefined();
  });
});

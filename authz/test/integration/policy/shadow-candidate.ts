// Candidate bundles for the shadow and replay tests, built at test time from a modified copy of
// the shipped Rego with the real OPA CLI (policies/compile.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileRego } from '../../../../policies/compile.js';
import { ROOT } from '../../../../testing/tools.js';

export const SHIPPED_REGO = readFileSync(join(ROOT, 'policies', 'authz.rego'), 'utf8');

/** The shipped policy plus: creating memories needs the `admin` role (agent-writer loses it). */
export const CREATE_NEEDS_ADMIN_REGO = `${SHIPPED_REGO}
# Candidate under test: only tenant admins create memories.
deny contains "role_missing" if {
	route == "memories.create"
	not "admin" in input.subject.roles
}
`;

export function candidateWasm(rego: string): Buffer {
  return compileRego({ 'authz.rego': rego });
}

// What ext_authz hands the response stage (Envoy ext_proc) about one allowed request: carried
// as Envoy dynamic metadata (namespace envoy.filters.http.ext_authz, key `ctx`, a JSON string),
// which clients cannot set, so any replica can process the answer without shared state.
import type { AnswerRules, MemoryOwner } from '../types.js';
import type { OutcomeContext } from '../record.js';

export const METADATA_NAMESPACE = 'envoy.filters.http.ext_authz';
export const METADATA_KEY = 'ctx';
/** HTTP-service ext_authz variant: the same JSON travels in this response header, which Envoy
 * turns into dynamic metadata (dynamic_metadata_from_headers) and never forwards. */
export const CONTEXT_HEADER = 'x-mem0-gov-ctx';

export interface ResponseContext extends OutcomeContext {
  v: 1;
  answer: AnswerRules;
  /** The tenant's content rules for a write (raw policy data; compiled by content/). */
  content: unknown;
  /** The looked-up owner of the addressed memory (for the delete tombstone and eviction). */
  owner?: MemoryOwner;
  /** When the decision was made (ms since epoch): outcome latency is measured from here. */
  decidedAtMs: number;
  /** The decision's PHI flag (a PHI-labelled write, or a PHI memory addressed). */
  phi: boolean;
}

export function encodeContext(c: ResponseContext): string {
  return JSON.stringify(c);
}

/** Parses the metadata value; anything malformed is undefined (the caller fails closed). */
export function decodeContext(text: string | undefined): ResponseContext | undefined {
  if (text === undefined || text === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const c = v as Partial<ResponseContext>;
  if (c.v !== 1 || typeof c.decisionId !== 'string' || typeof c.route !== 'string' || typeof c.requestId !== 'string'
    || c.answer === undefined || c.answer === null || typeof c.answer.phi_allowed !== 'boolean'
    || !(c.answer.tenant_prefixes === null || Array.isArray(c.answer.tenant_prefixes))
    || c.identity === undefined || typeof c.identity.tenant !== 'string' || typeof c.decidedAtMs !== 'number') {
    return undefined;
  }
  return c as ResponseContext;
}

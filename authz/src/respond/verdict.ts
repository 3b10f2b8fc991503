// Stage 7: the outcome of the pipeline → what Envoy sends on (pure).
import type { DecisionValue, DenyBody, Identity, Verdict } from '../types.js';
import { METADATA_KEY } from '../response/context.js';

/** Headers that only this service may set on requests to Mem0. */
export const IDENTITY_HEADER_PREFIX = 'x-mem0-gov-';

export interface AllowInput {
  identity: Identity;
  decisionId: string;
  requestId: string;
  clientHeaders: Record<string, string>;
  /** Incoming request header names (lower case), to strip spoofed identity headers. */
  incomingHeaders: readonly string[];
  mem0ApiKey?: string;
  breakGlass: boolean;
  /** The response stage's context (response/context.ts), as JSON. */
  context: string;
}

export function allowVerdict(a: AllowInput): Verdict {
  const upstreamHeaders: Record<string, string> = {
    'x-mem0-gov-subject': a.identity.subject,
    'x-mem0-gov-tenant': a.identity.tenant,
    'x-mem0-gov-roles': a.identity.roles.join(','),
    'x-mem0-gov-decision-id': a.decisionId,
  };
  if (a.identity.agent) upstreamHeaders['x-mem0-gov-agent'] = a.identity.agent;
  if (a.breakGlass) upstreamHeaders['x-mem0-gov-break-glass'] = 'true';
  // Agents never hold Mem0 credentials: ours replaces whatever the client sent, and a
  // client-sent key (a Mem0 key, or the caller's own mem0-gov API key) never reaches Mem0 when
  // we hold none — removed even when the check did not show it to us (the HTTP variant forwards
  // only the headers it lists), so Mem0 never sees a client's key.
  if (a.mem0ApiKey !== undefined) upstreamHeaders['x-api-key'] = a.mem0ApiKey;
  const removeHeaders = ['authorization'];
  if (a.mem0ApiKey === undefined) removeHeaders.push('x-api-key');
  for (const h of a.incomingHeaders) {
    if (h.startsWith(IDENTITY_HEADER_PREFIX) && !(h in upstreamHeaders)) removeHeaders.push(h);
  }
  return {
    allowed: true,
    upstreamHeaders,
    removeHeaders,
    clientHeaders: { ...a.clientHeaders, 'x-mem0-gov-decision-id': a.decisionId },
    dynamicMetadata: { [METADATA_KEY]: a.context },
  };
}

export interface DenyInput {
  decision: Exclude<DecisionValue, 'allow'>;
  reason: string;
  status: number;
  headers: Record<string, string>;
  requestId: string;
  decisionId: string;
}

export function denyVerdict(d: DenyInput): Verdict {
  const body: DenyBody = { error: d.decision, reason: d.reason, request_id: d.requestId, decision_id: d.decisionId };
  return {
    allowed: false,
    status: d.status,
    headers: {
      ...d.headers,
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-mem0-gov-decision-id': d.decisionId,
      'x-request-id': d.requestId,
    },
    body,
  };
}

// 401s with a stable reason and the RFC 6750 challenge.
import { PipelineStop } from '../errors.js';
import type { Reason } from '../reasons.js';

/** The WWW-Authenticate challenge (RFC 6750 §3). No error code when no credentials were sent. */
export function challenge(reason: Reason): string {
  if (reason === 'token_missing') return 'Bearer realm="mem0-gov"';
  return `Bearer realm="mem0-gov", error="invalid_token", error_description="${reason}"`;
}

export function unauthenticated(reason: Reason): PipelineStop {
  return new PipelineStop('unauthenticated', reason, 401, { 'www-authenticate': challenge(reason) });
}

// Every stable reason mem0-gov can answer or audit, in one table: its decision value, the HTTP
// status it answers with, and the stage that emits it. Reasons are API (README "Reasons"):
// authz/test/unit/reasons.test.ts checks that each one here is documented in README and emitted
// by the code or the policy, and that the README documents nothing else.
import type { DecisionValue } from './types.js';

/** `envoy`: answered by the shipped Envoy config on its own (envoy/*.yaml local_reply_config); authz
 * never saw the request, so it is in Envoy's access log, not in the audit trail. */
export type Stage = 'parse' | 'authenticate' | 'gate' | 'owner' | 'policy' | 'audit' | 'response' | 'service' | 'envoy';

export interface ReasonSpec {
  decision: Exclude<DecisionValue, 'allow'> | 'allow';
  status: number;
  stage: Stage;
  /** Written to the audit row only; never sent to the caller. */
  auditOnly?: true;
}

const parse400 = { decision: 'invalid_request', status: 400, stage: 'parse' } as const;
const auth401 = { decision: 'unauthenticated', status: 401, stage: 'authenticate' } as const;
const policy403 = { decision: 'deny', status: 403, stage: 'policy' } as const;
const auditNote = (stage: Stage): ReasonSpec => ({ decision: 'allow', status: 200, stage, auditOnly: true });

export const REASONS = {
  // stage 1: parse + validate
  invalid_path: parse400,
  path_traversal: parse400,
  invalid_query: parse400,
  duplicate_parameter: parse400,
  unsupported_parameter: parse400,
  invalid_parameter: parse400,
  unexpected_body: parse400,
  unsupported_content_type: parse400,
  body_required: parse400,
  invalid_json: parse400,
  body_not_object: parse400,
  body_too_deep: parse400,
  body_truncated: parse400,
  body_too_large: { decision: 'invalid_request', status: 413, stage: 'parse' },
  invalid_entity_id: parse400,
  invalid_memory_id: parse400,
  invalid_filters: parse400,
  unsupported_entity_filter: parse400,
  unscoped_filter: parse400,
  filter_too_deep: parse400,
  unknown_entity_type: parse400,
  update_field_required: parse400,
  unknown_route: { decision: 'deny', status: 403, stage: 'parse' },
  // stage 2: authenticate
  token_missing: auth401,
  malformed_token: auth401,
  expired: auth401,
  exp_missing: auth401,
  not_yet_valid: auth401,
  invalid_iat: auth401,
  invalid_claims: auth401,
  bad_signature: auth401,
  wrong_audience: auth401,
  unknown_issuer: auth401,
  alg_not_allowed: auth401,
  unknown_kid: auth401,
  ambiguous_kid: auth401,
  tenant_claim_missing: auth401,
  invalid_tenant_claim: auth401,
  subject_missing: auth401,
  wrong_token_type: auth401,
  // API keys (docs/api-keys.md): no such key id, or its secret does not match — one reason for
  // both, so answers do not tell which key ids exist. Expired and revoked keys answer like
  // tokens (`expired`, `token_revoked`), a malformed key `malformed_token`.
  unknown_api_key: auth401,
  // a JWT and a mem0-gov API key (or two keys) in one request: which identity was meant?
  ambiguous_credentials: { decision: 'invalid_request', status: 400, stage: 'authenticate' },
  jwks_unavailable: { decision: 'error', status: 503, stage: 'authenticate' },
  // stage 3: Redis gate
  token_revoked: { decision: 'unauthenticated', status: 401, stage: 'gate' },
  subject_revoked: { decision: 'unauthenticated', status: 401, stage: 'gate' },
  agent_revoked: { decision: 'unauthenticated', status: 401, stage: 'gate' },
  tenant_revoked: { decision: 'unauthenticated', status: 401, stage: 'gate' },
  session_idle_timeout: { decision: 'unauthenticated', status: 401, stage: 'gate' },
  session_expired: { decision: 'unauthenticated', status: 401, stage: 'gate' },
  rate_limited: { decision: 'rate_limited', status: 429, stage: 'gate' },
  redis_unavailable: { decision: 'error', status: 503, stage: 'gate' },
  revocation_fail_open: auditNote('gate'),
  ratelimit_fail_open: auditNote('gate'),
  // stage 4: owner lookup
  owner_lookup_failed: { decision: 'error', status: 503, stage: 'owner' },
  // stage 5: policy (statuses as policies/authz.rego answers them)
  tenant_invalid: policy403,
  tenant_suspended: policy403,
  action_denied_for_tenant: policy403,
  source_ip_not_allowed: policy403,
  outside_allowed_hours: policy403,
  mem0_account_route: policy403,
  role_missing: policy403,
  platform_admin_required: policy403,
  break_glass_required: policy403,
  entity_id_required: { decision: 'deny', status: 400, stage: 'policy' },
  cross_tenant: policy403,
  memory_not_found: { decision: 'deny', status: 404, stage: 'policy' },
  phi_permission_missing: policy403,
  custom_prompt_not_allowed: policy403,
  raw_storage_not_allowed: policy403,
  content_blocked: { decision: 'deny', status: 422, stage: 'policy' },
  content_too_large: { decision: 'invalid_request', status: 413, stage: 'policy' },
  policy_error: policy403,
  policy_eval_failed: { decision: 'error', status: 503, stage: 'policy' },
  policy_load_failed: { decision: 'error', status: 503, stage: 'policy' },
  memory_cross_tenant: { ...policy403, auditOnly: true },
  memory_absent: { ...policy403, auditOnly: true },
  memory_deleted: auditNote('policy'),
  // the audit API reads every tenant's rows for this caller (audit_read_all)
  audit_scope_all: auditNote('policy'),
  // stage 6: audit
  audit_unavailable: { decision: 'error', status: 503, stage: 'audit' },
  // response stage (Envoy ext_proc)
  upstream_invalid_json: { decision: 'error', status: 502, stage: 'response' },
  upstream_body_too_large: { decision: 'error', status: 502, stage: 'response' },
  decision_context_missing: { decision: 'error', status: 503, stage: 'response' },
  content_rules_invalid: { decision: 'error', status: 503, stage: 'response' },
  response_cross_tenant: auditNote('response'),
  upstream_no_answer: auditNote('response'),
  phi_withheld: auditNote('response'),
  // service-level
  internal_error: { decision: 'error', status: 503, stage: 'service' },
  // admission: more checks in flight than MEM0_GOV_MAX_IN_FLIGHT → answered at once, Retry-After
  overloaded: { decision: 'error', status: 503, stage: 'service' },
  // the caller's deadline (Envoy's ext_authz timeout) passed before the decision was recorded:
  // not charged to limits, not answered (Envoy answered 503 on its own)
  deadline_exceeded: { decision: 'error', status: 503, stage: 'service' },
  // the decision row was durable but the caller had given up: the follow-up outcome row says so
  answer_not_delivered: auditNote('service'),
  allowed: auditNote('service'),
  outcome: auditNote('response'),
  config_changed: auditNote('service'),
  admin_action: auditNote('service'),
  // the audit API (authz :9192 /audit/) was called without a durable allowed decision for exactly
  // this request (around Envoy, replayed, or too late)
  audit_decision_unknown: { decision: 'deny', status: 403, stage: 'service' },
  // Envoy had no answer from authz (ext_authz's status_on_error): more checks in flight than its
  // check cluster admits (refused at once), no replica reachable, or none answered in time
  authz_unavailable: { decision: 'error', status: 503, stage: 'envoy' },
} as const satisfies Record<string, ReasonSpec>;

export type Reason = keyof typeof REASONS;

export function isReason(r: string): r is Reason {
  return Object.prototype.hasOwnProperty.call(REASONS, r);
}

export function reasonSpec(r: Reason): ReasonSpec {
  return REASONS[r];
}

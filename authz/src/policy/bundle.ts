// Loads one policy bundle (compiled wasm + data) into a ready opa-wasm instance, and turns its
// raw result into a checked PolicyDecision. A bundle is only handed out after a probe
// evaluation proves the entrypoint answers with a well-formed decision.
import { createHash } from 'node:crypto';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import type { Action, AnswerRules, PolicyDecision, PolicyInput } from '../types.js';
import { PipelineStop } from '../errors.js';
import { compileRules } from '../content/rules.js';

export const ENTRYPOINT = 'mem0/authz/decision';

/** The decision plus audit-only detail the caller never sees. */
export interface EngineDecision extends PolicyDecision {
  /** e.g. `memory_cross_tenant` vs `memory_absent` behind the same client-facing `memory_not_found`. */
  audit_reasons: string[];
  /** Revision of the bundle that made this decision. */
  revision: string;
}

/** A bundle that cannot load, or an evaluation that gives no usable decision: fail closed (503). */
export class PolicyError extends PipelineStop {
  constructor(reason: 'policy_load_failed' | 'policy_eval_failed', readonly detail: string) {
    super('error', reason, 503);
    this.name = 'PolicyError';
    this.message = detail;
  }
}

export interface LoadedBundle {
  revision: string;
  evaluate(input: PolicyInput): EngineDecision;
}

/** sha256 over the wasm bytes then the data bytes. */
export function bundleRevision(wasm: Uint8Array, data: Uint8Array): string {
  return createHash('sha256').update(wasm).update(data).digest('hex');
}

// Inputs are a few hundred bytes; the cap stops a pathological input from growing memory without bound.
const MEMORY = { initial: 8, maximum: 2048 };

const PROBE: PolicyInput = {
  now_ms: 0,
  request: {
    method: 'GET', path: '/memories', route: 'memories.list', action: 'read',
    entities: [], phi_in_body: false, source_ip: '127.0.0.1', options: {},
  },
  subject: { sub: 'probe', tenant: 'probe', roles: [] },
};

export async function loadBundle(wasm: Uint8Array, data: Uint8Array): Promise<LoadedBundle> {
  const revision = bundleRevision(wasm, data);
  let policy: LoadedPolicy;
  let entrypoint: number;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    checkData(parsed);
    policy = await loadPolicy(wasm, { ...MEMORY });
    const ids = policy.entrypoints as Record<string, number>;
    const id = ids[ENTRYPOINT];
    if (id === undefined) throw new Error(`wasm has no entrypoint ${ENTRYPOINT}`);
    entrypoint = id;
    policy.setData(parsed);
  } catch (err) {
    throw new PolicyError('policy_load_failed', `cannot load policy bundle: ${errorText(err)}`);
  }
  const evaluate = (input: PolicyInput): EngineDecision => {
    let raw: unknown;
    try {
      raw = policy.evaluate(input, entrypoint);
    } catch (err) {
      throw new PolicyError('policy_eval_failed', `policy evaluation failed: ${errorText(err)}`);
    }
    return toDecision(raw, revision);
  };
  try {
    evaluate(PROBE);
  } catch (err) {
    throw new PolicyError('policy_load_failed', `policy bundle rejected by probe: ${errorText(err)}`);
  }
  return { revision, evaluate };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Shape of data.mem0gov that the rules rely on; a file that breaks it is rejected, not loaded. */
export function checkData(parsed: unknown): asserts parsed is { mem0gov: Record<string, unknown> } {
  if (!isObject(parsed) || !isObject(parsed.mem0gov)) throw new Error('data must be {"mem0gov": {...}}');
  const { roles, tenants, tenant_defaults: defaults } = parsed.mem0gov;
  if (!isObject(roles) || !Object.values(roles).every(isStringArray)) throw new Error('mem0gov.roles must map role → [permission]');
  if (tenants !== undefined && (!isObject(tenants) || !Object.values(tenants).every(isObject))) {
    throw new Error('mem0gov.tenants must map tenant → {settings}');
  }
  if (defaults !== undefined && !isObject(defaults)) throw new Error('mem0gov.tenant_defaults must be an object');
  if (isObject(defaults)) checkTenantSettings('mem0gov.tenant_defaults', defaults);
  for (const [t, conf] of Object.entries(isObject(tenants) ? tenants : {})) {
    checkTenantSettings(`mem0gov.tenants.${t}`, conf as Record<string, unknown>);
  }
}

// Settings a typo would silently weaken are checked when the data loads: the reload fails
// loudly and the last good data keeps answering.
function checkTenantSettings(where: string, conf: Record<string, unknown>): void {
  checkDeniedActions(where, conf.denied_actions);
  for (const key of ['custom_prompt_roles', 'raw_storage_roles']) {
    const v = conf[key];
    if (v !== undefined && v !== null && !isStringArray(v)) throw new Error(`${where}.${key} must be null or a list of roles`);
  }
  if (conf.content_rules !== undefined) {
    try {
      compileRules(conf.content_rules);
    } catch (err) {
      throw new Error(`${where}.content_rules: ${errorText(err)}`);
    }
  }
}

const ACTIONS: ReadonlySet<string> = new Set<Action>(['read', 'write', 'delete', 'bulk_delete', 'admin']);

// A typo ("writes") would deny nothing in the middle of an incident: refuse the file instead,
// so the reload fails loudly and the last good data stays.
function checkDeniedActions(where: string, v: unknown): void {
  if (v === undefined) return;
  if (!isStringArray(v) || !v.every((a) => ACTIONS.has(a))) {
    throw new Error(`${where}.denied_actions must be a list of actions (${[...ACTIONS].join(', ')})`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function answerRules(v: unknown): AnswerRules | undefined {
  if (!isObject(v)) return undefined;
  const prefixes = v.tenant_prefixes === null ? null : isStringArray(v.tenant_prefixes) ? v.tenant_prefixes : undefined;
  if (prefixes === undefined || typeof v.phi_allowed !== 'boolean') {
    throw new PolicyError('policy_eval_failed', `${ENTRYPOINT} returned malformed answer rules`);
  }
  return { tenant_prefixes: prefixes, phi_allowed: v.phi_allowed };
}

/** Validates the result set; anything unexpected is an evaluation failure (fail closed). */
export function toDecision(raw: unknown, revision: string): EngineDecision {
  const first = Array.isArray(raw) ? (raw[0] as { result?: unknown } | undefined) : undefined;
  const r = first?.result;
  if (r === null || typeof r !== 'object' || Array.isArray(r)) {
    throw new PolicyError('policy_eval_failed', `${ENTRYPOINT} returned no decision object`);
  }
  const d = r as Record<string, unknown>;
  if (typeof d.allow !== 'boolean' || !isStringArray(d.reasons)) {
    throw new PolicyError('policy_eval_failed', `${ENTRYPOINT} returned a malformed decision`);
  }
  if (!d.allow && d.reasons.length === 0) {
    throw new PolicyError('policy_eval_failed', 'deny without a reason');
  }
  const out: EngineDecision = {
    allow: d.allow,
    reasons: d.reasons,
    audit_reasons: isStringArray(d.audit_reasons) ? d.audit_reasons : [],
    break_glass: d.break_glass === true,
    phi: d.phi === true,
    revision,
  };
  const answer = answerRules(d.answer);
  if (answer !== undefined) out.answer = answer;
  if (d.content !== undefined && d.content !== null) out.content = d.content;
  if (typeof d.status === 'number') out.status = d.status;
  else if (!d.allow) out.status = 403;
  if (d.headers !== null && typeof d.headers === 'object' && !Array.isArray(d.headers)) {
    out.headers = Object.fromEntries(
      Object.entries(d.headers as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
  }
  return out;
}

// Content rules as the pipeline and the response stage apply them: the tenant's rules come from
// the policy decision (policy data), are compiled once per distinct rule set, and run on the
// parsed write body. Deterministic, so ext_authz (decide, block) and ext_proc (rewrite) agree.
import { compileRules, applyContentRules, type CompiledRules, type ContentResult } from './rules.js';

const compiled = new Map<string, CompiledRules>();
const MAX_CACHED = 256;

function rulesFor(raw: unknown): CompiledRules {
  const key = JSON.stringify(raw);
  let c = compiled.get(key);
  if (c === undefined) {
    c = compileRules(raw);
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(key, c);
  }
  return c;
}

export interface ContentCheck {
  mode: string;
  action: ContentResult['action'];
  findings: ContentResult['findings'];
  /** The rewritten body (flag, mask); never audited. */
  body?: Record<string, unknown>;
}

/** Runs the rules; throws (fail closed) if the rules themselves are invalid. */
export function checkContent(rawRules: unknown, body: Record<string, unknown>): ContentCheck {
  const rules = rulesFor(rawRules);
  const r = applyContentRules(body, rules);
  const mode = (rawRules as { mode?: unknown } | null)?.mode;
  const out: ContentCheck = { mode: typeof mode === 'string' ? mode : 'off', action: r.action, findings: r.findings };
  if (r.body !== undefined) out.body = r.body;
  return out;
}

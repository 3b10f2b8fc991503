// Per-tenant content rules for what agents write into Mem0: validated from policy data once
// (compileRules), then applied to each POST /memories or PUT /memories/{id} body before Mem0
// and its LLM see it (applyContentRules). Pure and deterministic: the service runs it once to
// decide and once to rewrite, and both runs must agree. Findings carry types and counts only,
// never the matched text.
import { PipelineStop } from '../errors.js';
import { findMatches, maskText, type CustomMatcher, type Match } from './detect.js';
import { admitPattern } from './safe-regex.js';

export const BUILTIN_DETECTORS = ['email', 'phone', 'ssn', 'card', 'iban', 'ip'] as const;
export type BuiltinDetector = (typeof BUILTIN_DETECTORS)[number];
export type ContentMode = 'off' | 'flag' | 'mask' | 'block';
export const CONTENT_MODES: readonly ContentMode[] = ['off', 'flag', 'mask', 'block'];

/** `name`: [a-z0-9_-]{1,40}; `pattern`: JavaScript regex source (RE2-compatible subset); `flags`: from `imsu`. */
export interface CustomPattern {
  name: string;
  pattern: string;
  flags?: string;
}

export interface ContentRules {
  mode: ContentMode;
  detectors: BuiltinDetector[];
  custom: CustomPattern[];
}

/** Validated rules, ready to apply; immutable, so the service can cache one per policy revision. */
export interface CompiledRules {
  readonly mode: ContentMode;
  /** deduplicated, in BUILTIN_DETECTORS order */
  readonly detectors: readonly BuiltinDetector[];
  readonly custom: readonly CustomMatcher[];
}

export interface Finding {
  /** builtin name, or `custom:<name>` */
  type: string;
  count: number;
}

export interface ContentResult {
  /** what was found, sorted by type (types and counts only — never the matched text) */
  findings: Finding[];
  action: 'none' | 'flagged' | 'masked' | 'blocked';
  /**
   * A new body (the input is never mutated) when action is flagged or masked. Absent with
   * `flagged` only when `metadata` is present but not an object, so the memory cannot be
   * labelled (stage 1 already refuses such bodies; a caller that meets one should refuse it).
   */
  body?: Record<string, unknown>;
}

export const MAX_CUSTOM_PATTERNS = 32;
/**
 * Sum of the custom patterns' bounded widths (safe-regex.ts boundedWidth). Each pattern scans
 * the whole text, so this, times MAX_SCAN_CHARS, bounds the work of one body's custom scan.
 */
export const MAX_TOTAL_PATTERN_WIDTH = 512;
/**
 * One body's scanned text (messages[].content + text), in UTF-16 code units. Below Envoy's
 * 1 MiB body limit on purpose: with the limits above, the worst custom-pattern scan of this
 * much text stays around a second, where 1 MiB would be several.
 */
export const MAX_SCAN_CHARS = 262_144;

const NAME = /^[a-z0-9_-]{1,40}$/;

// Only rules that went through compileRules are applied: a hand-built CompiledRules could
// carry a regex that never passed the ReDoS check.
const issued = new WeakSet<CompiledRules>();

/** Rules in policy data that cannot be used: the bundle is refused when it loads. */
export class ContentRulesError extends Error {
  readonly reason = 'content_rules_invalid';
  constructor(message: string) {
    super(`content rules: ${message}`);
    this.name = 'ContentRulesError';
  }
}

/** More text than the detectors scan: the write is refused (413 `content_too_large`). */
export class ContentTooLargeError extends PipelineStop {
  constructor(chars: number) {
    super('invalid_request', 'content_too_large', 413);
    this.name = 'ContentTooLargeError';
    this.message = `content to scan is ${chars} characters, more than ${MAX_SCAN_CHARS}`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkKeys(where: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  // An unknown key is most often a typo ("detector", "patterns") that would silently switch a rule off.
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw new ContentRulesError(`${where}: unknown field ${JSON.stringify(extra[0])} (allowed: ${allowed.join(', ')})`);
}

/** Short, quoted form of an operator's value for an error message. */
function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function compileCustom(raw: unknown, i: number, seen: Set<string>): { matcher: CustomMatcher; width: number } {
  const where = `custom[${i}]`;
  if (!isObject(raw)) throw new ContentRulesError(`${where}: expected an object {name, pattern, flags?}`);
  checkKeys(where, raw, ['name', 'pattern', 'flags']);
  const { name, pattern, flags = '' } = raw;
  if (typeof name !== 'string' || !NAME.test(name)) throw new ContentRulesError(`${where}: name ${shown(name)} must match [a-z0-9_-]{1,40}`);
  if (seen.has(name)) throw new ContentRulesError(`${where} "${name}": duplicate name`);
  seen.add(name);
  if (typeof pattern !== 'string') throw new ContentRulesError(`${where} "${name}": pattern must be a string`);
  if (typeof flags !== 'string') throw new ContentRulesError(`${where} "${name}": flags must be a string`);
  const admitted = admitPattern(pattern, flags);
  if (!admitted.ok) throw new ContentRulesError(`${where} "${name}": pattern ${shown(pattern)} refused: ${admitted.why}`);
  return { matcher: Object.freeze({ name, regex: admitted.regex }), width: admitted.width };
}

/**
 * Validates rules as they come from policy data: `{mode, detectors, custom?}` with no other
 * fields. Unknown mode or detector, a bad name, duplicate name, invalid or unsafe regex →
 * ContentRulesError naming the item. Custom patterns are checked for ReDoS here (see
 * safe-regex.ts), which takes up to a second per new pattern (10 s at worst), synchronously:
 * compile once per policy revision, off the request path.
 */
export function compileRules(raw: unknown): CompiledRules {
  if (!isObject(raw)) throw new ContentRulesError('expected an object {mode, detectors, custom?}');
  checkKeys('rules', raw, ['mode', 'detectors', 'custom']);
  const { mode, detectors, custom = [] } = raw;
  if (typeof mode !== 'string' || !(CONTENT_MODES as readonly string[]).includes(mode)) {
    throw new ContentRulesError(`mode ${shown(mode)} is not one of ${CONTENT_MODES.join(', ')}`);
  }
  if (!Array.isArray(detectors)) throw new ContentRulesError('detectors must be a list of detector names');
  detectors.forEach((d, i) => {
    if (typeof d !== 'string' || !(BUILTIN_DETECTORS as readonly string[]).includes(d)) {
      throw new ContentRulesError(`detectors[${i}]: unknown detector ${shown(d)} (known: ${BUILTIN_DETECTORS.join(', ')})`);
    }
  });
  if (!Array.isArray(custom)) throw new ContentRulesError('custom must be a list of {name, pattern, flags?}');
  if (custom.length > MAX_CUSTOM_PATTERNS) throw new ContentRulesError(`custom: at most ${MAX_CUSTOM_PATTERNS} patterns, got ${custom.length}`);
  const seen = new Set<string>();
  let width = 0;
  const compiled = custom.map((c, i) => {
    const { matcher, width: w } = compileCustom(c, i, seen);
    width += w;
    if (width > MAX_TOTAL_PATTERN_WIDTH) throw new ContentRulesError(`custom[${i}] "${matcher.name}": the patterns' bounded widths add up to more than ${MAX_TOTAL_PATTERN_WIDTH}; use fewer or narrower patterns`);
    return matcher;
  });
  const rules: CompiledRules = Object.freeze({
    mode: mode as ContentMode,
    detectors: Object.freeze(BUILTIN_DETECTORS.filter((d) => (detectors as string[]).includes(d))),
    custom: Object.freeze(compiled),
  });
  issued.add(rules);
  return rules;
}

/** The strings that are scanned: each `messages[i].content` that is a string, and `text`. */
function scanTargets(body: Record<string, unknown>): Array<{ message?: number; text: string }> {
  const out: Array<{ message?: number; text: string }> = [];
  if (Array.isArray(body.messages)) {
    body.messages.forEach((m: unknown, i) => {
      if (isObject(m) && typeof m.content === 'string') out.push({ message: i, text: m.content });
    });
  }
  if (typeof body.text === 'string') out.push({ text: body.text });
  return out;
}

function findingsOf(matches: readonly Match[]): Finding[] {
  const counts = new Map<string, number>();
  for (const m of matches) counts.set(m.type, (counts.get(m.type) ?? 0) + 1);
  // Code-unit order, not localeCompare: the same on every host.
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([type, count]) => ({ type, count }));
}

/**
 * Applies the rules to a parsed JSON body of POST /memories (`messages[].content`) or
 * PUT /memories/{id} (`text`). Other fields are never scanned or changed.
 * - `off`: no scan, action `none`. No finding (any mode): action `none`, no body.
 * - `flag`: body copy whose `metadata` (created if absent or null) gets `phi: true` and
 *   `content_flags: [<finding types>]`; text untouched.
 * - `mask`: body copy with each match replaced by its placeholder (`[EMAIL]`, `[PHONE]`,
 *   `[SSN]`, `[CARD]`, `[IBAN]`, `[IP]`, `[CUSTOM:<name>]`); overlaps per resolveOverlaps.
 * - `block`: action `blocked`, no body.
 * Throws ContentTooLargeError past MAX_SCAN_CHARS of scanned text (the caller refuses), and
 * ContentRulesError if `rules` did not come from compileRules.
 */
export function applyContentRules(body: Record<string, unknown>, rules: CompiledRules): ContentResult {
  if (!issued.has(rules)) throw new ContentRulesError('rules were not made by compileRules');
  if (rules.mode === 'off') return { findings: [], action: 'none' };
  const targets = scanTargets(body);
  const total = targets.reduce((n, t) => n + t.text.length, 0);
  if (total > MAX_SCAN_CHARS) throw new ContentTooLargeError(total);

  const perTarget = targets.map((t) => findMatches(t.text, rules.detectors, rules.custom, BUILTIN_DETECTORS));
  const findings = findingsOf(perTarget.flat());
  if (findings.length === 0) return { findings, action: 'none' };

  switch (rules.mode) {
    case 'block':
      return { findings, action: 'blocked' };
    case 'flag': {
      const meta = body.metadata;
      if (meta !== undefined && meta !== null && !isObject(meta)) return { findings, action: 'flagged' };
      const copy = structuredClone(body);
      copy.metadata = { ...(isObject(copy.metadata) ? copy.metadata : {}), phi: true, content_flags: findings.map((f) => f.type) };
      return { findings, action: 'flagged', body: copy };
    }
    case 'mask': {
      const copy = structuredClone(body);
      targets.forEach((t, k) => {
        const masked = maskText(t.text, perTarget[k] as Match[]);
        if (t.message === undefined) copy.text = masked;
        else ((copy.messages as unknown[])[t.message] as Record<string, unknown>).content = masked;
      });
      return { findings, action: 'masked', body: copy };
    }
  }
}


// Admission check for operators' custom patterns. They run on V8's backtracking engine on
// every write, so a pattern with super-linear matching time (ReDoS) would stall the service.
// A pattern is admitted only if all of these hold:
//   1. at most MAX_PATTERN_LENGTH characters, flags from `imsu`;
//   2. the RE2-compatible subset: no backreferences, no lookahead/lookbehind (these put
//      matching outside what an automaton can decide, and keep a later move to RE2 open);
//   3. it does not match the empty string, and its bounded width (boundedWidth) is at most
//      MAX_PATTERN_WIDTH;
//   4. recheck's automaton checker proves it safe (not exponential, not polynomial) for the
//      unanchored, global search it will run as. Anything else — vulnerable, timeout,
//      unsupported — is refused.
// See README.md for why recheck and not re2 / re2-wasm / safe-regex2.
import { createRequire } from 'node:module';

export const MAX_PATTERN_LENGTH = 256;
/** boundedWidth of one pattern; a scan costs about this many steps per text character. */
export const MAX_PATTERN_WIDTH = 128;
export const ALLOWED_FLAGS = 'imsu';
/**
 * Per pattern; a pattern that cannot be proven safe in this time is refused. Realistic
 * patterns take 1–900 ms (the high end on a loaded host); a tight limit would refuse a good
 * pattern on one replica and admit it on another.
 */
export const RECHECK_TIMEOUT_MS = 10_000;

export type Admission = { ok: true } | { ok: false; why: string };

type Recheck = typeof import('recheck');
let recheck: Recheck | undefined;

// Loaded on first use: 3 MB of Scala.js that only policies with custom patterns need.
function loadRecheck(): Recheck {
  recheck ??= createRequire(import.meta.url)('recheck') as Recheck;
  return recheck;
}

/**
 * An upper bound on how many characters one match attempt can step through in the counted
 * parts of a pattern: counted repetitions multiply (`\d{1,1000}` is 1000,
 * `(?:[a-z]{1,10} ){1,10}` is 110), `*` and `+` count once (unbounded repetition is recheck's
 * job), alternatives take their widest branch. recheck calls any bounded repetition safe,
 * yet `\d{1,1000}x` costs about a thousand steps per start position: seconds per MiB.
 */
export function boundedWidth(source: string): number {
  type Frame = { widest: number; sum: number; last: number };
  const stack: Frame[] = [{ widest: 0, sum: 0, last: 0 }];
  const top = (): Frame => stack[stack.length - 1] as Frame;
  const atom = (w: number): void => {
    top().sum += w;
    top().last = w;
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '\\') {
      // One escape is one atom, braces included: \u{1F600}, \p{L}, \x41, \cJ.
      const m = /^\\(?:u\{[0-9A-Fa-f]+\}|u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[pP]\{[^}]*\}|c[A-Za-z]|[\s\S])/.exec(source.slice(i));
      i += m ? m[0].length : 1;
      atom(1);
    } else if (c === '[') {
      let j = i + 1;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      i = j + 1;
      atom(1);
    } else if (c === '(') {
      const m = /^\((?:\?:|\?<[A-Za-z_$][\w$]*>)?/.exec(source.slice(i));
      i += (m as RegExpExecArray)[0].length;
      stack.push({ widest: 0, sum: 0, last: 0 });
    } else if (c === ')') {
      const f = stack.length > 1 ? (stack.pop() as Frame) : top();
      i++;
      atom(Math.max(f.widest, f.sum));
    } else if (c === '|') {
      const f = top();
      f.widest = Math.max(f.widest, f.sum);
      f.sum = 0;
      f.last = 0;
      i++;
    } else if (c === '*' || c === '+' || c === '?') {
      i += source[i + 1] === '?' ? 2 : 1;
    } else if (c === '{' && /^\{\d+(?:,\d*)?\}/.test(source.slice(i))) {
      const m = /^\{(\d+)(,(\d*))?\}\??/.exec(source.slice(i)) as RegExpExecArray;
      i += m[0].length;
      // {n} and {n,m} multiply the atom before; {n,} counts n, the rest is unbounded.
      const times = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Math.max(1, Number(m[1])) : Number(m[3]);
      const f = top();
      f.sum += f.last * (times - 1);
      f.last *= times;
    } else {
      i++;
      atom(1);
    }
  }
  const f = stack[0] as Frame;
  return Math.max(f.widest, f.sum);
}

/** Backreference or lookaround outside a character class, if any. */
export function unsupportedSyntax(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const n = source[i + 1] ?? '';
      if (/[1-9]/.test(n)) return 'backreferences (\\1…\\9) are not allowed';
      if (n === 'k' && source[i + 2] === '<' && !inClass) return 'named backreferences (\\k<…>) are not allowed';
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(' && source[i + 1] === '?') {
      const a = source.slice(i + 2, i + 4);
      if (a.startsWith('=') || a.startsWith('!') || a === '<=' || a === '<!') return 'lookahead and lookbehind are not allowed';
    }
  }
  return undefined;
}

// recheck's verdict is a pure function of (source, flags) except for a timeout, so proven
// verdicts are memoized: a policy reload with the same patterns costs nothing.
const verdicts = new Map<string, Admission>();
const MAX_VERDICTS = 512;

function recheckVerdict(source: string, flags: string): Admission {
  const key = `${flags}/${source}`;
  const known = verdicts.get(key);
  if (known) return known;
  const { checkSync } = loadRecheck();
  // The default sync backend starts a worker thread that spawns recheck's native or Java
  // agent; the pure (Scala.js) backend runs in this thread with no process and no binary.
  // checkSync reads the variable on each call and is synchronous, so nothing else sees it.
  const prev = process.env.RECHECK_SYNC_BACKEND;
  process.env.RECHECK_SYNC_BACKEND = 'pure';
  let verdict: Admission;
  let cache = true;
  try {
    const d = checkSync(source, flags, { checker: 'automaton', timeout: RECHECK_TIMEOUT_MS });
    if (d.status === 'safe') verdict = { ok: true };
    else if (d.status === 'vulnerable') {
      const degree = d.complexity.type === 'polynomial' ? ` (degree ${d.complexity.degree})` : '';
      verdict = { ok: false, why: `matching time is ${d.complexity.type}${degree} in the text length (ReDoS); bound repetitions, e.g. [a-z]{1,64} instead of [a-z]+ before a literal` };
    } else {
      cache = d.error.kind !== 'timeout' && d.error.kind !== 'cancel';
      const detail = 'message' in d.error ? `: ${d.error.message}` : '';
      verdict = { ok: false, why: `could not be proven safe from catastrophic backtracking (${d.error.kind}${detail})` };
    }
  } catch (err) {
    cache = false;
    verdict = { ok: false, why: `could not be checked for catastrophic backtracking (${err instanceof Error ? err.message : String(err)})` };
  } finally {
    if (prev === undefined) delete process.env.RECHECK_SYNC_BACKEND;
    else process.env.RECHECK_SYNC_BACKEND = prev;
  }
  if (cache) {
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    verdicts.set(key, verdict);
  }
  return verdict;
}

/**
 * Admits a custom pattern (rules 1–4 above). `flags` are the operator's flags; the `g` the
 * scan adds is accounted for here. Returns the compiled global RegExp, or why not.
 */
export function admitPattern(source: string, flags: string): { ok: true; regex: RegExp; width: number } | { ok: false; why: string } {
  if (source.length === 0) return { ok: false, why: 'pattern is empty' };
  if (source.length > MAX_PATTERN_LENGTH) return { ok: false, why: `pattern is longer than ${MAX_PATTERN_LENGTH} characters` };
  for (const [i, f] of [...flags].entries()) {
    if (!ALLOWED_FLAGS.includes(f)) return { ok: false, why: `flag "${f}" is not allowed (allowed: ${ALLOWED_FLAGS.split('').join(', ')})` };
    if (flags.indexOf(f) !== i) return { ok: false, why: `flag "${f}" is repeated` };
  }
  let regex: RegExp;
  try {
    regex = new RegExp(source, `${flags}g`);
  } catch (err) {
    return { ok: false, why: `invalid regular expression: ${err instanceof Error ? err.message : String(err)}` };
  }
  const unsupported = unsupportedSyntax(source);
  if (unsupported) return { ok: false, why: unsupported };
  if (new RegExp(source, flags).test('')) return { ok: false, why: 'pattern matches the empty string' };
  const width = boundedWidth(source);
  if (width > MAX_PATTERN_WIDTH) return { ok: false, why: `counted repetitions allow ${width} characters per match attempt, more than ${MAX_PATTERN_WIDTH}; use smaller {n,m} bounds` };
  const verdict = recheckVerdict(source, `${flags}g`);
  return verdict.ok ? { ok: true, regex, width } : verdict;
}

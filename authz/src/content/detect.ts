// Finds personal data in one memory text. Each detector is a regex for candidates plus a
// check in code (checksum, number plan, node:net isIP, nearby words) where a regex alone
// would over-match. Every built-in regex has bounded repetition or stops at a boundary, so
// a scan is linear in the text. Then one overlap rule turns all candidates into one list
// of non-overlapping matches (see `resolveOverlaps`).
import { isIP } from 'node:net';
import type { BuiltinDetector } from './rules.js';
import { IBAN_LENGTHS, ibanValid, luhnValid, plausibleIin, ssnValid } from './validate.js';

/** One finding in a text: `[start, end)` in UTF-16 code units. */
export interface Match {
  /** builtin name, or `custom:<name>` */
  type: string;
  start: number;
  end: number;
  /** what `mask` writes instead, e.g. `[EMAIL]` */
  placeholder: string;
  /** tie-break at equal spans: built-ins in BUILTIN_DETECTORS order, then custom in policy order */
  rank: number;
}

/** A custom pattern as compiled by `compileRules`: `regex` carries the `g` flag. */
export interface CustomMatcher {
  name: string;
  regex: RegExp;
}

type Span = readonly [start: number, end: number];

/** Does the text just before `at` match `context` (a regex anchored with `$`)? */
function precededBy(text: string, at: number, context: RegExp): boolean {
  return context.test(text.slice(Math.max(0, at - 32), at));
}

// A word right before an unformatted digit run that makes it a phone number or an SSN
// ("call me at 4155550132", "SSN: 536221789"), or a dotted quad a version ("version 1.2.3.4").
// No digit may come between the word and the number: "SSN: 536-22-1789, id 536221789" has one SSN.
const PHONE_CONTEXT = /(?:^|[^a-z])(?:phone|tel|telephone|call|mobile|cell|cellphone|fax|sms|whatsapp)(?:[^a-z\d\n][^\d\n]{0,15})?$/i;
const SSN_CONTEXT = /(?:^|[^a-z])(?:ssn|ss#|social security|soc\.? sec\.?)(?:[^a-z\d\n][^\d\n]{0,15})?$/i;
const VERSION_CONTEXT = /(?:^|[^a-z])(?:version|ver|release|build|firmware|v)[\s.:=]*$/i;

// --- e-mail ---------------------------------------------------------------------------------
// Anchored on each "@": the local part is read backwards (at most 64 characters), the domain
// forwards with a sticky regex. Scanning for candidates from every position instead would
// try up to 64 local-part characters at each one.
const DOMAIN = /(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,63}/y;

function isLocalChar(c: number): boolean {
  // A-Z a-z 0-9 . _ % + -
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}

function findEmail(text: string): Span[] {
  const out: Span[] = [];
  let at = text.indexOf('@');
  while (at !== -1) {
    let start = at;
    // A local part has no ".." and does not start with a dot: "see...jane@x.org" is jane's.
    while (start > 0 && at - start < 64 && isLocalChar(text.charCodeAt(start - 1)) && !(text[start - 1] === '.' && text[start - 2] === '.')) start--;
    while (start < at && text[start] === '.') start++;
    DOMAIN.lastIndex = at + 1;
    const d = start < at ? DOMAIN.exec(text) : null;
    if (d && !d[0].split('.').some((l) => l.startsWith('-') || l.endsWith('-'))) {
      const end = at + 1 + d[0].length;
      out.push([start, end]);
      at = text.indexOf('@', end);
    } else {
      at = text.indexOf('@', at + 1);
    }
  }
  return out;
}

// --- phone ----------------------------------------------------------------------------------
// North American Numbering Plan, formatted: optional +1/1, area code and exchange start 2–9
// (so "123-456-7890" order numbers fail), separators . - space, area code maybe in
// parentheses, optional extension. Not after # (order/ticket numbers) or inside a longer
// number/word (UUID segments, dotted or slashed ids).
const NANP = /(?<![\w+#\-.\/])(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?:[ ]?(?:x|ext\.?)[ ]?\d{1,6})?(?![\w\-\/]|\.\d)/g;
// International: a leading + is required; 8–15 digits in all (E.164), checked in code. A
// last group that runs on into a date or id ("… 0132 2024-03-15") is not taken.
const INTL = /(?<![\w+])\+[1-9]\d{0,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d{1,14}(?:[ .-]\d{1,8}){0,6}(?![\w]|[.\-\/]\d)/g;
// Ten NANP digits without separators only right after a phone word ("call 4155550132").
const BARE_NANP = /(?<![\w+#\-.\/])1?[2-9]\d{2}[2-9]\d{6}(?![\w\-\/]|\.\d)/g;

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) n++;
  return n;
}

function findPhone(text: string): Span[] {
  const out: Span[] = [];
  for (const m of text.matchAll(NANP)) out.push([m.index, m.index + m[0].length]);
  for (const m of text.matchAll(INTL)) {
    // Trailing groups past 15 digits belong to what follows ("+1 415 555 0132 2024-03-15"),
    // and so does a group the cut would leave glued to the rest of a date or id.
    let s = m[0];
    const cutInNumber = (): boolean => s.length < m[0].length && /^[.\-\/]\d/.test(m[0].slice(s.length, s.length + 2));
    while ((countDigits(s) > 15 || cutInNumber()) && /[ .-]\d{1,8}$/.test(s)) s = s.replace(/[ .-]\d{1,8}$/, '');
    const n = countDigits(s);
    if (n >= 8 && n <= 15) out.push([m.index, m.index + s.length]);
  }
  for (const m of text.matchAll(BARE_NANP)) {
    if (precededBy(text, m.index, PHONE_CONTEXT)) out.push([m.index, m.index + m[0].length]);
  }
  return out;
}

// --- SSN ------------------------------------------------------------------------------------
// 3-2-4 digits with the same separator (dash or space) twice, or nine bare digits right after
// an SSN word. Area/group/serial rules in ssnValid.
const SSN = /(?<![\w+#\-.\/])\d{3}([- ]?)\d{2}\1\d{4}(?![\w\-\/]|\.\d)/g;

function findSsn(text: string): Span[] {
  const out: Span[] = [];
  for (const m of text.matchAll(SSN)) {
    const digits = m[0].replace(/\D/g, '');
    if (!ssnValid(digits)) continue;
    if (m[1] === '' && !precededBy(text, m.index, SSN_CONTEXT)) continue;
    out.push([m.index, m.index + m[0].length]);
  }
  return out;
}

// --- payment card ---------------------------------------------------------------------------
// A run of digits with single space/dash separators, not inside a word or a dotted/slashed
// number. A run is split into its digit groups; a card is a range of whole groups.
const DIGIT_RUN = /(?<![\w+#\-.\/])\d(?:[ -]?\d)*/g;

function findCard(text: string): Span[] {
  const out: Span[] = [];
  for (const m of text.matchAll(DIGIT_RUN)) {
    const runEnd = m.index + m[0].length;
    // Digits glued to letters ("4111…abc") or continuing as a decimal are an id, not a card.
    if (/^(?:\w|[.\/]\d)/.test(text.slice(runEnd, runEnd + 2))) continue;
    const groups: Array<{ start: number; digits: string; sep: string }> = [];
    for (const g of m[0].matchAll(/(\d+)([ -]?)/g)) groups.push({ start: m.index + g.index, digits: g[1] as string, sep: g[2] as string });
    if (groups.length === 1) {
      // An unseparated run is a card as a whole or not at all (no cards inside a 25-digit id).
      const d = groups[0]!.digits;
      if (d.length >= 13 && d.length <= 19 && plausibleIin(d) && luhnValid(d)) out.push([m.index, runEnd]);
      continue;
    }
    // Separated: the longest valid range of whole groups from each group, leftmost first.
    // Printed cards use one separator and groups of 3+ digits, so "1 2 3 …" lists and a
    // phone number next to an SSN do not add up to a card.
    let i = 0;
    while (i < groups.length) {
      let best = -1;
      let digits = '';
      for (let j = i; j < groups.length; j++) {
        const g = groups[j]!;
        if (j > i && (g.digits.length < 3 || groups[i]!.digits.length < 3 || groups[j - 1]!.sep !== groups[i]!.sep)) break;
        digits += g.digits;
        if (digits.length > 19) break;
        if (digits.length >= 13 && plausibleIin(digits) && luhnValid(digits)) best = j;
      }
      if (best === -1) {
        i++;
        continue;
      }
      const last = groups[best]!;
      out.push([groups[i]!.start, last.start + last.digits.length]);
      i = best + 1;
    }
  }
  return out;
}

// --- IBAN -----------------------------------------------------------------------------------
// Country code and check digits start a candidate; the country's registry length says where
// it ends (single spaces allowed between characters, as printed in groups of four).
const IBAN_START = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}/g;

function findIban(text: string): Span[] {
  const out: Span[] = [];
  let after = 0;
  for (const m of text.matchAll(IBAN_START)) {
    if (m.index < after) continue;
    const len = IBAN_LENGTHS[m[0].slice(0, 2).toUpperCase()];
    if (len === undefined) continue;
    let compact = m[0];
    let i = m.index + 4;
    while (compact.length < len && i < text.length) {
      const c = text[i] as string;
      if (/[A-Za-z0-9]/.test(c)) {
        compact += c;
        i++;
      } else if (c === ' ' && /[A-Za-z0-9]/.test(text[i + 1] ?? '')) {
        i++;
      } else break;
    }
    if (compact.length !== len || /[A-Za-z0-9]/.test(text[i] ?? '')) continue;
    if (!ibanValid(compact)) continue;
    out.push([m.index, i]);
    after = i;
  }
  return out;
}

// --- IP -------------------------------------------------------------------------------------
// Candidates by shape, validity by node:net isIP (octets ≤ 255, no leading zeros, IPv6
// grammar). A dotted quad right after a version word ("version 1.2.3.4", "v1.2.3.4") is a
// version, not an address.
const IPV4 = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)/g;
const IPV6 = /(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:])/g;

function findIp(text: string): Span[] {
  const out: Span[] = [];
  for (const m of text.matchAll(IPV4)) {
    if (isIP(m[0]) === 4 && !precededBy(text, m.index, VERSION_CONTEXT)) out.push([m.index, m.index + m[0].length]);
  }
  for (const m of text.matchAll(IPV6)) {
    // "::" alone is grammatical IPv6 but in prose it is punctuation (C++ scopes, "a :: b").
    if (isIP(m[0]) === 6 && /[0-9A-Fa-f]/.test(m[0])) out.push([m.index, m.index + m[0].length]);
  }
  return out;
}

const BUILTIN: Readonly<Record<BuiltinDetector, { placeholder: string; find: (text: string) => Span[] }>> = {
  email: { placeholder: '[EMAIL]', find: findEmail },
  phone: { placeholder: '[PHONE]', find: findPhone },
  ssn: { placeholder: '[SSN]', find: findSsn },
  card: { placeholder: '[CARD]', find: findCard },
  iban: { placeholder: '[IBAN]', find: findIban },
  ip: { placeholder: '[IP]', find: findIp },
};

/** The placeholder `mask` writes for a custom pattern. */
function customPlaceholder(name: string): string {
  return `[CUSTOM:${name}]`;
}

/**
 * Overlap rule. Sort by start (earliest first), then length (longest first), then rank
 * (built-ins in BUILTIN_DETECTORS order, then custom patterns in policy order). Walk in that
 * order: a match that starts at or after the end of the last kept one is kept; one that
 * overlaps it is absorbed — the kept match's span grows to cover it (so no character any
 * detector found stays visible when masked) and it is not counted. The result is sorted,
 * non-overlapping, and does not depend on the input order.
 */
export function resolveOverlaps(matches: readonly Match[]): Match[] {
  const sorted = [...matches].sort((a, b) => a.start - b.start || b.end - a.end || a.rank - b.rank);
  const kept: Match[] = [];
  for (const m of sorted) {
    if (m.end <= m.start) continue;
    const last = kept[kept.length - 1];
    if (last && m.start < last.end) {
      if (m.end > last.end) kept[kept.length - 1] = { ...last, end: m.end };
      continue;
    }
    kept.push({ ...m });
  }
  return kept;
}

/**
 * All findings in `text` of the given built-in detectors (in BUILTIN_DETECTORS order, which
 * sets their rank) and custom patterns, after the overlap rule.
 */
export function findMatches(text: string, detectors: readonly BuiltinDetector[], custom: readonly CustomMatcher[], order: readonly BuiltinDetector[]): Match[] {
  const all: Match[] = [];
  for (const d of detectors) {
    const rank = order.indexOf(d);
    const { placeholder, find } = BUILTIN[d];
    for (const [start, end] of find(text)) all.push({ type: d, start, end, placeholder, rank });
  }
  custom.forEach((c, k) => {
    const type = `custom:${c.name}`;
    const placeholder = customPlaceholder(c.name);
    // matchAll clones the regex, so the compiled one keeps no lastIndex between calls.
    for (const m of text.matchAll(c.regex)) {
      if (m[0].length > 0) all.push({ type, start: m.index, end: m.index + m[0].length, placeholder, rank: order.length + k });
    }
  });
  return resolveOverlaps(all);
}

/** `text` with each match replaced by its placeholder; `matches` sorted and non-overlapping. */
export function maskText(text: string, matches: readonly Match[]): string {
  let out = '';
  let at = 0;
  for (const m of matches) {
    out += text.slice(at, m.start) + m.placeholder;
    at = m.end;
  }
  return out + text.slice(at);
}

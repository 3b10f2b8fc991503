import { describe, expect, it } from 'vitest';
import {
  applyContentRules,
  compileRules,
  ContentRulesError,
  MAX_CUSTOM_PATTERNS,
  MAX_TOTAL_PATTERN_WIDTH,
} from '../../../src/content/rules.js';
import { boundedWidth, MAX_PATTERN_LENGTH, MAX_PATTERN_WIDTH, unsupportedSyntax } from '../../../src/content/safe-regex.js';

/** The ContentRulesError compileRules throws for `raw`. */
function refusal(raw: unknown): ContentRulesError {
  try {
    compileRules(raw);
  } catch (err) {
    if (err instanceof ContentRulesError) return err;
    throw err;
  }
  throw new Error('expected compileRules to throw');
}

const withCustom = (...custom: unknown[]) => ({ mode: 'mask', detectors: [], custom });

describe('compileRules: validation of policy data', () => {
  it('accepts well-formed rules and returns a frozen, deduplicated form in detector order', () => {
    const c = compileRules({ mode: 'flag', detectors: ['ip', 'email', 'ip'], custom: [{ name: 'mrn', pattern: 'MRN[- ]?\\d{7}', flags: 'i' }] });
    expect(c.mode).toBe('flag');
    expect(c.detectors).toEqual(['email', 'ip']);
    expect(c.custom.map((x) => x.name)).toEqual(['mrn']);
    expect(Object.isFrozen(c) && Object.isFrozen(c.detectors) && Object.isFrozen(c.custom) && Object.isFrozen(c.custom[0])).toBe(true);
  });

  it('custom is optional', () => {
    expect(compileRules({ mode: 'off', detectors: [] }).custom).toEqual([]);
  });

  it('names the bad item', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /expected an object/],
      [{ mode: 'redact', detectors: [] }, /mode "redact" is not one of off, flag, mask, block/],
      [{ mode: 'mask' }, /detectors must be a list/],
      [{ mode: 'mask', detectors: ['email', 'passport'] }, /detectors\[1\]: unknown detector "passport"/],
      [{ mode: 'mask', detectors: [], detector: ['email'] }, /unknown field "detector"/],
      [{ mode: 'mask', detectors: [], custom: {} }, /custom must be a list/],
      [withCustom('MRN\\d+'), /custom\[0\]: expected an object/],
      [withCustom({ name: 'MRN', pattern: 'x' }), /custom\[0\]: name "MRN" must match/],
      [withCustom({ name: 'a'.repeat(41), pattern: 'x' }), /custom\[0\]: name "a{41}" must match/],
      [withCustom({ name: 'ok', pattern: 'x' }, { name: 'ok', pattern: 'y' }), /custom\[1\] "ok": duplicate name/],
      [withCustom({ name: 'ok', pattern: 7 }), /custom\[0\] "ok": pattern must be a string/],
      [withCustom({ name: 'ok', pattern: 'x', flags: 'g' }), /custom\[0\] "ok": .*flag "g" is not allowed/],
      [withCustom({ name: 'ok', pattern: 'x', flags: 'ii' }), /flag "i" is repeated/],
      [withCustom({ name: 'ok', pattern: 'x', weight: 2 }), /custom\[0\]: unknown field "weight"/],
      [withCustom({ name: 'bad', pattern: 'MRN(\\d{7}' }), /custom\[0\] "bad": pattern "MRN\(\\\\d\{7\}" refused: invalid regular expression/],
      [withCustom({ name: 'big', pattern: 'a'.repeat(MAX_PATTERN_LENGTH + 1) }), /longer than 256 characters/],
      [withCustom({ name: 'empty', pattern: '' }), /pattern is empty/],
      [withCustom({ name: 'opt', pattern: '(?:MRN)?' }), /matches the empty string/],
    ];
    for (const [raw, message] of cases) {
      const err = refusal(raw);
      expect(err.message, JSON.stringify(raw)).toMatch(message);
      expect(err.reason).toBe('content_rules_invalid');
    }
  });

  it(`refuses more than ${MAX_CUSTOM_PATTERNS} patterns`, () => {
    const many = Array.from({ length: MAX_CUSTOM_PATTERNS + 1 }, (_, i) => ({ name: `p${i}`, pattern: `P${i}` }));
    expect(refusal(withCustom(...many)).message).toMatch(/at most 32 patterns, got 33/);
  });
});

describe('custom patterns: ReDoS guard', () => {
  it.each([
    ['(a+)+$', /exponential/],
    ['(a|a)*b', /exponential/],
    ['(\\w|\\d)+@', /exponential/],
    ['([a-z0-9]+[-.]?)+@example\\.com', /exponential/],
    ['\\s+$', /polynomial \(degree 2\)/],
    ['[a-z]+@example\\.com', /polynomial/],
    ['.*secret.*', /polynomial/],
  ])('refuses the unsafe pattern %s', (pattern, why) => {
    const err = refusal(withCustom({ name: 'evil', pattern }));
    expect(err.message).toMatch(/custom\[0\] "evil": pattern .* refused: matching time is/);
    expect(err.message).toMatch(why);
  });

  it('refuses large counted repetitions that recheck calls safe but cost per character', () => {
    expect(refusal(withCustom({ name: 'wide', pattern: '\\d{1,1000}x' })).message).toMatch(/allow 1001 characters per match attempt, more than 128/);
    expect(refusal(withCustom({ name: 'nested', pattern: '(?:[a-z]{1,20} ){1,20}x' })).message).toMatch(/allow 421 characters/);
  });

  it(`refuses patterns whose widths add up to more than ${MAX_TOTAL_PATTERN_WIDTH}`, () => {
    const five = Array.from({ length: 5 }, (_, i) => ({ name: `w${i}`, pattern: `[a-z]{1,${MAX_PATTERN_WIDTH - 8}}@x${i}\\.org` }));
    expect(refusal(withCustom(...five)).message).toMatch(/custom\[4\] "w4": the patterns' bounded widths add up to more than 512/);
    expect(compileRules(withCustom(...five.slice(0, 4))).custom).toHaveLength(4);
  });

  it.each([
    ['(a)\\1', /backreferences/],
    ['(?<x>a)\\k<x>', /named backreferences/],
    ['MRN(?=\\d)', /lookahead and lookbehind/],
    ['(?<!x)MRN', /lookahead and lookbehind/],
    ['MRN(?!0)\\d{7}', /lookahead and lookbehind/],
  ])('refuses syntax outside the RE2-compatible subset: %s', (pattern, why) => {
    expect(refusal(withCustom({ name: 'sub', pattern })).message).toMatch(why);
  });

  it('allows lookaround and backreference characters inside a class, and named groups', () => {
    expect(unsupportedSyntax('[(?=]x')).toBeUndefined();
    expect(unsupportedSyntax('\\(?=x')).toBeUndefined();
    expect(compileRules(withCustom({ name: 'grp', pattern: '(?<prefix>ACCT)-\\d{6}' })).custom).toHaveLength(1);
  });

  it('boundedWidth multiplies counted repetitions and takes the widest alternative', () => {
    expect(boundedWidth('MRN[- ]?\\d{7}')).toBe(11);
    expect(boundedWidth('(?:ab|cdef){3}x')).toBe(13);
    expect(boundedWidth('(?:[a-z]{1,10} ){1,10}')).toBe(110);
    expect(boundedWidth('\\u{1F600}{2}[\\]x]{3}')).toBe(5);
    expect(boundedWidth('a{2,}b*')).toBe(3);
  });
});

describe('custom patterns: matching', () => {
  const rules = compileRules({
    mode: 'mask',
    detectors: [],
    custom: [
      { name: 'mrn', pattern: 'MRN[- ]?\\d{7}', flags: 'i' },
      { name: 'project_x', pattern: '\\bproj(?:ect)?[ _-]?(?:falcon|osprey)\\b', flags: 'i' },
      { name: 'emoji', pattern: '\\u{1F6A8}', flags: 'u' },
    ],
  });

  it('finds every match with the operator flags, placeholder [CUSTOM:<name>]', () => {
    const r = applyContentRules({ text: 'mrn-1234567, MRN 7654321 and Project Falcon 🚨 ok' }, rules);
    expect(r).toEqual({
      findings: [
        { type: 'custom:emoji', count: 1 },
        { type: 'custom:mrn', count: 2 },
        { type: 'custom:project_x', count: 1 },
      ],
      action: 'masked',
      body: { text: '[CUSTOM:mrn], [CUSTOM:mrn] and [CUSTOM:project_x] [CUSTOM:emoji] ok' },
    });
  });

  it('applies only rules made by compileRules', () => {
    const forged = { mode: 'mask' as const, detectors: [], custom: [{ name: 'evil', regex: /(a+)+$/g }] };
    expect(() => applyContentRules({ text: 'aaaa' }, forged)).toThrow(/rules were not made by compileRules/);
    expect(() => applyContentRules({ text: 'aaaa' }, { ...rules })).toThrow(ContentRulesError);
  });

  it('keeps no regex state between calls', () => {
    const body = { text: 'MRN 1234567' };
    const first = applyContentRules(body, rules);
    expect(applyContentRules(body, rules)).toEqual(first);
    expect(first.findings).toEqual([{ type: 'custom:mrn', count: 1 }]);
  });

  it('ignores zero-width matches of an admitted pattern', () => {
    const r = compileRules(withCustom({ name: 'edge', pattern: '\\bMRN|\\b' }));
    // Admitted: it does not match "" itself, but it matches zero-width at every other word boundary.
    expect(applyContentRules({ text: 'see MRN here' }, r)).toMatchObject({ findings: [{ type: 'custom:edge', count: 1 }], body: { text: 'see [CUSTOM:edge] here' } });
  });
});

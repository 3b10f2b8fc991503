// Adversarial input: long texts shaped to make a backtracking matcher or a quadratic scan
// blow up. The assertions are on the result; the bound on time is that the whole file
// finishes (vitest's test timeout), not a timing assertion.
import { describe, expect, it } from 'vitest';
import { applyContentRules, BUILTIN_DETECTORS, compileRules, MAX_SCAN_CHARS } from '../../../src/content/rules.js';

const rules = compileRules({
  mode: 'mask',
  detectors: [...BUILTIN_DETECTORS],
  custom: [
    { name: 'mrn', pattern: 'MRN[- ]?\\d{7}' },
    { name: 'ticket', pattern: '\\bTICKET-\\d+\\b' },
    { name: 'acct', pattern: '[a-z]{1,64}@corp\\.example' },
  ],
});

const fill = (unit: string) => unit.repeat(Math.ceil(MAX_SCAN_CHARS / unit.length)).slice(0, MAX_SCAN_CHARS);

describe('bounded work on adversarial input (MAX_SCAN_CHARS of it)', () => {
  it.each([
    ['a'],
    ['1'],
    ['1 '],
    ['1-'],
    ['a@'],
    ['%.'],
    ['a.'],
    [':'],
    ['a:'],
    ['1:2:'],
    ['+1 '],
    ['+1 ('],
    ['1.'],
    ['DE89 '],
    ['a@b.'],
    ['TICKET-'],
    ['MRN '],
    ['a1.:@-+# '],
  ])('nothing found in a text of %j repeated', (unit) => {
    expect(applyContentRules({ text: fill(unit) }, rules)).toEqual({ findings: [], action: 'none' });
  });

  it('dense real findings are all masked', () => {
    const unit = '4111 1111 1111 1111 ';
    const text = unit.repeat(Math.floor(MAX_SCAN_CHARS / unit.length));
    const r = applyContentRules({ text }, rules);
    expect(r.findings).toEqual([{ type: 'card', count: Math.floor(MAX_SCAN_CHARS / unit.length) }]);
    expect(r.body?.text).toBe('[CARD] '.repeat(Math.floor(MAX_SCAN_CHARS / unit.length)));
  });

  it('a classic ReDoS pattern never reaches the matcher', () => {
    expect(() => compileRules({ mode: 'block', detectors: [], custom: [{ name: 'evil', pattern: '^(a+)+$' }] })).toThrow(/exponential/);
  });
});

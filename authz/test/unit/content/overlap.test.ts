import { describe, expect, it } from 'vitest';
import { resolveOverlaps, type Match } from '../../../src/content/detect.js';
import { applyContentRules, compileRules } from '../../../src/content/rules.js';

const m = (type: string, start: number, end: number, rank: number): Match => ({ type, start, end, rank, placeholder: `[${type}]` });

describe('resolveOverlaps: earliest start, then longest, then rank; overlapping matches absorbed', () => {
  it('the earliest match wins over a longer one that starts later, and grows to cover it', () => {
    expect(resolveOverlaps([m('b', 2, 20, 0), m('a', 0, 5, 1)]).map((x) => [x.type, x.start, x.end])).toEqual([['a', 0, 20]]);
  });

  it('a match inside the kept one changes nothing', () => {
    expect(resolveOverlaps([m('inner', 4, 8, 0), m('outer', 2, 20, 1)]).map((x) => [x.type, x.start, x.end])).toEqual([['outer', 2, 20]]);
  });

  it('at the same start the longest wins', () => {
    expect(resolveOverlaps([m('short', 3, 6, 0), m('long', 3, 9, 5)]).map((x) => x.type)).toEqual(['long']);
  });

  it('at the same span the lower rank wins, whatever the input order', () => {
    expect(resolveOverlaps([m('custom:x', 1, 4, 6), m('ssn', 1, 4, 2)]).map((x) => x.type)).toEqual(['ssn']);
    expect(resolveOverlaps([m('ssn', 1, 4, 2), m('custom:x', 1, 4, 6)]).map((x) => x.type)).toEqual(['ssn']);
  });

  it('keeps adjacent and disjoint matches, sorted by start', () => {
    const kept = resolveOverlaps([m('c', 10, 12, 0), m('a', 0, 3, 0), m('b', 3, 5, 0)]);
    expect(kept.map((x) => [x.type, x.start, x.end])).toEqual([['a', 0, 3], ['b', 3, 5], ['c', 10, 12]]);
  });

  it('a chain of overlaps is absorbed into the first; the next disjoint match is kept', () => {
    const kept = resolveOverlaps([m('a', 0, 4, 0), m('b', 3, 8, 0), m('c', 7, 9, 0), m('d', 9, 11, 0)]);
    expect(kept.map((x) => [x.type, x.start, x.end])).toEqual([['a', 0, 9], ['d', 9, 11]]);
  });

  it('does not change its input', () => {
    const input = [m('a', 0, 4, 0), m('b', 3, 8, 0)];
    const copy = structuredClone(input);
    resolveOverlaps(input);
    expect(input).toEqual(copy);
  });

  it('drops empty matches', () => {
    expect(resolveOverlaps([m('a', 2, 2, 0)])).toEqual([]);
  });
});

describe('overlaps between detectors in applyContentRules', () => {
  it('IBAN digits are not also a card: the IBAN starts first', () => {
    const rules = compileRules({ mode: 'mask', detectors: ['card', 'iban'], custom: [] });
    const r = applyContentRules({ text: 'pay DE89 3704 0044 0532 0130 00 now' }, rules);
    expect(r.body?.text).toBe('pay [IBAN] now');
    expect(r.findings).toEqual([{ type: 'iban', count: 1 }]);
  });

  it('an embedded IPv4 in IPv6 counts once', () => {
    const rules = compileRules({ mode: 'mask', detectors: ['ip'], custom: [] });
    const r = applyContentRules({ text: 'from ::ffff:192.0.2.1 today' }, rules);
    expect(r).toMatchObject({ findings: [{ type: 'ip', count: 1 }], body: { text: 'from [IP] today' } });
  });

  it('a custom pattern with the same span as a built-in loses to the built-in', () => {
    const rules = compileRules({ mode: 'mask', detectors: ['ssn'], custom: [{ name: 'gov-id', pattern: '\\d{3}-\\d{2}-\\d{4}' }] });
    const r = applyContentRules({ text: 'id 536-22-1789' }, rules);
    expect(r).toMatchObject({ findings: [{ type: 'ssn', count: 1 }], body: { text: 'id [SSN]' } });
  });

  it('a longer custom match at the same start wins over the built-in', () => {
    const rules = compileRules({ mode: 'mask', detectors: ['ssn'], custom: [{ name: 'tagged', pattern: '\\d{3}-\\d{2}-\\d{4} \\(verified\\)' }] });
    const r = applyContentRules({ text: 'id 536-22-1789 (verified) ok' }, rules);
    expect(r).toMatchObject({ findings: [{ type: 'custom:tagged', count: 1 }], body: { text: 'id [CUSTOM:tagged] ok' } });
  });

  it('a custom match that starts earlier absorbs the built-in it overlaps: nothing found stays visible', () => {
    const rules = compileRules({ mode: 'mask', detectors: ['email'], custom: [{ name: 'contact', pattern: 'Contact: [A-Za-z]{1,20}' }] });
    const r = applyContentRules({ text: 'Contact: Ana@example.org, thanks' }, rules);
    // "Contact: Ana" is kept first; the e-mail overlaps it, so the placeholder covers both.
    expect(r).toEqual({ findings: [{ type: 'custom:contact', count: 1 }], action: 'masked', body: { text: '[CUSTOM:contact], thanks' } });
  });

  it('between two custom patterns with the same span, the first in policy order wins', () => {
    const rules = compileRules({ mode: 'mask', detectors: [], custom: [{ name: 'second', pattern: 'ACME-\\d{4}' }, { name: 'first', pattern: 'ACME-\\d{4}' }] });
    expect(applyContentRules({ text: 'ACME-1234' }, rules).body?.text).toBe('[CUSTOM:second]');
  });
});

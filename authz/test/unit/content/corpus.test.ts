import { describe, expect, it } from 'vitest';
import { applyContentRules, BUILTIN_DETECTORS, compileRules, type BuiltinDetector } from '../../../src/content/rules.js';
import { CORPUS } from './corpus.js';

const ALL = compileRules({ mode: 'mask', detectors: [...BUILTIN_DETECTORS], custom: [] });

function mask(text: string): string {
  const r = applyContentRules({ messages: [{ role: 'user', content: text }] }, ALL);
  if (r.action === 'none') return text;
  const messages = r.body?.messages as Array<{ content: string }>;
  return messages[0]!.content;
}

describe('detector corpus (all built-in detectors on)', () => {
  it('has true positives and true negatives for every detector', () => {
    for (const d of BUILTIN_DETECTORS) {
      const cases = CORPUS.filter((c) => c.about === d);
      expect(cases.filter((c) => c.masked !== c.text).length, d).toBeGreaterThanOrEqual(3);
      expect(cases.filter((c) => c.masked === c.text).length, d).toBeGreaterThanOrEqual(4);
    }
  });

  for (const c of CORPUS) {
    const kind = c.masked === c.text ? 'negative' : 'positive';
    it(`${c.about} ${kind}: ${c.text}`, () => {
      expect(mask(c.text)).toBe(c.masked);
    });
  }

  it('each positive is found by its own detector alone, with the placeholder of its type', () => {
    for (const c of CORPUS.filter((x) => x.masked !== x.text)) {
      const only = compileRules({ mode: 'block', detectors: [c.about], custom: [] });
      const r = applyContentRules({ text: c.text }, only);
      expect(r.findings.map((f) => f.type), c.text).toEqual([c.about]);
      expect(r.findings[0]!.count, c.text).toBe(c.masked.split(`[${c.about.toUpperCase()}]`).length - 1);
    }
  });

  it('a detector that is not enabled finds nothing', () => {
    const others = (d: BuiltinDetector) => BUILTIN_DETECTORS.filter((x) => x !== d);
    for (const c of CORPUS.filter((x) => x.masked !== x.text)) {
      const r = applyContentRules({ text: c.text }, compileRules({ mode: 'block', detectors: others(c.about), custom: [] }));
      expect(r.findings.some((f) => f.type === c.about), c.text).toBe(false);
    }
  });
});

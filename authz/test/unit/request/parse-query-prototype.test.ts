// Regression (found by fuzz/run.ts, target `request`, property `query-complete`): a query
// parameter named `__proto__` was assigned to the prototype of the parsed-query object instead of
// becoming a key, so it vanished — not refused on destructive routes (where every parameter Mem0
// ignores is `unsupported_parameter`), not caught when repeated, not in `req.query`.
import { describe, expect, it } from 'vitest';
import { parseCheck } from '../../../src/request/parse.js';
import type { RawCheck } from '../../../src/request/parse.js';
import { PipelineStop } from '../../../src/types.js';

const opts = { phiLabels: ['phi'] };
const raw = (method: string, path: string): RawCheck => ({ method, path, headers: {}, sourceIp: '10.0.0.9', requestId: 'req-1' });

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof PipelineStop) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('query parameters named like Object.prototype members', () => {
  it('refuses __proto__ on a destructive route like any parameter Mem0 ignores', () => {
    expect(reason(() => parseCheck(raw('DELETE', '/memories?user_id=acme:a&__proto__=1'), opts))).toBe('unsupported_parameter');
    expect(reason(() => parseCheck(raw('DELETE', '/memories/3e9a0c4d-6b2f-4d71-8e15-a0c7b4f29d68?__proto__=x'), opts))).toBe('unsupported_parameter');
  });

  it('catches a repeated __proto__', () => {
    expect(reason(() => parseCheck(raw('GET', '/memories?user_id=acme:a&__proto__=1&__proto__=2'), opts))).toBe('duplicate_parameter');
  });

  it('keeps __proto__, constructor and toString as ordinary keys of the parsed query', () => {
    const req = parseCheck(raw('GET', '/memories?user_id=acme:a&__proto__=p&constructor=c&toString=t'), opts);
    expect(Object.keys(req.query).sort()).toEqual(['__proto__', 'constructor', 'toString', 'user_id']);
    expect(req.query['__proto__']).toBe('p');
    expect(req.query.user_id).toBe('acme:a');
    // Nothing leaked onto Object.prototype.
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });
});

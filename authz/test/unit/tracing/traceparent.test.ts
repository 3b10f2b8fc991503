// The W3C traceparent reader the audit row and logs use without the SDK must accept exactly what
// the SDK's propagator accepts (@opentelemetry/core parseTraceParent), on random and edge inputs.
import fc from 'fast-check';
import { parseTraceParent } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { parseTraceparent, pickTraceparent } from '../../../src/tracing/traceparent.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  it('reads a version-00 header', () => {
    expect(parseTraceparent(`00-${T}-${S}-01`)).toEqual({ traceId: T, spanId: S, traceFlags: 1 });
  });

  it('refuses what the spec refuses: version ff, all-zero ids, extra fields on 00, upper case, short ids', () => {
    for (const bad of [`ff-${T}-${S}-01`, `00-${'0'.repeat(32)}-${S}-01`, `00-${T}-${'0'.repeat(16)}-01`, `00-${T}-${S}-01-extra`,
      `00-${T.toUpperCase()}-${S}-01`, `00-${T.slice(1)}-${S}-01`, '', 'garbage']) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
    expect(parseTraceparent(`01-${T}-${S}-01-future`)).toEqual({ traceId: T, spanId: S, traceFlags: 1 });
  });

  it('agrees with @opentelemetry/core on well-formed, mutated and random headers', () => {
    const hexOf = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${n}}$`));
    const shaped = fc.tuple(hexOf(2), fc.oneof(hexOf(32), fc.constant('0'.repeat(32))), fc.oneof(hexOf(16), fc.constant('0'.repeat(16))), hexOf(2), fc.option(fc.string(), { nil: undefined }), fc.constantFrom('', ' ', '\t'))
      .map(([v, t, s, f, rest, pad]) => `${pad}${v}-${t}-${s}-${f}${rest === undefined ? '' : `-${rest}`}${pad}`);
    fc.assert(fc.property(fc.oneof(shaped, fc.string()), (h) => {
      const ours = parseTraceparent(h);
      const core = parseTraceParent(h);
      expect(ours ?? null).toEqual(core === null ? null : { traceId: core.traceId, spanId: core.spanId, traceFlags: core.traceFlags });
    }), { numRuns: 2000 });
  });
});

describe('pickTraceparent', () => {
  it('takes the first valid candidate (the call metadata before the request header)', () => {
    const a = `00-${T}-${S}-01`;
    const b = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`;
    expect(pickTraceparent(a, b)).toBe(a);
    expect(pickTraceparent(undefined, b)).toBe(b);
    expect(pickTraceparent('nonsense', b)).toBe(b);
    expect(pickTraceparent(undefined, undefined)).toBeUndefined();
  });
});

// jcsSortedFlat is JSON.stringify on the verifier's hot path: it must equal the RFC 8785 library's
// output for every value the hashed audit row can hold, and defer to the library (which refuses
// what has no canonical form) for anything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jcs, jcsSortedFlat } from '../../../src/audit/jcs.js';

// Keys in RFC 8785 order (UTF-16 code units), as the row literals are built — except that a JS
// object lists integer-like keys ("2", "10") first, in numeric order: such an object is not in
// that order, whatever order it was built in, and must go to the library.
const key = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('0', '1', '2', '10', '01', '4294967295'));
const sortedObject = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<Record<string, T>> =>
  fc.dictionary(key, value).map((d) => Object.fromEntries(Object.keys(d).sort().map((k) => [k, d[k]!])));

const flatValue = fc.oneof(
  fc.string({ unit: 'binary' }), // lone surrogates, controls, non-BMP: JSON.stringify's escaping is the library's
  fc.double(), // NaN, ±Infinity, -0, subnormals, exponents
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ unit: 'binary' }), { maxLength: 4 }),
);

describe('jcsSortedFlat', () => {
  it('equals the RFC 8785 library on sorted flat objects, and refuses what the library refuses', () => {
    fc.assert(
      fc.property(sortedObject(flatValue), (o) => {
        let expected: string | Error;
        try {
          expected = jcs(o);
        } catch (err) {
          expected = err as Error;
        }
        if (expected instanceof Error) expect(() => jcsSortedFlat(o)).toThrow(expected.message);
        else expect(jcsSortedFlat(o)).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it('hands nested values to the library', () => {
    const o = { a: { z: 1, b: [2, { y: 3, c: 4 }] }, b: 'x' };
    expect(jcsSortedFlat(o)).toBe('{"a":{"b":[2,{"c":4,"y":3}],"z":1},"b":"x"}');
    expect(jcsSortedFlat(o)).not.toBe(JSON.stringify(o));
  });

  it('refuses non-finite numbers like the library', () => {
    expect(() => jcsSortedFlat({ a: Number.NaN })).toThrow();
    expect(() => jcsSortedFlat({ a: Number.POSITIVE_INFINITY })).toThrow();
  });
});

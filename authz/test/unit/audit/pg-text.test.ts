// ts comes back from PostgreSQL as epoch milliseconds (ROW_SELECT_SQL); msToIso must give Date's
// ISO text for every whole millisecond whatever came before it (it keeps the current second), and
// a text no written row can hash to for anything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { msToIso } from '../../../src/audit/pg-text.js';

describe('msToIso', () => {
  it("equals Date's toISOString for whole milliseconds, in any order (property)", () => {
    const ms = fc.oneof(
      fc.integer({ min: -8.64e15, max: 8.64e15 }), // the whole Date range: years before 0 and after 9999 included
      fc.integer({ min: 1_700_000_000_000, max: 1_700_000_003_000 }), // neighbours: the same second, the next, the one before
      fc.integer({ min: -3_000, max: 3_000 }), // around the epoch, negative fractions of a second
    );
    fc.assert(fc.property(fc.array(ms, { minLength: 1, maxLength: 20 }), (list) => {
      for (const m of list) expect(msToIso(String(m))).toBe(new Date(m).toISOString());
    }), { numRuns: 2000 });
  });

  it('renders sub-millisecond digits, infinities and instants beyond Date as text no ISO time equals', () => {
    expect(msToIso('1700000000000.5')).toBe('2023-11-14T22:13:20.000Z+1700000000000.5ms');
    expect(msToIso('Infinity')).toBe('Infinityms');
    expect(msToIso('-Infinity')).toBe('-Infinityms');
    // PostgreSQL's timestamptz reaches year 294276; Date stops at 275760.
    expect(msToIso('9000000000000000')).toBe('9000000000000000ms');
    expect(msToIso('8640000000000000')).toBe(new Date(8.64e15).toISOString());
  });
});

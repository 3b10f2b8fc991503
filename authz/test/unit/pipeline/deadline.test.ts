// How late a check may already be when authz sees it: its age on arrival (our clock minus Envoy's
// request time) above the recent minimum is time spent queued, whatever the clock skew.
import { describe, expect, it } from 'vitest';
import { queuedFor } from '../../../src/loop-lag.js';

describe('queuedFor', () => {
  it('is the age above the minimum of the last 30 s, so a constant skew cancels out', () => {
    const skew = 5_000; // our clock 5 s ahead of Envoy's
    expect(queuedFor(skew + 1, 1_000)).toBe(0);
    expect(queuedFor(skew + 3, 1_100)).toBe(2);
    expect(queuedFor(skew + 181, 1_200)).toBe(180);
    // A faster arrival lowers the floor.
    expect(queuedFor(skew, 1_300)).toBe(0);
    expect(queuedFor(skew + 40, 1_400)).toBe(40);
  });

  it('forgets minima older than its window (30 s)', () => {
    expect(queuedFor(100, 100_000)).toBe(0);
    expect(queuedFor(300, 101_000)).toBe(200);
    expect(queuedFor(300, 125_000)).toBe(200);
    // 35 s later the old minimum is gone: 300 is the new floor.
    expect(queuedFor(300, 136_000)).toBe(0);
  });

  it('ignores what is not a number', () => {
    expect(queuedFor(Number.NaN, 200_000)).toBe(0);
  });
});

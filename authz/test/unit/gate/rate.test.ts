import { describe, expect, it } from 'vitest';
import { gcraParams, parseRate, parseScope, scopeField } from '../../../src/ratelimit/rate.js';
import { gcraStep } from '../../../src/ratelimit/gcra.js';
import { parseDuration, formatDuration } from '../../../src/gate/duration.js';

describe('parseRate', () => {
  it('accepts the documented forms and normalizes them', () => {
    expect(parseRate('600/m')).toEqual({ count: 600, periodMs: 60_000, burst: 600, text: '600/m' });
    expect(parseRate(' 10 / S ')).toMatchObject({ count: 10, periodMs: 1000, text: '10/s' });
    expect(parseRate('1000/h').periodMs).toBe(3_600_000);
    expect(parseRate('100/10s')).toMatchObject({ periodMs: 10_000, text: '100/10s' });
    expect(parseRate('600/m,burst=50')).toMatchObject({ burst: 50, text: '600/m,burst=50' });
  });
  it.each(['', 'lots', '600', '600/minute', '0/m', '-1/m', '10/0s', '600/m,burst=0', '1.5/s', '600/m burst', '2000000/s'])('rejects %j', (v) => {
    expect(() => parseRate(v)).toThrow(/rate|burst|period/);
  });
});

describe('parseScope', () => {
  it('round-trips every scope kind', () => {
    for (const f of ['default', 'default:acme', 'tenant-default', 'role:agent-writer', 'role:acme/agent-writer', 'tenant:acme', 'subject:acme/alice', 'subject:acme/a/b']) {
      expect(scopeField(parseScope(f))).toBe(f);
    }
    expect(parseScope('subject:acme/a/b')).toEqual({ kind: 'subject', tenant: 'acme', subject: 'a/b' });
  });
  it.each(['', 'tenant:', 'role:', 'subject:alice', 'subject:/alice', 'subject:acme/', 'user:bob', 'tenant:a b', 'role:acme/', 'role:/x', 'role:a/b/c', 'default:'])('rejects %j', (f) => {
    expect(() => parseScope(f)).toThrow(/malformed scope/);
  });
});

describe('GCRA step', () => {
  it('allows exactly `burst` at one instant, then one per interval', () => {
    const p = gcraParams(parseRate('10/s'));
    let tat: number | undefined;
    const now = 1_000_000_000;
    let allowed = 0;
    for (let i = 0; i < 15; i++) {
      const s = gcraStep(tat, now, p);
      if (s.allowed) {
        allowed++;
        tat = s.tatUs;
        expect(s.remaining).toBe(10 - allowed);
      }
    }
    expect(allowed).toBe(10);
    const denied = gcraStep(tat, now, p);
    expect(denied).toMatchObject({ allowed: false, retryAfterUs: 100_000 });
    expect(gcraStep(tat, now + 99_999, p).allowed).toBe(false);
    expect(gcraStep(tat, now + 100_000, p).allowed).toBe(true);
  });
  it('stays exact for intervals that are not whole milliseconds', () => {
    const p = gcraParams(parseRate('7/s'));
    let tat: number | undefined;
    let allowed = 0;
    for (let i = 0; i < 20; i++) {
      const s = gcraStep(tat, 5, p);
      if (s.allowed) {
        allowed++;
        tat = s.tatUs;
      }
    }
    expect(allowed).toBe(7);
  });
});

describe('durations', () => {
  it('parses and formats', () => {
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('4h')).toBe(14_400_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(formatDuration(14_400_000)).toBe('4h');
    expect(() => parseDuration('0s')).toThrow(/positive/);
    expect(() => parseDuration('soon')).toThrow(/malformed/);
  });
});

// One outage, a few lines: the first occurrence of each kind is logged at once, repeats within
// the window are counted, and one line with the count closes the window.
import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { createLogLimiter } from '../../../src/log-limit.js';

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('createLogLimiter', () => {
  it('logs the first, counts the rest, and says how many when the window closes', async () => {
    vi.useFakeTimers();
    try {
      const { logger, lines } = capture();
      const limited = createLogLimiter(10_000);
      for (let i = 0; i < 500; i++) limited('error', logger, 'spool', { path: '/x' }, 'audit spool write failed');
      limited('warn', logger, 'other', {}, 'something else');
      await vi.advanceTimersByTimeAsync(1);
      expect(lines.map((l) => l.msg)).toEqual(['audit spool write failed', 'something else']);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(lines).toHaveLength(3);
      expect(lines[2]).toMatchObject({ level: 50, path: '/x', repeated: 499, windowMs: 10_000, msg: 'audit spool write failed (499 more in the last 10 s)' });
      // The next occurrence opens a new window and is logged at once; a quiet window says nothing.
      limited('error', logger, 'spool', {}, 'audit spool write failed');
      await vi.advanceTimersByTimeAsync(10_000);
      expect(lines).toHaveLength(4);
    } finally {
      vi.useRealTimers();
    }
  });
});

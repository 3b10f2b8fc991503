// Incremental verification's marks: a local file, per database, only well-formed marks count.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VerifyMarks } from '../../../src/audit/verify-state.js';
import { monthStart, parseMonth, retentionBoundary } from '../../../src/audit/archive.js';

const dir = mkdtempSync(join(tmpdir(), 'marks-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const H = 'a'.repeat(64);

describe('verify marks', () => {
  it('are saved atomically (0600) and read back for the same database only', () => {
    const file = join(dir, 'sub', 'marks.json');
    const m = VerifyMarks.load(file, 'db-1');
    expect(m.get('c')).toBeUndefined();
    m.set('c', { seq: 10, hash: H, at: '2026-11-01T00:00:00.000Z' });
    m.save();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(VerifyMarks.load(file, 'db-1').get('c')).toEqual({ seq: 10, hash: H, at: '2026-11-01T00:00:00.000Z' });
    expect(VerifyMarks.load(file, 'db-2').get('c')).toBeUndefined();
    // Another database's marks in the same file survive a save.
    const other = VerifyMarks.load(file, 'db-2');
    other.set('c', { seq: 3, hash: H, at: 'x' });
    other.save();
    expect(VerifyMarks.load(file, 'db-1').get('c')?.seq).toBe(10);
  });

  it('a missing, unreadable or foreign file is an empty state; malformed marks do not count', () => {
    expect(VerifyMarks.load(join(dir, 'none.json'), 'db').get('c')).toBeUndefined();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, 'not json');
    expect(VerifyMarks.load(bad, 'db').get('c')).toBeUndefined();
    writeFileSync(bad, JSON.stringify({ format: 'something-else', databases: { db: { c: { seq: 1, hash: H, at: 'x' } } } }));
    expect(VerifyMarks.load(bad, 'db').get('c')).toBeUndefined();
    writeFileSync(bad, JSON.stringify({ format: 'mem0-gov-verify-marks/1', databases: { db: { a: { seq: 0, hash: H }, b: { seq: 5, hash: 'short' }, c: { seq: 1.5, hash: H }, d: { seq: 7, hash: H, at: 'x' } } } }));
    const m = VerifyMarks.load(bad, 'db');
    expect(['a', 'b', 'c', 'd'].map((k) => m.get(k)?.seq)).toEqual([undefined, undefined, undefined, 7]);
    expect(JSON.parse(readFileSync(bad, 'utf8')).format).toBe('mem0-gov-verify-marks/1');
  });
});

describe('archive months', () => {
  it('parses YYYY-MM as the first instant of that UTC month and nothing else', () => {
    expect(parseMonth('2026-09').toISOString()).toBe('2026-09-01T00:00:00.000Z');
    for (const bad of ['2026-9', '2026-13', '2026-00', '26-09', '2026-09-01', '']) expect(() => parseMonth(bad), bad).toThrow(/not a month/);
  });

  it('the retention boundary is the current month minus the retention', () => {
    const now = new Date('2026-11-26T11:00:00Z');
    expect(monthStart(now).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(retentionBoundary(now, 1).toISOString()).toBe('2026-10-01T00:00:00.000Z');
    expect(retentionBoundary(now, 12).toISOString()).toBe('2025-11-01T00:00:00.000Z');
    expect(retentionBoundary(new Date('2027-01-05T00:00:00Z'), 1).toISOString()).toBe('2026-12-01T00:00:00.000Z');
  });
});

// compliance/controls.md stays honest: every required control is mapped, every row names the
// code and the test behind it, every named path exists, and every control mem0-gov implements
// names a compliance suite (compliance/tests/*.test.ts) — and every suite is named by a control.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../testing/tools.js';

const CONTROLS = join(ROOT, 'compliance', 'controls.md');
const SUITES = join(ROOT, 'compliance', 'tests');
const SUITE_PREFIX = 'compliance/tests/';

export interface ControlRow { id: string; code: string[]; tests: string[] }

/** Rows of the markdown tables whose first cell is a control id. */
export function parseControls(markdown: string): ControlRow[] {
  const rows: ControlRow[] = [];
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | id | requirement | how | code | proven by | operator |
    if (cells.length < 8 || !/^(CC\d+\.\d+|A\.\d+\.\d+|164\.312\([a-e]\)(\(\d\))?(\([ivx]+\))?)$/.test(cells[1]!)) continue;
    const paths = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    rows.push({ id: cells[1]!, code: paths(cells[4]!), tests: paths(cells[5]!) });
  }
  return rows;
}

/** True when `pattern` (a path, a folder ending in /, or one `*` in the last segment) matches. */
export function pathExists(pattern: string): boolean {
  const abs = join(ROOT, pattern);
  if (!pattern.includes('*')) return existsSync(abs);
  const dir = dirname(abs);
  if (!existsSync(dir)) return false;
  const base = pattern.slice(pattern.lastIndexOf('/') + 1);
  const re = new RegExp(`^${base.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return readdirSync(dir).some((f) => re.test(f));
}

const rows = parseControls(readFileSync(CONTROLS, 'utf8'));

describe('compliance/controls.md', () => {
  it('parses paths and globs the way the test relies on', () => {
    expect(parseControls('| CC6.1 | r | h | `a/b.ts`, `c/` | `t/*.test.ts` | o |')).toEqual([{ id: 'CC6.1', code: ['a/b.ts', 'c/'], tests: ['t/*.test.ts'] }]);
    expect(pathExists('docker/test/*.test.ts')).toBe(true);
    expect(pathExists('docker/test/*.nothing')).toBe(false);
    expect(pathExists('docker/no-such-file')).toBe(false);
  });

  it('maps the required SOC 2, ISO 27001 and HIPAA controls', () => {
    const ids = new Set(rows.map((r) => r.id));
    for (const id of ['CC6.1', 'CC6.2', 'CC6.3', 'CC6.6', 'CC6.7', 'CC7.2', 'CC7.3', 'CC7.4', 'CC8.1',
      'A.5.15', 'A.8.2', 'A.8.5', 'A.8.15', 'A.8.16',
      '164.312(a)(1)', '164.312(a)(2)(iii)', '164.312(b)', '164.312(c)(1)', '164.312(d)', '164.312(e)(1)']) {
      expect(ids.has(id), id).toBe(true);
    }
    expect(ids.size).toBe(rows.length); // no control listed twice
  });

  it('names code and a test for every control mem0-gov implements', () => {
    for (const r of rows) {
      if (r.code.length === 0) {
        // Only controls declared as the operator's (e.g. encryption at rest) may have none.
        expect(r.tests, r.id).toEqual([]);
        continue;
      }
      expect(r.tests.length, `${r.id} names code but no test`).toBeGreaterThan(0);
      for (const t of r.tests) expect(t, r.id).toMatch(/(\.test\.ts|_test\.rego|\.promtool\.yaml)$/);
    }
  });

  it('every path it names exists', () => {
    const all = rows.flatMap((r) => [...r.code, ...r.tests].map((p) => ({ id: r.id, p })));
    expect(all.length).toBeGreaterThan(100);
    for (const { id, p } of all) expect(pathExists(p), `${id}: ${p}`).toBe(true);
  });

  it('every implemented control names its compliance suite first, and every suite is named', () => {
    const named = new Set<string>();
    for (const r of rows) {
      if (r.code.length === 0) continue;
      expect(r.tests[0], `${r.id} names no compliance suite first`).toMatch(/^compliance\/tests\/[a-z0-9.-]+\.test\.ts$/);
      for (const t of r.tests) if (t.startsWith(SUITE_PREFIX)) named.add(t.slice(SUITE_PREFIX.length));
    }
    const suites = readdirSync(SUITES).filter((f) => f.endsWith('.test.ts') && f !== 'controls-map.test.ts');
    expect(suites.length).toBeGreaterThanOrEqual(20);
    for (const f of suites) expect(named.has(f), `${f} is not named by any control`).toBe(true);
  });
});

// audit/README.md's row table ("The row") lists every column of the audit row and nothing else,
// in the table's order, and marks exactly the format-2 columns as such: adding a column to
// ROW_COLUMNS without documenting it (or documenting one that is not there) fails here.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FORMAT_2_COLUMNS, HASHED_KEYS, ROW_COLUMNS } from '../../../src/audit/row.js';

const README = join(dirname(fileURLToPath(import.meta.url)), '../../../../audit/README.md');

/** The rows of the first table under `## The row`: [column names, hashed cell]. */
function rowTable(md: string): { columns: string[]; hashed: string }[] {
  const section = md.split(/^## /m).find((s) => s.startsWith('The row'));
  if (section === undefined) throw new Error('audit/README.md has no "## The row" section');
  const lines = section.split('\n');
  const head = lines.findIndex((l) => /^\|\s*column\s*\|/.test(l));
  if (head < 0) throw new Error('no "| column |" table in "## The row"');
  const out: { columns: string[]; hashed: string }[] = [];
  for (const line of lines.slice(head + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    out.push({ columns: cells[0]!.split(',').map((c) => c.trim()), hashed: cells[2]! });
  }
  return out;
}

describe('audit/README.md row table', () => {
  const table = rowTable(readFileSync(README, 'utf8'));
  const documented = table.flatMap((r) => r.columns);

  it('names every column of the row (ROW_COLUMNS, incl. the format-2 ones), once, in order, and nothing else', () => {
    expect(documented).toEqual([...ROW_COLUMNS]);
  });

  it('marks the format-2 columns "format 2", the format-1 hashed ones "yes", prev_hash and hash not hashed', () => {
    const marked = (m: (h: string) => boolean) => table.filter((r) => m(r.hashed)).flatMap((r) => r.columns);
    expect(marked((h) => h === 'format 2')).toEqual([...FORMAT_2_COLUMNS]);
    expect(marked((h) => h === 'yes').sort()).toEqual([...HASHED_KEYS].sort());
    expect(marked((h) => h.startsWith('no'))).toEqual(['prev_hash', 'hash']);
  });

  it('reads the table as written (a wrong column name would be caught)', () => {
    expect(rowTable('## The row\n| column | type | hashed | meaning |\n|---|---|---|---|\n| a, b | t | yes | |\n| c | t | no | |\n\nafter')).toEqual([
      { columns: ['a', 'b'], hashed: 'yes' }, { columns: ['c'], hashed: 'no' },
    ]);
  });
});

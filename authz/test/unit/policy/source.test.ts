// Decisions must be replayable from the audit row: the policy may not read the wall clock,
// randomness, the network or the runtime environment.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../../../testing/tools.js';

describe('policy sources', () => {
  const dir = join(ROOT, 'policies');
  const modules = readdirSync(dir).filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego'));

  it('exist', () => {
    expect(modules).toContain('authz.rego');
  });

  it.each(modules)('%s uses no clock, randomness, network or runtime builtins', (f) => {
    const src = readFileSync(join(dir, f), 'utf8');
    expect(src).not.toMatch(/\btime\.(now_ns|clock|date|weekday)\b|\brand\.|\buuid\.|\bhttp\.send\b|\bopa\.runtime\b|\bnet\.lookup/);
  });
});

// policies/matrix.json is generated from policies/matrix.ts + policies/data.json; a stale copy
// would make the Rego tests, these tests and the Envoy e2e check an old matrix.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMatrix } from '../../../../policies/matrix.js';
import { ROOT } from '../../../../testing/tools.js';

describe('policies/matrix.json', () => {
  it('is up to date (regenerate: npx tsx policies/matrix.ts)', () => {
    expect(readFileSync(join(ROOT, 'policies', 'matrix.json'), 'utf8') === renderMatrix()).toBe(true);
  });
});

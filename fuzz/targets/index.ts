// Every fuzz target, by name (fuzz/run.ts and fuzz/fuzz.test.ts read this list).
import type { Target } from '../engine/target.js';
import { requestTarget } from './request.js';
import { filtersTarget } from './filters.js';
import { jwtTarget } from './jwt.js';
import { auditTarget } from './audit.js';

export const TARGETS: readonly Target<unknown>[] = [requestTarget, filtersTarget, jwtTarget, auditTarget] as Target<unknown>[];

export function targetByName(name: string): Target<unknown> {
  const t = TARGETS.find((x) => x.name === name);
  if (t === undefined) throw new Error(`unknown target ${JSON.stringify(name)} (have: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}

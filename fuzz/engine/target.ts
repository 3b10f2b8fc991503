// What a fuzz target is. Inputs are plain JSON values (so a corpus entry is one JSON line and any
// mutated entry is still an input); `fromJson` turns whatever a mutation produced into something
// the target can run, and `check` runs the code under test and throws when a property breaks.
import type fc from 'fast-check';

export interface Target<I = unknown> {
  name: string;
  /** What it exercises, for the driver's report. */
  about: string;
  /** Structured, attacker-shaped inputs (JSON values only: no undefined, no -0, no bytes). */
  arbitrary: fc.Arbitrary<I>;
  /** Coerces any JSON value into an input (mutated corpus entries may have any shape). Never throws. */
  fromJson(x: unknown): I;
  /**
   * Runs the code under test on one input and checks its properties. Throws (an Error saying
   * which property) on a violation or on an exception the code under test must never throw.
   */
  check(input: I): void | Promise<void>;
  /** Strings the mutator splices into inputs (tokens that matter to this code). */
  dictionary: readonly string[];
  /** One-time setup (keys, temp files); returns a teardown. */
  setup?(): Promise<() => Promise<void>>;
}

/** A property violation found by a target (as opposed to a bug in the harness). */
export class PropertyViolation extends Error {
  constructor(readonly property: string, detail: string) {
    super(`${property}: ${detail}`);
    this.name = 'PropertyViolation';
  }
}

export function violated(property: string, detail: unknown = ''): never {
  throw new PropertyViolation(property, typeof detail === 'string' ? detail : JSON.stringify(detail));
}

/** Asserts `cond`, else a PropertyViolation named `property`. */
export function holds(cond: boolean, property: string, detail: unknown = ''): asserts cond {
  if (!cond) violated(property, detail);
}

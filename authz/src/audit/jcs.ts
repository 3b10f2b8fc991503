// RFC 8785 (JSON Canonicalization Scheme) via the npm `canonicalize` package. The package is
// CommonJS; under NodeNext its default import is typed as the module object, so unwrap once.
import canonicalizeModule from 'canonicalize';

type Canonicalize = (input: unknown) => string | undefined;
const mod = canonicalizeModule as unknown as Canonicalize | { default: Canonicalize };
const fn: Canonicalize = typeof mod === 'function' ? mod : mod.default;

export function jcs(value: unknown): string {
  const s = fn(value);
  if (s === undefined) throw new Error('value has no JSON form');
  return s;
}

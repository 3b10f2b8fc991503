// Generators and helpers shared by the targets: attacker-shaped entity ids, strings and the
// coercions that turn any JSON value back into a runnable input.
import fc from 'fast-check';

/** Entity ids an attacker would try: other tenants, empty local parts, whitespace Mem0 trims,
 * control and format characters, separators, look-alikes, overlong ones. */
export const TRICKY_IDS = [
  'acme:alice', 'acme:bob', 'globex:mallory', 'acme:', ':alice', 'acme', 'acme::x', 'acme:a:b', 'ACME:alice', 'acme :alice',
  ' acme:alice', 'acme:alice ', 'acme:\u00a0alice', 'acme:ali\u200bce', 'acme:\u2028', 'acme:\u0000', 'acme:\t', 'acme:a\nb',
  'acme%3Aalice', 'acme:%2e%2e', 'acme:../globex:x', 'acme:*', 'acme:%', 'acmé:alice', 'аcme:alice', 'acme:\ud800',
  'acme:' + 'x'.repeat(251), 'acme:' + 'x'.repeat(252), '*', '', 'null', 'undefined',
];

export const UUIDS = ['3e9a0c4d-6b2f-4d71-8e15-a0c7b4f29d68', '7C1F3B52-0D4E-4B8A-9F61-2E5A8C9D0B13', '00000000-0000-0000-0000-000000000000'];

/** Strings of every kind: ASCII, full Unicode (lone surrogates included), and the tricky ones. */
export function anyString(max = 40): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: max }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: max }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('\\', '"', '\t', '\n', '\r', '\u0000', '{', '}', ',', ' ', 'N', 'U', 'L', 'a', '\ud800', '\udc00', 'é', '%', '/', '.'), maxLength: max }) },
    { weight: 2, arbitrary: fc.constantFrom(...TRICKY_IDS) },
  );
}

export function entityIdArb(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...TRICKY_IDS) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom('acme', 'globex', 'acme.eu', 'a'), fc.string({ minLength: 0, maxLength: 12 })).map(([t, l]) => `${t}:${l}`) },
    { weight: 1, arbitrary: anyString(20) },
  );
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

export function asString(x: unknown, dflt = ''): string {
  if (typeof x === 'string') return x;
  if (x === null || x === undefined) return dflt;
  return JSON.stringify(x);
}

export function asStringRecord(x: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(x)) return out;
  for (const [k, v] of Object.entries(x)) out[k.toLowerCase()] = asString(v);
  return out;
}

/** A short printable form of an input for failure messages. */
export function show(x: unknown): string {
  const s = JSON.stringify(x);
  return s.length > 600 ? `${s.slice(0, 600)}…` : s;
}

// Structure-aware mutation of JSON inputs: pick a node anywhere in the tree and change it the
// way attackers change requests (a character that means something to a parser, an encoding, a
// boundary number, a key added, removed or duplicated, a subtree from another input), 1–5 times.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Small deterministic PRNG (mulberry32): a run is replayable from its seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Characters that mean something to the parsers under test. */
const SPECIAL = [
  '\u0000', '\t', '\n', '\r', '\u000b', '\u000c', '\u001f', '\u007f', ' ', '\u00a0', '\u2028', '\u3000', '\ufeff',
  '\ud800', '\udc00', '\ud83d\ude00', '\ufffd', 'é', 'İ', 'ß', '"', "'", '\\', '/', '.', '%', '+', '&', '=', '?', '#', ';',
  ':', ',', '{', '}', '[', ']', '*', '$', '-', '_', '~', 'N', 'NULL',
];
const NUMBERS = [0, 1, -1, 2, 7, 8, 31, 32, 33, 255, 256, 999, 1000, 1001, 65535, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, 2 ** 53, 1e21, 1e308, -1e308, 5e-324, 0.1, 0.5, 1.5, 1e-7, 123.456];
const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', 'a', '0'];

function mutateString(s: string, rng: Rng, dict: readonly string[]): string {
  const at = rng.int(s.length + 1);
  switch (rng.int(11)) {
    case 0: return s.slice(0, at) + rng.pick(SPECIAL) + s.slice(at);
    case 1: return s.slice(0, at) + rng.pick(dict) + s.slice(at);
    case 2: return rng.pick(dict);
    case 3: { // delete a range
      const n = 1 + rng.int(Math.max(1, Math.min(8, s.length - at)));
      return s.slice(0, at) + s.slice(at + n);
    }
    case 4: { // duplicate a range
      const n = 1 + rng.int(8);
      return s.slice(0, at + n) + s.slice(at, at + n) + s.slice(at + n);
    }
    case 5: { // percent-encode one character (once or twice)
      if (s.length === 0) return '%';
      const i = rng.int(s.length);
      let enc = '';
      for (const b of Buffer.from(s[i]!, 'utf8')) enc += '%' + b.toString(16).padStart(2, '0');
      return s.slice(0, i) + (rng.chance(0.2) ? enc.replace(/%/g, '%25') : rng.chance(0.5) ? enc.toUpperCase() : enc.toLowerCase()) + s.slice(i + 1);
    }
    case 6: return rng.chance(0.5) ? s.toUpperCase() : s.toLowerCase();
    case 7: return s.slice(0, at);
    case 8: { // replace one character with a random code unit
      if (s.length === 0) return String.fromCharCode(rng.int(0x10000));
      const i = rng.int(s.length);
      return s.slice(0, i) + String.fromCharCode(rng.chance(0.7) ? rng.int(0x80) : rng.int(0x10000)) + s.slice(i + 1);
    }
    case 9: return s + s;
    default: return s.slice(0, at) + rng.pick(dict) + rng.pick(SPECIAL) + s.slice(at);
  }
}

function freshLeaf(rng: Rng, dict: readonly string[]): Json {
  switch (rng.int(6)) {
    case 0: return rng.pick(dict);
    case 1: return rng.pick(NUMBERS) * (rng.chance(0.2) ? -1 : 1);
    case 2: return rng.chance(0.5);
    case 3: return null;
    case 4: return [rng.pick(dict)];
    default: {
      const o: { [k: string]: Json } = {};
      put(o, rng.pick(dict), rng.pick(dict));
      return o;
    }
  }
}

/** Every node of the tree with a way to replace it. */
function nodes(root: Json): { get(): Json; set(v: Json): void; del?(): void }[] {
  const out: { get(): Json; set(v: Json): void; del?(): void }[] = [];
  const walk = (v: Json, set: (x: Json) => void, del?: () => void, depth = 0): void => {
    out.push({ get: () => v, set, ...(del ? { del } : {}) });
    if (depth > 40) return;
    if (Array.isArray(v)) {
      v.forEach((c, i) => walk(c, (x) => { v[i] = x; }, () => { v.splice(i, 1); }, depth + 1));
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) walk(v[k]!, (x) => put(v, k, x), () => { delete v[k]; }, depth + 1);
    }
  };
  let holder: Json = root;
  walk(root, (x) => { holder = x; });
  void holder;
  return out;
}

/** Sets an own property, even `__proto__` (a plain assignment would set the prototype instead). */
function put(o: { [k: string]: Json }, k: string, v: Json): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function clone(v: Json): Json {
  return JSON.parse(JSON.stringify(v)) as Json;
}

/** One mutation of a copy of `input`; `donors` are other corpus entries for crossover. */
export function mutate(input: Json, rng: Rng, dict: readonly string[], donors: readonly Json[]): Json {
  let root = clone(input);
  const rounds = 1 + rng.int(5);
  for (let r = 0; r < rounds; r++) {
    const all = nodes(root);
    const target = rng.pick(all);
    const isRoot = target === all[0];
    const v = target.get();
    const replace = (x: Json): void => {
      if (isRoot) root = x;
      else target.set(x);
    };
    const op = rng.int(10);
    if (op === 0 && donors.length > 0) {
      // crossover: a subtree of another input
      const donor = nodes(clone(rng.pick(donors)));
      replace(clone(rng.pick(donor).get()));
      continue;
    }
    if (op === 1 && target.del && !isRoot) {
      target.del();
      continue;
    }
    if (typeof v === 'string') replace(mutateString(v, rng, dict));
    else if (typeof v === 'number') replace(rng.chance(0.5) ? rng.pick(NUMBERS) : v + (rng.chance(0.5) ? 1 : -1));
    else if (typeof v === 'boolean') replace(rng.chance(0.7) ? !v : rng.pick(dict));
    else if (v === null) replace(freshLeaf(rng, dict));
    else if (Array.isArray(v)) {
      const c = rng.int(4);
      if (c === 0 && v.length > 0) v.push(clone(v[rng.int(v.length)]!));
      else if (c === 1) v.splice(rng.int(v.length + 1), 0, freshLeaf(rng, dict));
      else if (c === 2 && v.length > 1) v.reverse();
      else replace(rng.chance(0.5) ? { [rng.pick(dict)]: v } : freshLeaf(rng, dict));
    } else {
      const keys = Object.keys(v);
      const c = rng.int(5);
      if (c === 0) put(v, rng.chance(0.3) ? rng.pick(KEYS) : rng.pick(dict), freshLeaf(rng, dict));
      else if (c === 1 && keys.length > 0) { // rename a key
        const k = rng.pick(keys);
        const nk = rng.chance(0.5) ? mutateString(k, rng, dict) : rng.pick(dict);
        const val = v[k]!;
        delete v[k];
        put(v, nk, val);
      } else if (c === 2 && keys.length > 0) put(v, rng.pick(keys), freshLeaf(rng, dict));
      else if (c === 3) replace(rng.chance(0.5) ? [v] : { [rng.pick(dict)]: v });
      else replace(freshLeaf(rng, dict));
    }
  }
  return root;
}

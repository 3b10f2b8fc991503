// No import cycles between the folders of authz/src (folder = first directory under authz/src).
// Files directly in authz/src (types.ts, errors.ts, …) are the root: anyone may import them and
// they are left out here. A cycle between two folders means neither can be understood, tested or
// moved without the other: break it by moving the shared piece to the folder (or root file) both
// may import.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

// Static imports and re-exports (`… from './x.js'`, type-only too), side-effect imports and
// dynamic `import('./x.js')`: every way one module names another.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

function relativeImports(text: string): string[] {
  return [...text.matchAll(IMPORT)].map((m) => m[1]!);
}

/** `audit`, `cli`, …; null for a file directly in authz/src. */
function folderOf(file: string): string | null {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0]! : null;
}

/** folder → folder → one import that makes the edge (file → specifier), for the message. */
function folderEdges(): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  for (const file of sources(SRC)) {
    const from = folderOf(file);
    if (from === null) continue;
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const to = folderOf(normalize(join(dirname(file), spec)));
      if (to === null || to === from) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, `${relative(SRC, file)} → ${spec}`);
    }
  }
  return edges;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(edges: Map<string, Map<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

describe('authz/src layout', () => {
  it('finds every form of relative import, and cycles', () => {
    const text = `import a from './a.js';\nimport type { B } from '../b/b.js';\nexport { c } from "./c.js";\nimport './side.js';\nconst d = await import('../d/d.js');\n// no: 'from' in prose, './e.js'`;
    expect(relativeImports(text)).toEqual(['./a.js', '../b/b.js', './c.js', './side.js', '../d/d.js']);
    const e = (pairs: [string, string][]) => {
      const m = new Map<string, Map<string, string>>();
      for (const [a, b] of pairs) m.set(a, (m.get(a) ?? new Map()).set(b, ''));
      return m;
    };
    expect(cycles(e([['a', 'b'], ['b', 'c']]))).toEqual([]);
    expect(cycles(e([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']]))).toEqual([['a', 'b', 'c']]);
  });

  it('has no import cycle between folders', () => {
    const edges = folderEdges();
    expect(edges.get('cli')?.has('audit')).toBe(true); // the scan sees imports at all
    const found = cycles(edges).map((scc) => {
      const via = scc.flatMap((a) => scc.filter((b) => edges.get(a)?.has(b)).map((b) => `  ${a} → ${b}: ${edges.get(a)!.get(b)}`));
      return `${scc.join(' ↔ ')}\n${via.join('\n')}`;
    });
    expect(found, found.join('\n')).toEqual([]);
  });
});

// PostgreSQL text[] literals, both ways (no driver import: also used inside verify workers).

/** A text[] as a PostgreSQL array literal (every element quoted; " and \ escaped). */
export function arrayLiteral(a: readonly string[]): string {
  let s = '{';
  for (let i = 0; i < a.length; i++) s += (i > 0 ? ',"' : '"') + a[i]!.replace(/[\\"]/g, (m) => '\\' + m) + '"';
  return s + '}';
}

/** Parses a one-dimensional text[] literal as PostgreSQL prints it (`{a,"b c","d\\"e"}`). */
export function parseTextArray(lit: string): string[] {
  const out: string[] = [];
  if (lit === '{}') return out;
  let i = 1;
  const n = lit.length - 1; // position of the closing brace
  while (i < n) {
    if (lit.charCodeAt(i) === 34 /* " */) {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = lit.indexOf('"', j);
        const b = lit.indexOf('\\', j);
        if (b !== -1 && b < q) {
          v += lit.slice(j, b) + lit[b + 1];
          j = b + 2;
          continue;
        }
        v += lit.slice(j, q);
        i = q + 2; // skip quote and comma
        break;
      }
      out.push(v);
    } else {
      let j = lit.indexOf(',', i);
      if (j === -1 || j > n) j = n;
      const el = lit.slice(i, j);
      // Unquoted NULL is an SQL NULL element (a string "NULL" is printed quoted). The service never
      // writes one; map it to a value no stored text can equal (text cannot hold U+0000), so a
      // string swapped for NULL by a superuser cannot hash like the original.
      out.push(el === 'NULL' ? '\u0000NULL' : el);
      i = j + 1;
    }
  }
  return out;
}

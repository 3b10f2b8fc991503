// What PostgreSQL prints for an audit row in `COPY (SELECT ROW_SELECT_SQL …) TO STDOUT` (text
// format, ts as `extract(epoch from ts) * 1000` — numeric in PostgreSQL ≥ 14 —, extra_float_digits
// = 1 as in PostgreSQL ≥ 12), and how it reads a `COPY … FROM`
// line: an independent model of the server, written from PostgreSQL's documentation and sources
// (CopyAttributeOutText, array_out, timestamptz_out, float8out / Ryu), so the fuzz target can run
// the verifier's readers without a server. fuzz/audit-pg.test.ts checks this model against a real
// PostgreSQL on random rows.
import { ROW_COLUMNS, type AuditRow } from '../../authz/src/audit/row.js';

/** COPY TO text escaping of one value (CopyAttributeOutText, tab delimiter). */
export function copyOutText(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c < 0x20) {
      const m = ({ 8: 'b', 12: 'f', 10: 'n', 13: 'r', 9: 't', 11: 'v' } as Record<number, string>)[c];
      out += m === undefined ? ch : '\\' + m;
    } else if (ch === '\\') out += '\\\\';
    else out += ch;
  }
  return out;
}

/** array_out of a one-dimensional text[]: quote when empty, "NULL" in any case, or holding
 * braces, comma, quote, backslash or array whitespace; escape quote and backslash inside. */
export function arrayOut(a: readonly string[]): string {
  return '{' + a.map((el) => (el === '' || /^null$/i.test(el) || /[{},"\\ \t\n\r\u000b\f]/.test(el)
    ? '"' + el.replace(/["\\]/g, (m) => '\\' + m) + '"'
    : el)).join(',') + '}';
}

/** `extract(epoch from ts) * 1000` for the ISO-8601 string of a millisecond: numeric, scale 6. */
export function epochMsOut(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isInteger(ms)) throw new Error(`not a normalized ts: ${iso}`);
  return `${ms}.000000`;
}

/** float8out: shortest round-trip digits (Ryu), fixed notation for decimal exponents -4..14, else d.ddde±XX. */
export function float8Out(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sign = x < 0 ? '-' : '';
  const [mant, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const digits = mant.replace('.', '');
  if (exp < -4 || exp >= 15) {
    const e = Math.abs(exp);
    return `${sign}${digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' + e : e}`;
  }
  if (exp >= 0) {
    return digits.length <= exp + 1 ? sign + digits + '0'.repeat(exp + 1 - digits.length) : `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

/** One row as `COPY (SELECT ROW_SELECT_SQL FROM audit.events …) TO STDOUT` prints it (without the newline). */
export function copyOutLine(r: AuditRow): string {
  const t = (s: string | null): string => (s === null ? '\\N' : copyOutText(s));
  const a = (x: readonly string[]): string => copyOutText(arrayOut(x));
  const cols: Record<string, string> = {
    chain_id: t(r.chain_id), seq: String(r.seq), event_id: t(r.event_id), ts: epochMsOut(r.ts), decision: t(r.decision), reasons: a(r.reasons),
    actor_sub: t(r.actor_sub), roles: a(r.roles), tenant: t(r.tenant), agent: t(r.agent), session: t(r.session), action: t(r.action),
    route: t(r.route), method: t(r.method), path: t(r.path), entity_ids: a(r.entity_ids), memory_id: t(r.memory_id), source_ip: t(r.source_ip),
    request_id: t(r.request_id), policy_revision: t(r.policy_revision), break_glass: r.break_glass ? 't' : 'f', phi: r.phi ? 't' : 'f',
    latency_ms: float8Out(r.latency_ms), body_digest: t(r.body_digest), status: String(r.status),
    row_format: r.row_format === 1 ? '\\N' : String(r.row_format), kind: t(r.kind), ref_event_id: t(r.ref_event_id), detail: t(r.detail),
    prev_hash: t(r.prev_hash), hash: t(r.hash),
  };
  return ROW_COLUMNS.map((c) => cols[c]!).join('\t');
}

/** COPY FROM text: split a line into fields, undoing backslash escapes (\N = NULL). */
export function copyInFields(line: string): (string | null)[] {
  return line.split('\t').map((f) => {
    if (f === '\\N') return null;
    return f.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/gs, (_, e: string) => {
      const simple: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
      if (simple[e] !== undefined) return simple[e]!;
      if (e[0] === 'x' && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
      if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8));
      return e;
    });
  });
}

/** array_in for the literals our writer produces and PostgreSQL prints (one dimension, text). */
export function arrayIn(lit: string): string[] {
  if (!lit.startsWith('{') || !lit.endsWith('}')) throw new Error(`not an array literal: ${lit}`);
  const out: string[] = [];
  const body = lit.slice(1, -1);
  if (body === '') return out;
  let i = 0;
  while (i <= body.length) {
    let v = '';
    if (body[i] === '"') {
      i++;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\') i++;
        v += body[i++] ?? '';
      }
      i++; // closing quote
    } else {
      while (i < body.length && body[i] !== ',') v += body[i++];
      v = v.trim();
    }
    out.push(v);
    if (body[i] === ',') i++;
    else break;
  }
  return out;
}

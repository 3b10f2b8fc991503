// CSV form of exported rows (RFC 4180). Unambiguous enough to verify from: an empty unquoted cell
// is null, `""` is the empty string, arrays are JSON, numbers and booleans are plain.
// Files of export format /1 have the 27 format-1 columns: their rows read as format-1 rows.
import { ROW_COLUMNS, ROW_COLUMNS_1, rowFromJson, type AuditRow } from './row.js';

const NUMERIC = new Set<string>(['seq', 'latency_ms', 'status', 'row_format']);
const BOOLEAN = new Set<string>(['break_glass', 'phi']);
const ARRAY = new Set<string>(['reasons', 'roles', 'entity_ids']);

/**
 * One CSV cell (RFC 4180), for every CSV this project writes: null/undefined is an empty unquoted
 * cell, an array its JSON; a value with a comma, double quote, CR or LF is quoted (quotes doubled).
 * `quoteAll` quotes every other value too: the export's text columns, where quoting is what tells
 * the empty string (`""`) from null (empty, unquoted).
 */
export function csvCell(v: unknown, quoteAll = false): string {
  if (v === null || v === undefined) return '';
  const s = Array.isArray(v) ? JSON.stringify(v) : String(v);
  return quoteAll || /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export const CSV_HEADER = ROW_COLUMNS.join(',');
/** The header of export format /1 (before row format 2). */
export const CSV_HEADER_1 = ROW_COLUMNS_1.join(',');

export function rowToCsv(row: AuditRow): string {
  return ROW_COLUMNS.map((c) => (NUMERIC.has(c) || BOOLEAN.has(c) ? String(row[c]) : csvCell(row[c], true))).join(',');
}

/** Splits CSV text into records of [value, quoted] cells. */
function parseRecords(text: string): { v: string; q: boolean }[][] {
  const out: { v: string; q: boolean }[][] = [];
  let rec: { v: string; q: boolean }[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let v = '';
    let q = false;
    if (text[i] === '"') {
      q = true;
      i++;
      for (;;) {
        const j = text.indexOf('"', i);
        if (j < 0) throw new Error('unterminated quoted cell');
        v += text.slice(i, j);
        if (text[j + 1] === '"') { v += '"'; i = j + 2; continue; }
        i = j + 1;
        break;
      }
    } else {
      while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') v += text[i++];
    }
    rec.push({ v, q });
    if (text[i] === ',') { i++; continue; }
    if (text[i] === '\r') i++;
    if (text[i] === '\n' || i >= n) { out.push(rec); rec = []; i++; }
  }
  return out;
}

export function parseCsvRows(text: string): AuditRow[] {
  const recs = parseRecords(text);
  const header = recs.shift()?.map((c) => c.v).join(',');
  if (header !== CSV_HEADER && header !== CSV_HEADER_1) throw new Error('CSV header does not match the audit row columns');
  const columns: readonly string[] = header === CSV_HEADER ? ROW_COLUMNS : ROW_COLUMNS_1;
  return recs.filter((r) => r.length > 1 || r[0]?.v !== '').map((r) => {
    const row: Record<string, unknown> = {};
    columns.forEach((c, k) => {
      const cellv = r[k];
      if (cellv === undefined) throw new Error(`CSV record has too few cells`);
      if (!cellv.q && cellv.v === '' && !NUMERIC.has(c) && !BOOLEAN.has(c)) row[c] = null;
      else if (NUMERIC.has(c)) row[c] = Number(cellv.v);
      else if (BOOLEAN.has(c)) row[c] = cellv.v === 'true';
      else if (ARRAY.has(c)) row[c] = JSON.parse(cellv.v) as string[];
      else row[c] = cellv.v;
    });
    return rowFromJson(row);
  });
}

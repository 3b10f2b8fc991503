// The one CSV cell function (RFC 4180) behind the audit export and the evidence pack.
import { describe, expect, it } from 'vitest';
import { CSV_HEADER, csvCell, parseCsvRows, rowToCsv } from '../../../src/audit/csv.js';
import type { AuditRow } from '../../../src/audit/row.js';

describe('csvCell', () => {
  it('leaves plain values bare (the evidence pack: `acme,allow,allowed,1`, no tenant = empty)', () => {
    expect(['acme', 'allow', 'allowed', 1, ''].map((v) => csvCell(v)).join(',')).toBe('acme,allow,allowed,1,');
    expect([null, undefined].map((v) => csvCell(v))).toEqual(['', '']);
  });

  it('quotes a comma, a double quote (doubled), LF and CR', () => {
    expect(['a,b', 'say "hi"', 'l1\nl2', 'l1\rl2'].map((v) => csvCell(v))).toEqual(['"a,b"', '"say ""hi"""', '"l1\nl2"', '"l1\rl2"']);
  });

  it('quoteAll (the export\'s text columns): every value quoted, so "" is the empty string and an empty cell null', () => {
    expect([csvCell('', true), csvCell('acme', true), csvCell(null, true), csvCell(['a', 'b"'], true)]).toEqual(['""', '"acme"', '', '"[""a"",""b\\""""]"']);
  });
});

describe('export CSV', () => {
  it('round-trips a row with empty strings, nulls, quotes, commas, CR and LF', () => {
    const row: AuditRow = {
      chain_id: 'c', seq: 7, event_id: 'e,1', ts: '2026-01-02T03:04:05.678Z', decision: 'deny', reasons: ['a"b', ''], actor_sub: '', roles: [],
      tenant: 'acme', agent: null, session: 'cr\rlf\n', action: 'read', route: 'memories.get', method: 'GET', path: '/m', entity_ids: ['x,y'],
      memory_id: null, source_ip: '::1', request_id: 'r', policy_revision: null, break_glass: false, phi: true, latency_ms: 0.25, body_digest: null,
      status: 403, row_format: 2, kind: 'decision', ref_event_id: null, detail: '{"n":1}', prev_hash: '0'.repeat(64), hash: 'f'.repeat(64),
    };
    const text = `${CSV_HEADER}\n${rowToCsv(row)}\n`;
    expect(parseCsvRows(text)).toEqual([row]);
  });
});

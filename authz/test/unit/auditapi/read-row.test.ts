// The row an audit API read leaves (record.ts auditReadRow): an outcome naming its decision, what
// was asked and how much came back, in the one canonical detail form the writer accepts.
import { describe, expect, it } from 'vitest';
import { auditReadRow } from '../../../src/record.js';
import { normalizeEvent } from '../../../src/audit/row.js';
import { jcs } from '../../../src/audit/jcs.js';

const ctx = {
  decisionId: 'd-1', requestId: 'r-1', route: 'audit.events', method: 'GET', path: '/audit/events',
  identity: { subject: 'audrey', roles: ['auditor'], tenant: 'acme', agent: 'console', sessionId: 's-1' },
  sourceIp: '10.0.0.9', policyRevision: 'f'.repeat(64),
};

describe('auditReadRow', () => {
  it('is an outcome row of the decision, with the query and the count, valid for the writer', () => {
    const row = auditReadRow(ctx, { status: 200, returned: 42, query: { tenant: 'acme', actor: 'rita' }, latencyMs: 3.25 }, Date.UTC(2026, 10, 26));
    expect(row).toMatchObject({
      kind: 'outcome', ref_event_id: 'd-1', decision: 'allow', reasons: ['outcome'], status: 200, action: 'audit_read', route: 'audit.events',
      method: 'GET', path: '/audit/events', actor_sub: 'audrey', roles: ['auditor'], tenant: 'acme', agent: 'console', session: 's-1',
      source_ip: '10.0.0.9', request_id: 'r-1', memory_id: null, entity_ids: [], phi: false, latency_ms: 3.25, ts: '2026-11-26T00:00:00.000Z',
    });
    expect(row.detail).toBe(jcs({ query: { actor: 'rita', tenant: 'acme' }, returned: 42 }));
    expect(() => normalizeEvent(row)).not.toThrow();
    expect(row.event_id).not.toBe('d-1');
  });

  it('records a refusal and a download\'s digest', () => {
    const refused = auditReadRow(ctx, { status: 403, returned: 0, query: {}, latencyMs: 1, error: 'cross_tenant' }, 0);
    expect(JSON.parse(refused.detail!)).toEqual({ error: 'cross_tenant', returned: 0 });
    const dl = auditReadRow({ ...ctx, route: 'audit.export' }, { status: 200, returned: 7, query: { format: 'csv' }, latencyMs: 1, sha256: 'b'.repeat(64) }, 0);
    expect(JSON.parse(dl.detail!)).toEqual({ query: { format: 'csv' }, returned: 7, sha256: 'b'.repeat(64) });
  });
});

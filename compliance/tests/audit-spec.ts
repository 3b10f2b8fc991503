// audit/README.md's hash rule, re-implemented from the document (only the RFC 8785 serializer,
// the reference npm package, is shared with authz/src/audit), so the compliance suites check the
// stored chain the way an external auditor would.
import { createHash } from 'node:crypto';
// RFC 8785 by the reference implementation (npm `canonicalize`); only the hash rule is ours.
import { jcs } from '../../authz/src/audit/jcs.js';

export { jcs };
export const GENESIS = '0'.repeat(64);

/** The 25 hashed columns, as pg returns them (ts: Date, seq: bigint string). */
export type StoredRow = Record<string, unknown> & { seq: string; ts: Date; prev_hash: string; hash: string };

/** The columns audit/README.md marks "hashed". */
export const HASHED = ['chain_id', 'seq', 'event_id', 'ts', 'decision', 'reasons', 'actor_sub', 'roles', 'tenant', 'agent',
  'session', 'action', 'route', 'method', 'path', 'entity_ids', 'memory_id', 'source_ip', 'request_id', 'policy_revision',
  'break_glass', 'phi', 'latency_ms', 'body_digest', 'status'] as const;

export function expectedHash(row: StoredRow): string {
  const hashed: Record<string, unknown> = {};
  for (const k of HASHED) hashed[k] = row[k];
  hashed.seq = Number(row.seq);
  hashed.ts = row.ts.toISOString();
  return createHash('sha256').update(row.prev_hash, 'ascii').update(jcs(hashed), 'utf8').digest('hex');
}

// audit/README.md's hash rule, re-implemented from the document (only the RFC 8785 serializer,
// the reference npm package, is shared with authz/src/audit), so the compliance suites check the
// stored chain the way an external auditor would.
import { createHash } from 'node:crypto';
// RFC 8785 by the reference implementation (npm `canonicalize`); only the hash rule is ours.
import { jcs } from '../../authz/src/audit/jcs.js';

export { jcs };
export const GENESIS = '0'.repeat(64);

/** A stored row as pg returns it (ts: Date, seq: bigint string). */
export type StoredRow = Record<string, unknown> & { seq: string; ts: Date; prev_hash: string; hash: string };

/** The columns audit/README.md marks "hashed" in every row format. */
export const HASHED = ['chain_id', 'seq', 'event_id', 'ts', 'decision', 'reasons', 'actor_sub', 'roles', 'tenant', 'agent',
  'session', 'action', 'route', 'method', 'path', 'entity_ids', 'memory_id', 'source_ip', 'request_id', 'policy_revision',
  'break_glass', 'phi', 'latency_ms', 'body_digest', 'status'] as const;

/** Row format 2 hashes these too, and its own row_format (NULL in the table = format 1). */
export const HASHED_FORMAT_2 = ['row_format', 'kind', 'ref_event_id', 'detail'] as const;

export function expectedHash(row: StoredRow): string {
  const hashed: Record<string, unknown> = {};
  for (const k of HASHED) hashed[k] = row[k];
  if (row.row_format !== null && row.row_format !== undefined) {
    for (const k of HASHED_FORMAT_2) hashed[k] = row[k];
    hashed.row_format = Number(row.row_format);
  }
  hashed.seq = Number(row.seq);
  hashed.ts = row.ts.toISOString();
  return createHash('sha256').update(row.prev_hash, 'ascii').update(jcs(hashed), 'utf8').digest('hex');
}

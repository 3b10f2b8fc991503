// The one error type for every stop of the pipeline (and of the response stage): it carries
// the decision value, the stable reason, the HTTP status, headers for the caller and the cause.
// Stages throw it; pipeline.ts and response/ catch only this type. Statuses and decisions come
// from the reason table (reasons.ts) unless a stage has a documented reason to differ (policy
// decides its own status, Rego being the source of truth there).
import type { DecisionValue } from './types.js';
import { REASONS, isReason, type Reason } from './reasons.js';

export class PipelineStop extends Error {
  readonly decision: Exclude<DecisionValue, 'allow'>;
  readonly reason: string;
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Facts for the audit row's `detail` only, never for the caller (e.g. which API key id failed). */
  readonly audit: Readonly<Record<string, string>> | undefined;

  constructor(
    decision: Exclude<DecisionValue, 'allow'>,
    reason: string,
    status: number,
    headers: Record<string, string> = {},
    options: { cause?: unknown; audit?: Readonly<Record<string, string>> } = {},
  ) {
    super(`${decision}: ${reason}`, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'PipelineStop';
    this.decision = decision;
    this.reason = reason;
    this.status = status;
    this.headers = headers;
    this.audit = options.audit;
  }

  /** The same stop, with facts for the audit row. */
  withAudit(audit: Readonly<Record<string, string>>): PipelineStop {
    return new PipelineStop(this.decision, this.reason, this.status, this.headers, { cause: this.cause, audit: { ...this.audit, ...audit } });
  }
}

/** A stop for a reason in the table, with the table's decision and status. */
export function stop(reason: Reason, headers: Record<string, string> = {}, cause?: unknown): PipelineStop {
  const spec = REASONS[reason];
  const decision = spec.decision === 'allow' ? 'error' : spec.decision;
  return new PipelineStop(decision, reason, spec.status, headers, cause !== undefined ? { cause } : {});
}

/** Whatever was thrown, as a PipelineStop: unknown errors are `internal_error` (fail closed). */
export function asStop(err: unknown): PipelineStop {
  if (err instanceof PipelineStop) return err;
  return stop('internal_error', {}, err);
}

export { isReason };
export type { Reason };

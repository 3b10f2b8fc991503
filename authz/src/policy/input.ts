// Builds the small, normalized policy input (stage 5). Pure: the clock is passed in.
import type { BreakGlassGrant, Identity, Mem0Request, MemoryOwner, PolicyInput } from '../types.js';

export function buildPolicyInput(
  req: Mem0Request,
  id: Identity,
  owner: MemoryOwner | undefined,
  breakGlass: BreakGlassGrant | undefined,
  nowMs: number,
): PolicyInput {
  const input: PolicyInput = {
    now_ms: nowMs,
    request: {
      method: req.method,
      path: req.path,
      route: req.route,
      action: req.action,
      entities: req.entities.map((e) => ({ kind: e.kind, id: e.id, source: e.source })),
      phi_in_body: req.phiInBody,
      source_ip: req.sourceIp,
      options: { ...req.options },
    },
    subject: { sub: id.subject, tenant: id.tenant, roles: [...id.roles] },
  };
  if (req.memoryId !== undefined) input.request.memory_id = req.memoryId;
  if (id.agent !== undefined) input.subject.agent = id.agent;
  if (owner !== undefined) input.owner = { ...owner };
  // A grant only elevates the subject it was issued to, in its tenant (defence in depth
  // behind the gate, which looks grants up by subject). Expiry is judged by the policy.
  if (breakGlass !== undefined && breakGlass.subject === id.subject && breakGlass.tenant === id.tenant) {
    input.break_glass = { role: breakGlass.role, expires_at_ms: breakGlass.expiresAt, grant_id: breakGlass.grantId };
  }
  return input;
}

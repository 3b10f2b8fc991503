import { describe, expect, it } from 'vitest';
import { buildPolicyInput } from '../../../src/policy/input.js';
import type { BreakGlassGrant, Identity, Mem0Request } from '../../../src/types.js';

const req: Mem0Request = {
  requestId: 'r-1', method: 'PUT', path: '/memories/m-1', route: 'memories.update', action: 'write', memoryId: 'm-1',
  entities: [{ kind: 'user_id', id: 'acme:alice', source: 'body' }], options: { infer: false }, query: { q: '1' },
  body: { text: 'secret memory content', metadata: { phi: true } }, bodyDigest: 'abc', phiInBody: true,
  sourceIp: '10.0.0.1', userAgent: 'ua',
};
const id: Identity = { subject: 'alice', issuer: 'https://idp', tenant: 'acme', roles: ['agent-writer'], agent: 'bot', jti: 'j', sessionId: 's' };
const grant: BreakGlassGrant = {
  grantId: 'bg-1', subject: 'alice', tenant: 'acme', role: 'admin', justification: 'incident 42', grantedBy: 'bob', grantedAt: 1, expiresAt: 5000,
};

describe('buildPolicyInput', () => {
  it('builds the small normalized input', () => {
    const input = buildPolicyInput(req, id, { exists: true, user_id: 'acme:alice', phi: false }, grant, 1234);
    expect(input).toEqual({
      now_ms: 1234,
      request: {
        method: 'PUT', path: '/memories/m-1', route: 'memories.update', action: 'write', memory_id: 'm-1',
        entities: [{ kind: 'user_id', id: 'acme:alice', source: 'body' }], phi_in_body: true, source_ip: '10.0.0.1', options: { infer: false },
      },
      subject: { sub: 'alice', tenant: 'acme', roles: ['agent-writer'], agent: 'bot' },
      owner: { exists: true, user_id: 'acme:alice', phi: false },
      break_glass: { role: 'admin', expires_at_ms: 5000, grant_id: 'bg-1' },
    });
  });

  it('never carries memory content, query or tokens into policy', () => {
    const text = JSON.stringify(buildPolicyInput(req, id, undefined, undefined, 1));
    expect(text).not.toContain('secret memory content');
    expect(text).not.toContain('abc');
    expect(text).not.toContain('jti');
  });

  it('drops a grant issued to another subject or tenant', () => {
    expect(buildPolicyInput(req, id, undefined, { ...grant, subject: 'mallory' }, 1).break_glass).toBeUndefined();
    expect(buildPolicyInput(req, id, undefined, { ...grant, tenant: 'globex' }, 1).break_glass).toBeUndefined();
  });

  it('passes an expired grant through for the policy to judge against now_ms', () => {
    expect(buildPolicyInput(req, id, undefined, grant, 9999).break_glass?.expires_at_ms).toBe(5000);
  });

  it('does not alias the caller objects', () => {
    const input = buildPolicyInput(req, id, undefined, undefined, 1);
    input.subject.roles.push('admin');
    input.request.entities.push({ kind: 'run_id', id: 'x', source: 'query' });
    expect(id.roles).toEqual(['agent-writer']);
    expect(req.entities).toHaveLength(1);
  });
});

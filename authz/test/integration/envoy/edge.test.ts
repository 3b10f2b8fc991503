// The real Envoy with envoy/envoy.yaml (rendered onto free ports) in front of the Mem0 stand-in,
// asking a gRPC Authorization double. Proves what Envoy itself guarantees: TLS floor, body limit,
// fail-closed timeout, identity-header scrub, path normalisation, denial pass-through, access log.
import { connect } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEnvoy, type RunningEnvoy } from '../../../../testing/envoy.js';
import { startMem0Standin, type Mem0Standin } from '../../../../testing/mem0-standin.js';
import { waitFor } from '../../../../testing/tools.js';
import { call, callH2, clearRecords, startAuthzDouble, stopAll, type AuthzDouble } from './helpers.js';

let envoy: RunningEnvoy;
let mem0: Mem0Standin;
let authz: AuthzDouble;

beforeAll(async () => {
  mem0 = await startMem0Standin();
  authz = await startAuthzDouble();
  envoy = await startEnvoy({ authzGrpcPort: authz.port, mem0Port: mem0.port });
});
afterAll(() => stopAll(envoy, authz, mem0));
beforeEach(() => clearRecords(mem0, authz.checks));

const send = (method: string, path: string, opts?: Parameters<typeof call>[4]) => call(envoy.baseUrl, envoy.caFile, method, path, opts);
const json = (v: unknown): { headers: Record<string, string>; body: string } =>
  ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(v) });

/** Handshake with exactly one TLS version; the client allows legacy versions (SECLEVEL=0) so a refusal is Envoy's. */
function handshake(version: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'): Promise<{ ok: boolean; protocol?: string | null; code?: string }> {
  return new Promise((resolve) => {
    const sock = connect({
      host: '127.0.0.1', port: envoy.port, servername: 'localhost',
      rejectUnauthorized: false, minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0',
    }, () => {
      const protocol = sock.getProtocol();
      sock.end();
      resolve({ ok: true, protocol });
    });
    sock.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code }));
  });
}

describe('TLS', () => {
  it('refuses TLS 1.0 and 1.1 with a protocol_version alert and accepts 1.2 and 1.3', async () => {
    for (const v of ['TLSv1', 'TLSv1.1'] as const) {
      const r = await handshake(v);
      expect(r.ok, v).toBe(false);
      // The alert comes from Envoy: our client was willing to speak the old version.
      expect(r.code, v).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    }
    expect(await handshake('TLSv1.2')).toEqual({ ok: true, protocol: 'TLSv1.2' });
    expect(await handshake('TLSv1.3')).toEqual({ ok: true, protocol: 'TLSv1.3' });
  });
});

describe('allowed requests', () => {
  it('reach Mem0 with authz identity headers, without authorization or caller-forged identity headers', async () => {
    const res = await send('POST', '/memories', {
      headers: {
        ...json({}).headers, authorization: 'Bearer secret-token', 'x-request-id': 'req-edge-1',
        'x-mem0-gov-roles': 'admin', 'x-mem0-gov-agent': 'forged', 'x-mem0-gov-break-glass': 'true', x_mem0_gov_tenant: 'evil',
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'likes tea' }], user_id: 'acme:alice' }),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).results[0].event).toBe('ADD');
    expect(res.headers['x-request-id']).toBe('req-edge-1');

    // authz saw the caller's token, the request id and the complete body as bytes.
    expect(authz.checks).toHaveLength(1);
    const check = authz.checks[0]!;
    expect(check.headers.authorization).toBe('Bearer secret-token');
    expect(check.headers['x-request-id']).toBe('req-edge-1');
    expect(check.headers['x-envoy-auth-partial-body']).toBe('false');
    expect(check.headers['x-mem0-gov-roles']).toBeUndefined();
    expect(JSON.parse(check.rawBody.toString('utf8'))).toMatchObject({ user_id: 'acme:alice' });

    expect(mem0.requests).toHaveLength(1);
    const h = mem0.requests[0]!.headers;
    expect(h.authorization).toBeUndefined();
    expect(h['x-request-id']).toBe('req-edge-1');
    expect(h['x-mem0-gov-tenant']).toBe('acme');
    expect(h['x-mem0-gov-subject']).toBe('alice');
    expect(h['x-mem0-gov-roles']).toBeUndefined();
    expect(h['x-mem0-gov-agent']).toBeUndefined();
    expect(h['x-mem0-gov-break-glass']).toBeUndefined();
    expect(h.x_mem0_gov_tenant).toBeUndefined();
  });

  it('generates a request id when the caller sends none, the same one for authz, Mem0 and the caller', async () => {
    const res = await send('GET', '/memories?user_id=acme:alice');
    expect(res.status).toBe(200);
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(authz.checks[0]!.headers['x-request-id']).toBe(id);
    expect(mem0.requests[0]!.headers['x-request-id']).toBe(id);
  });

  it('writes a JSON access log line with request id, route facts and the decision id', async () => {
    await send('GET', '/memories/m-1?user_id=acme:alice', { headers: { 'x-request-id': 'req-log-1' } });
    await send('GET', '/memories/m-2', { headers: { 'x-request-id': 'req-log-2', 'x-test-authz': 'deny' } });
    // startEnvoy flushes access logs every 100 ms.
    await waitFor('access log lines', async () => envoy.accessLog().filter((l) => String(l.request_id).startsWith('req-log-')).length === 2, 5000);
    const lines = envoy.accessLog();
    const allowed = lines.find((l) => l.request_id === 'req-log-1')!;
    expect(allowed).toMatchObject({ method: 'GET', path: '/memories/m-1', status: 200, response_flags: '-', tls_version: 'TLSv1.3', decision_id: 'dec-1' });
    expect(allowed.upstream_host).toBe(`127.0.0.1:${mem0.port}`);
    expect(typeof allowed.duration_ms).toBe('number');
    const denied = lines.find((l) => l.request_id === 'req-log-2')!;
    expect(denied).toMatchObject({ status: 403, denied_decision_id: 'dec-2', upstream_host: null });
    expect(String(denied.response_flags)).toContain('UAEX');
    expect(envoy.logs()).not.toContain('user_id=acme');
  });
});

describe('HTTP/2 (ALPN h2)', () => {
  const h2 = (method: string, path: string, opts?: Parameters<typeof callH2>[4]) => callH2(envoy.baseUrl, envoy.caFile, method, path, opts);

  it('allows through with identity headers and without authorization', async () => {
    const ok = await h2('POST', '/search', {
      headers: { 'content-type': 'application/json', authorization: 'Bearer t', 'x-mem0-gov-tenant': 'evil' },
      body: JSON.stringify({ query: 'tea', user_id: 'acme:alice' }),
    });
    expect(ok).toMatchObject({ status: 200, alpn: 'h2' });
    expect(mem0.requests[0]!.headers['x-mem0-gov-tenant']).toBe('acme');
    expect(mem0.requests[0]!.headers.authorization).toBeUndefined();
  });

  // Regression: without the buffer filter, Envoy 1.40's ext_authz sent authz the first 1 MiB
  // flagged partial and then forwarded all 1 MiB + 1 to Mem0 (h2 frames fill the buffer exactly).
  it('answers 413 for 1 MiB + 1 byte in 16 KiB frames; neither authz nor Mem0 sees it', async () => {
    const big = await h2('POST', '/memories', { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(1024 * 1024 + 1, 0x61) });
    expect(big.status).toBe(413);
    expect(authz.checks).toHaveLength(0);
    expect(mem0.requests).toHaveLength(0);
  });

  it('sends exactly 1 MiB to authz complete, not flagged partial', async () => {
    const res = await h2('POST', '/search', { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(1024 * 1024, 0x20) });
    expect(res.status).toBe(422); // the stand-in cannot parse blanks; it got them all
    expect(authz.checks[0]!.rawBody.length).toBe(1024 * 1024);
    expect(authz.checks[0]!.headers['x-envoy-auth-partial-body']).toBe('false');
    expect(mem0.requests[0]!.rawBody.length).toBe(1024 * 1024);
  });
});

describe('denied requests', () => {
  it('pass authz status, headers and JSON body through unchanged and never reach Mem0', async () => {
    const res = await send('DELETE', '/memories/m-9', { headers: { 'x-test-authz': 'deny', 'x-request-id': 'req-deny-1' } });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-mem0-gov-decision-id']).toBe('dec-1');
    expect(JSON.parse(res.body)).toEqual({ error: 'deny', reason: 'test_denied', request_id: 'req-deny-1', decision_id: 'dec-1' });
    expect(mem0.requests).toHaveLength(0);
  });
});

describe('body limit', () => {
  it('forwards a body of exactly 1 MiB complete to authz and Mem0', async () => {
    const pad = 'x'.repeat(1024 * 1024 - 100);
    const body = JSON.stringify({ query: 'q', user_id: 'acme:alice', pad }).padEnd(1024 * 1024, ' ');
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    const res = await send('POST', '/search', { headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(authz.checks[0]!.rawBody.length).toBe(1024 * 1024);
    expect(authz.checks[0]!.headers['x-envoy-auth-partial-body']).toBe('false');
    expect(mem0.requests[0]!.rawBody.length).toBe(1024 * 1024);
  });

  for (const [label, size, chunked] of [
    ['1 MiB + 1 byte with Content-Length', 1024 * 1024 + 1, false],
    ['1 MiB + 1 byte chunked (no Content-Length)', 1024 * 1024 + 1, true],
    ['5 MB', 5_000_000, false],
  ] as const) {
    it(`answers 413 itself for ${label}; neither authz nor Mem0 sees it`, async () => {
      const res = await send('POST', '/memories', { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(size, 0x61), chunked });
      expect(res.status).toBe(413);
      expect(authz.checks).toHaveLength(0);
      expect(mem0.requests).toHaveLength(0);
    });
  }
});

describe('fail closed on a slow authz', () => {
  it('answers 503 when authz does not answer within the timeout; nothing reaches Mem0', async () => {
    const res = await send('GET', '/memories/m-1', { headers: { 'x-test-authz': 'slow' } });
    expect(res.status).toBe(503);
    expect(authz.checks).toHaveLength(1);
    // The double answers "allow" after 1 s; Envoy must not forward late.
    await new Promise((r) => setTimeout(r, 1100));
    expect(mem0.requests).toHaveLength(0);
  });
});

describe('paths', () => {
  it('authz judges the normalised path that Mem0 serves (dot segments, %2e, duplicate slashes)', async () => {
    for (const [raw, seen] of [['/memories/../reset', '/reset'], ['/memories/%2e%2e/reset', '/reset'], ['//memories///m-1', '/memories/m-1']] as const) {
      authz.checks.length = 0;
      mem0.reset();
      await send('POST', raw, json({}));
      expect(authz.checks[0]?.path, raw).toBe(seen);
      expect(mem0.requests[0]?.path, raw).toBe(seen);
    }
  });

  it('refuses encoded slashes and backslashes with 400 before authz', async () => {
    for (const p of ['/memories/a%2Fb', '/memories/a%5Cb', '/memories/..%2Freset']) {
      const res = await send('GET', p);
      expect(res.status, p).toBe(400);
    }
    expect(authz.checks).toHaveLength(0);
    expect(mem0.requests).toHaveLength(0);
  });
});

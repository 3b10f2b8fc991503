// The check bench's parts: reading ghz's report, /proc CPU times and mem0-gov's metrics, judging
// the goals, rendering "Envoy alone" from the committed config (all pure), and the peer's Rego
// policy deciding like mem0-gov (the real opa CLI from .tools/bin).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mintDevToken, type DevKey } from '../../authz/src/identity/dev-issuer.js';
import { ROOT, tool } from '../../testing/tools.js';
import { PEER_POLICY } from './peer.js';
import { EXT_PROC_FILTER, renderEnvoyConfig } from '../../envoy/render.js';
import { ghzData, grpcRequest, searchBody } from './check-request.js';
import { statTicks } from './cpu.js';
import { EXT_AUTHZ_FILTER, withoutFilters } from './envoy-alone.js';
import { parseGhzReport } from './ghz.js';
import { cpuPer1000, judgeGoals, median, medianFigures } from './report.js';
import { diffScrape, notAllowed, parseScrape, stageMeans } from './stages.js';

describe('ghz report', () => {
  it('reads counts, p50/p99 in ms and the non-OK statuses and errors', () => {
    const r = parseGhzReport(JSON.stringify({
      count: 1000, total: 2e9,
      statusCodeDistribution: { OK: 990, Unavailable: 10 },
      errorDistribution: { 'rpc error: code = Unavailable': 10 },
      latencyDistribution: [{ percentage: 50, latency: 1_500_000 }, { percentage: 99, latency: 4_250_000 }],
    }));
    expect(r).toEqual({
      count: 1000, ok: 990, errors: 10, seconds: 2, p50: 1.5, p99: 4.25,
      problems: { Unavailable: 10, 'rpc error: code = Unavailable': 10 },
    });
  });

  it('refuses a report without figures', () => {
    expect(() => parseGhzReport('{"error":"x"}')).toThrow(/count/);
  });
});

describe('the CheckRequest', () => {
  it('is the same search for ghz (base64 body, request-id template) and grpc-js (Buffer)', () => {
    const body = searchBody('acme:bench');
    const g = JSON.parse(ghzData('tok', body)) as { attributes: { request: { http: { raw_body: string; headers: Record<string, string> } } } };
    expect(Buffer.from(g.attributes.request.http.raw_body, 'base64').toString()).toBe(body);
    expect(g.attributes.request.http.headers.authorization).toBe('Bearer tok');
    expect(g.attributes.request.http.headers['x-request-id']).toBe('{{newUUID}}');
    const n = grpcRequest('tok', body, 'r1') as { attributes: { request: { http: { raw_body: Buffer; headers: Record<string, string> } } } };
    expect(n.attributes.request.http.raw_body.toString()).toBe(body);
    expect(n.attributes.request.http.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });
});

describe('/proc CPU', () => {
  it('sums utime, stime, cutime and cstime after the command name, whatever it contains', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 1200 300 7 5 20 0 11 0 999 0 0';
    expect(statTicks(stat)).toBe(1200 + 300 + 7 + 5);
  });

  it('per 1,000 checks, none when nothing was served', () => {
    expect(cpuPer1000(1.5, 5000)).toBeCloseTo(0.3);
    expect(cpuPer1000(1, 0)).toBeNull();
  });
});

describe('mem0-gov metrics', () => {
  const scrape = (parseMs: number, auditMs: number, n: number, allow: number): string => [
    '# HELP mem0gov_check_duration_seconds x',
    `mem0gov_check_duration_seconds_bucket{le="0.001",stage="parse"} ${n}`,
    `mem0gov_check_duration_seconds_sum{stage="parse"} ${parseMs / 1000}`,
    `mem0gov_check_duration_seconds_count{stage="parse"} ${n}`,
    `mem0gov_check_duration_seconds_sum{stage="audit"} ${auditMs / 1000}`,
    `mem0gov_check_duration_seconds_count{stage="audit"} ${n}`,
    `mem0gov_check_duration_seconds_sum{stage="total"} ${(parseMs + auditMs) / 1000}`,
    `mem0gov_check_duration_seconds_count{stage="total"} ${n}`,
    `mem0gov_decisions_total{decision="allow",reason="policy_allow"} ${allow}`,
    'mem0gov_decisions_total{decision="deny",reason="tenant_mismatch"} 3',
  ].join('\n');

  it('gives the mean per stage of a run (after − before), in pipeline order, total last', () => {
    const d = diffScrape(parseScrape(scrape(10, 100, 100, 100)), parseScrape(scrape(30, 400, 300, 300)));
    expect(stageMeans(d)).toEqual([
      { stage: 'parse', count: 200, meanMs: expect.closeTo(0.1, 9) as number },
      { stage: 'audit', count: 200, meanMs: expect.closeTo(1.5, 9) as number },
      { stage: 'total', count: 200, meanMs: expect.closeTo(1.6, 9) as number },
    ]);
    expect(d.decisions.get('allow')).toBe(200);
    expect(d.decisions.get('deny')).toBe(0);
    expect(notAllowed(d)).toBe(0);
  });

  it('counts the checks not allowed, by decision and reason', () => {
    const before = parseScrape('mem0gov_decisions_total{decision="allow",reason="policy_allow"} 10\nmem0gov_decisions_total{decision="error",reason="overloaded"} 1');
    const after = parseScrape('mem0gov_decisions_total{decision="allow",reason="policy_allow"} 50\nmem0gov_decisions_total{decision="error",reason="overloaded"} 6\nmem0gov_decisions_total{decision="error",reason="audit_unavailable"} 2');
    const d = diffScrape(before, after);
    expect(notAllowed(d)).toBe(7);
    expect(d.reasons.get('error overloaded')).toBe(5);
    expect(d.reasons.get('error audit_unavailable')).toBe(2);
  });
});

describe('goals', () => {
  it('medians of repeats', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const m = medianFigures([
      { rps: 100, p50: 1, p99: 5, cpuPer1000: 0.3, ok: 10, errors: 0 },
      { rps: 300, p50: 3, p99: 9, cpuPer1000: null, ok: 10, errors: 1 },
      { rps: 200, p50: 2, p99: 7, cpuPer1000: 0.5, ok: 10, errors: 0 },
    ]);
    expect(m).toEqual({ rps: 200, p50: 2, p99: 7, cpuPer1000: 0.4, ok: 30, errors: 1 });
  });

  it('judges each goal held or missed at its bound, and "not measured" without the peer', () => {
    const g = judgeGoals({
      rps16: { mem0gov: 1000, peer: 1000 }, rps64: { mem0gov: 999, peer: 1000 },
      p50At500: { mem0gov: 1.5, peer: 1.0 }, p50One: 2.01, addedThroughEnvoy: 2, cpuPer1000: 0.6, cpuPer1000At64: 0.61,
    });
    expect(g.map((x) => x.verdict)).toEqual(['held', 'missed', 'held', 'missed', 'held', 'missed', 'held']);
    const noPeer = judgeGoals({ rps16: { mem0gov: 1 }, rps64: { mem0gov: 1 }, p50At500: { mem0gov: 1 }, p50One: 1, addedThroughEnvoy: 1, cpuPer1000: 0.7 });
    expect(noPeer.map((x) => x.verdict)).toEqual(['not measured', 'not measured', 'not measured', 'held', 'held', 'missed']);
  });
});

describe('Envoy alone', () => {
  it('is the rendered committed config without ext_authz and ext_proc, anywhere', () => {
    const rendered = renderEnvoyConfig({ listenPort: 1, adminPort: 2, authzGrpcPort: 3, mem0Port: 4, certFile: 'c', keyFile: 'k' });
    expect(rendered).toContain(EXT_AUTHZ_FILTER);
    const bare = withoutFilters(rendered, [EXT_AUTHZ_FILTER, EXT_PROC_FILTER]);
    expect(bare).not.toContain(EXT_AUTHZ_FILTER);
    expect(bare).not.toContain(EXT_PROC_FILTER);
    // Everything else stays: the listener's other filters and the routes.
    const doc = parse(bare) as { static_resources: { listeners: { filter_chains: { filters: { typed_config: { http_filters: { name: string }[] } }[] }[] }[] } };
    const names = doc.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.http_filters.map((f) => f.name);
    expect(names).toContain('envoy.filters.http.router');
    expect(names).toContain('envoy.filters.http.buffer');
  });
});

describe('the peer policy (peer-policy/authz.rego, real opa eval)', () => {
  const run = promisify(execFile);
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-peer-policy-'));
  const issuer = 'http://127.0.0.1:1/realms/dev';
  const roles = (JSON.parse(readFileSync(join(ROOT, 'policies', 'data.json'), 'utf8')) as { mem0gov: { roles: Record<string, string[]> } }).mem0gov.roles;

  async function key(): Promise<DevKey> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    return { kid: 'k', privateJwk: { ...(await exportJWK(privateKey)), kid: 'k', alg: 'ES256' }, publicJwk: { ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' } };
  }

  /** allow for a search of `userId` with a token minted by `signer`, as opa-envoy-plugin would ask. */
  async function allow(trusted: DevKey, signer: DevKey, userId: string, o: { roles?: string[]; ttl?: number; iat?: number } = {}): Promise<boolean> {
    const token = await mintDevToken(signer, { issuer, audience: 'mem0-gov', tenant: 'acme', roles: o.roles ?? ['agent-writer'], ttl: o.ttl ?? 600, ...(o.iat !== undefined ? { iat: o.iat } : {}) });
    const body = searchBody(userId);
    const input = { attributes: { request: { http: { method: 'POST', path: '/search', headers: { authorization: `Bearer ${token}` } } } }, parsed_path: ['search'], parsed_body: JSON.parse(body) as unknown };
    const data = { bench: { jwks: JSON.stringify({ keys: [trusted.publicJwk] }), issuer, audience: 'mem0-gov', roles } };
    writeFileSync(join(dir, 'input.json'), JSON.stringify(input));
    writeFileSync(join(dir, 'data.json'), JSON.stringify(data));
    const { stdout } = await run(tool('opa'), ['eval', '--format', 'raw', '--data', PEER_POLICY, '--data', join(dir, 'data.json'), '--input', join(dir, 'input.json'), 'data.envoy.authz.allow']);
    return stdout.trim() === 'true';
  }

  it('allows the bench search and denies what mem0-gov denies: another tenant, no read role, a foreign key, an expired token', async () => {
    const k = await key();
    const other = await key();
    expect(await allow(k, k, 'acme:bench')).toBe(true);
    expect(await allow(k, k, 'globex:someone')).toBe(false);
    expect(await allow(k, k, 'acme:')).toBe(false);
    expect(await allow(k, k, 'acme:bench', { roles: ['auditor'] })).toBe(false);
    expect(await allow(k, other, 'acme:bench')).toBe(false);
    expect(await allow(k, k, 'acme:bench', { iat: Math.floor(Date.now() / 1000) - 3600, ttl: 60 })).toBe(false);
  });
});

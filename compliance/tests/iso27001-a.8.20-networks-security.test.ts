// ISO/IEC 27001:2022 A.8.20 networks security: in the compose stack only loopback ports are
// published; Mem0, authz and Envoy share one network namespace, and the data stores publish
// nothing; the running Envoy's admin interface listens on loopback only.
import { describe, expect, it } from 'vitest';
import { loadCompose } from './compose.js';
import { repoFile } from './helpers.js';

const { services } = loadCompose();

describe('A.8.20 networks security', () => {
  it('every published port binds 127.0.0.1', () => {
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, p })));
    expect(published.length).toBeGreaterThan(0);
    for (const { name, p } of published) {
      const hostIp = typeof p === 'string' ? p.split(':')[0] : p.host_ip;
      expect(hostIp, `${name}: ${JSON.stringify(p)}`).toBe('127.0.0.1');
    }
  });

  it('Mem0 is reachable only inside the edge pod; the stores publish nothing', () => {
    for (const name of ['mem0', 'authz', 'envoy']) expect(services[name]?.network_mode, name).toBe('service:edge-pod');
    for (const name of ['mem0', 'authz', 'envoy', 'redis', 'postgres', 'mem0-db']) expect(services[name]?.ports, name).toBeUndefined();
  });

  it('Envoy\'s admin interface is bound to loopback in the shipped config', () => {
    const envoy = repoFile('envoy/envoy.yaml');
    const admin = envoy.slice(envoy.indexOf('admin:'), envoy.indexOf('admin:') + 400);
    expect(admin).toMatch(/address:\s*127\.0\.0\.1/);
  });
});

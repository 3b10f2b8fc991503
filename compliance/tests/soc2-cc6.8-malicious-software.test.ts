// SOC 2 CC6.8 prevent or detect unauthorised or malicious software: images pinned to versions,
// the authz image runs as non-root with production dependencies only, every container runs with
// no-new-privileges, and the data-path containers have a read-only root filesystem.
import { describe, expect, it } from 'vitest';
import { repoFile } from './helpers.js';
import { loadCompose } from './compose.js';

const { services } = loadCompose();
/** Upstream publishes Mem0's image as `latest` only; compose takes MEM0_IMAGE to pin it by digest. */
const PIN_BY_OPERATOR = 'mem0';

describe('CC6.8 malicious software', () => {
  it('every third-party image is pinned to a version (Mem0: overridable by digest)', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build !== undefined) continue;
      if (name === PIN_BY_OPERATOR) {
        expect(s.image, name).toMatch(/^\$\{MEM0_IMAGE:-/);
        continue;
      }
      expect(s.image, name).toMatch(/^[\w./-]+(:[\w.-]*\d[\w.-]*|@sha256:[0-9a-f]{64})$/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
    for (const m of repoFile('docker/Dockerfile').matchAll(/^ARG \w+_IMAGE=(\S+)$/gm)) expect(m[1]).toMatch(/:\d[\w.-]*$/);
  });

  it('the authz image runs as a non-root user with production dependencies only', () => {
    const df = repoFile('docker/Dockerfile');
    const runtime = df.slice(df.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^USER (?!root\b|0\b)\S+$/m);
    expect(df).toMatch(/npm (install|ci)[^\n]*--omit=dev/);
  });

  it('no container may gain privileges; the Mem0 data path runs read-only', () => {
    for (const [name, s] of Object.entries(services)) expect(s.security_opt ?? [], name).toContain('no-new-privileges:true');
    for (const name of ['edge-pod', 'envoy', 'authz', 'mem0', 'redis', 'postgres']) expect(services[name]?.read_only, name).toBe(true);
  });
});

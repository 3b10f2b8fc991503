// Tracing off (the default) costs nothing: the OpenTelemetry SDK is never loaded, no provider or
// tracer exists, and the pipeline and the response stage take the path they take without tracing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadTracing } from '../../../src/tracing/index.js';
import { loadOtelConfig } from '../../../src/config/otel.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SRC = join(ROOT, 'authz', 'src');
const silent = pino({ level: 'silent' });

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('tracing off', () => {
  it('loadTracing never loads the SDK side when off (unset, none, OTEL_SDK_DISABLED)', async () => {
    let loads = 0;
    const load = async () => {
      loads++;
      return import('../../../src/tracing/sdk.js');
    };
    for (const env of [{}, { OTEL_TRACES_EXPORTER: 'none' }, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }]) {
      expect(await loadTracing(loadOtelConfig(env), silent, load)).toBeUndefined();
    }
    expect(loads).toBe(0);
    // The same loader is used when on (so the count above could have moved).
    const on = await loadTracing(loadOtelConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }), silent, load);
    expect(on).toBeDefined();
    expect(loads).toBe(1);
    await on!.shutdown();
  });

  it('only tracing/sdk.ts imports OpenTelemetry, and only tracing/index.ts imports it (dynamically)', () => {
    const OTEL = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]@opentelemetry\//m;
    const importers = sources(SRC).filter((f) => OTEL.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
    expect(importers).toEqual(['tracing/sdk.ts']);
    const sdkImporters = sources(SRC).filter((f) => /['"][./]*(?:tracing\/)?sdk\.js['"]/.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
    expect(sdkImporters).toEqual(['tracing/index.ts']);
    expect(readFileSync(join(SRC, 'tracing', 'index.ts'), 'utf8')).toMatch(/=\s*\(\)\s*=>\s*import\('\.\/sdk\.js'\)/);
  });

  it('a process that loads the whole service and turns tracing off resolves no SDK module; turning it on does (the probe works)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'mem0gov-otel-off-')), 'resolved.txt');
    // A module-resolution hook (node:module register) that notes every @opentelemetry package resolved.
    const hook = `import { appendFileSync } from 'node:fs';
      let out; export async function initialize(d) { out = d.out; }
      export async function resolve(s, c, next) { const r = await next(s, c); const m = /node_modules\\/(@opentelemetry\\/[^/]+)/.exec(r.url); if (m) appendFileSync(out, m[1] + '\\n'); return r; }`;
    const script = `
      import { register } from 'node:module';
      import { readFileSync, existsSync } from 'node:fs';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), { data: { out: ${JSON.stringify(out)} } });
      const seen = () => existsSync(${JSON.stringify(out)}) ? [...new Set(readFileSync(${JSON.stringify(out)}, 'utf8').split('\\n').filter(Boolean))].sort() : [];
      const pino = (await import('pino')).default;
      await import(${JSON.stringify(join(SRC, 'service.ts'))});
      await import(${JSON.stringify(join(SRC, 'pipeline.ts'))});
      await import(${JSON.stringify(join(SRC, 'response', 'processor.ts'))});
      const { loadTracing } = await import(${JSON.stringify(join(SRC, 'tracing', 'index.ts'))});
      const { loadOtelConfig } = await import(${JSON.stringify(join(SRC, 'config', 'otel.ts'))});
      const log = pino({ level: 'silent' });
      const off = await loadTracing(loadOtelConfig({}), log);
      const whenOff = seen();
      const on = await loadTracing(loadOtelConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }), log);
      await on.shutdown();
      console.log(JSON.stringify({ off: off === undefined, whenOff, whenOn: seen() }));
    `;
    const res = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!) as { off: boolean; whenOff: string[]; whenOn: string[] };
    expect(res.off).toBe(true);
    // prom-client brings @opentelemetry/api (its exemplars); nothing of the SDK is resolved.
    expect(res.whenOff.filter((p) => p !== '@opentelemetry/api')).toEqual([]);
    expect(res.whenOn).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace', '@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/core']));
  });
});

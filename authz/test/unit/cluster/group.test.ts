// The process group's pure decisions: each worker's chain and environment, the restart delay,
// and how /metrics merges the workers' registries.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { restartDelayMs, workerChainId, workerEnv } from '../../../src/cluster/derive.js';
import { WORKER_INDEX_VAR, loadWorkerCount, workerIndexOf } from '../../../src/cluster/config.js';
import { groupMetrics, Pending, type Peer } from '../../../src/cluster/metrics.js';
import { ConfigError } from '../../../src/config/env.js';
import type { GroupMessage } from '../../../src/cluster/messages.js';
import { loadConfig } from '../../../src/service-config.js';

describe('worker environment', () => {
  it('gives each index its own stable chain, and the verifier loop to worker 0 only', () => {
    expect(workerChainId('mem0-gov.authz-0', 1)).toBe('mem0-gov.authz-0-w1');
    expect(workerEnv({ chainId: 'c' }, 0)).toEqual({ [WORKER_INDEX_VAR]: '0', MEM0_GOV_AUDIT_CHAIN_ID: 'c-w0' });
    expect(workerEnv({ chainId: 'c' }, 3)).toEqual({ [WORKER_INDEX_VAR]: '3', MEM0_GOV_AUDIT_CHAIN_ID: 'c-w3', MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS: '0' });
    expect(workerEnv({ chainId: 'c' }, 3)).toEqual(workerEnv({ chainId: 'c' }, 3)); // a restart gets the same
  });

  it('a worker environment is a valid service configuration with the derived chain', () => {
    const env = { MEM0_GOV_JWT_ISSUERS: 'https://idp.example/realms/mem0', MEM0_GOV_AUDIT_CHAIN_ID: 'r-0', MEM0_GOV_AUDIT_VERIFY_INTERVAL_SECONDS: '30' };
    const w1 = loadConfig({ ...env, ...workerEnv(loadConfig(env).audit, 1) });
    expect(w1.audit.chainId).toBe('r-0-w1');
    expect(w1.audit.verifyIntervalSeconds).toBe(0);
    expect(loadConfig({ ...env, ...workerEnv(loadConfig(env).audit, 0) }).audit.verifyIntervalSeconds).toBe(30);
  });

  it('reads MEM0_GOV_WORKERS within 1..64, default the CPU count; the index only from the primary', () => {
    expect(loadWorkerCount({ MEM0_GOV_WORKERS: '3' })).toBe(3);
    expect(loadWorkerCount({})).toBeGreaterThanOrEqual(1);
    expect(loadWorkerCount({})).toBeLessThanOrEqual(64);
    for (const bad of ['0', '65', 'two']) expect(() => loadWorkerCount({ MEM0_GOV_WORKERS: bad })).toThrow(ConfigError);
    expect(workerIndexOf({ [WORKER_INDEX_VAR]: '2' })).toBe(2);
    expect(() => workerIndexOf({})).toThrow(/started by the primary/);
  });

  it('restarts a failing worker after 0.1 s, doubling, at most 10 s', () => {
    expect([1, 2, 3, 4].map(restartDelayMs)).toEqual([100, 200, 400, 800]);
    expect(restartDelayMs(8)).toBe(10_000);
    expect(restartDelayMs(1000)).toBe(10_000);
  });
});

/** A worker's registry with the service's metric shapes, answering like cluster/worker.ts. */
function fakeWorker(decisions: number, redisUp: number, pending: Pending<unknown[]>, answer = true): Peer {
  const registry = new client.Registry();
  new client.Counter({ name: 'mem0gov_decisions_total', help: 'h', labelNames: ['decision'], registers: [registry] }).inc({ decision: 'allow' }, decisions);
  new client.Gauge({ name: 'mem0gov_dependency_up', help: 'h', labelNames: ['dependency'], aggregator: 'min', registers: [registry] }).set({ dependency: 'redis' }, redisUp);
  return {
    send(m: GroupMessage) {
      if (m.kind !== 'mem0gov:metrics-json' || !answer) return;
      void registry.getMetricsAsJSON().then((json) => pending.settle(m.id, { value: json }));
    },
  };
}

describe('group metrics', () => {
  it('counters sum over the workers; gauges combine as declared', async () => {
    const pending = new Pending<unknown[]>();
    const own = new client.Registry();
    const text = await groupMetrics(own, [fakeWorker(3, 1, pending), fakeWorker(4, 1, pending)], pending);
    expect(text).toMatch(/^mem0gov_decisions_total\{decision="allow"\} 7$/m);
    expect(text).toMatch(/^mem0gov_dependency_up\{dependency="redis"\} 1$/m);
    const down = await groupMetrics(own, [fakeWorker(1, 1, pending), fakeWorker(1, 0, pending)], pending);
    expect(down).toMatch(/^mem0gov_dependency_up\{dependency="redis"\} 0$/m);
  });

  it('a worker that does not answer fails the scrape instead of giving a partial sum', async () => {
    const pending = new Pending<unknown[]>();
    await expect(pending.ask(() => undefined, 50, 'worker metrics')).rejects.toThrow(/no answer within 50 ms/);
    const silent = fakeWorker(5, 1, pending, false);
    let settled = false;
    const p = groupMetrics(new client.Registry(), [fakeWorker(1, 1, pending), silent], pending).finally(() => { settled = true; });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    await expect(p).rejects.toThrow(/no answer/);
  }, 10_000);
});

// /metrics for the whole process group: any worker may take the scrape's connection, so a
// worker asks the primary, the primary asks every worker for its registry (as JSON) and merges
// them with its own with prom-client's AggregatorRegistry.aggregate (counters and histograms
// sum; gauges as their `aggregator` says). Not AggregatorRegistry.clusterMetrics(): it asks
// every forked worker, including one still loading its modules that cannot answer yet (the
// scrape would wait for its timeout); here only workers that said they are up are asked.
// A worker that does not answer within the timeout fails the scrape (Prometheus records a
// failed scrape) rather than giving a partial sum that would read as a counter reset.
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { GroupMessage } from './messages.js';

type MetricsJson = Parameters<typeof AggregatorRegistry.aggregate>[0][number];

/** Something that takes messages: a cluster Worker in the primary, `process` in a worker. */
export interface Peer {
  send(message: GroupMessage): unknown;
}

export const GROUP_METRICS_TIMEOUT_MS = 3_000;

/** Merges the registries' JSON into Prometheus text. */
export async function aggregateText(parts: readonly unknown[][]): Promise<string> {
  return AggregatorRegistry.aggregate(parts as MetricsJson[]).metrics();
}

/** Requests with ids, answered by a reply carrying the same id (or failed after a timeout). */
export class Pending<T> {
  private next = 1;
  private readonly waiting = new Map<number, { resolve(v: T): void; reject(e: Error): void; timer: NodeJS.Timeout }>();

  ask(send: (id: number) => void, timeoutMs: number, what: string): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.waiting.set(id, { resolve, reject, timer });
      try {
        send(id);
      } catch (err) {
        clearTimeout(timer);
        this.waiting.delete(id);
        reject(err as Error);
      }
    });
  }

  settle(id: number, outcome: { value: T } | { error: Error }): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    if ('value' in outcome) w.resolve(outcome.value);
    else w.reject(outcome.error);
  }
}

/** Primary: the group's text from its own registry and every worker that is up. */
export async function groupMetrics(own: Registry, workers: readonly Peer[], pending: Pending<unknown[]>): Promise<string> {
  const parts = await Promise.all([
    own.getMetricsAsJSON() as Promise<unknown[]>,
    ...workers.map((w) => pending.ask((id) => w.send({ kind: 'mem0gov:metrics-json', id }), GROUP_METRICS_TIMEOUT_MS, 'worker metrics')),
  ]);
  return aggregateText(parts);
}

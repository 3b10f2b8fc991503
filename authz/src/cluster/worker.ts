// A worker of the process group: answers the primary's metrics requests, asks it for the
// group's text when /metrics is scraped here, and says when it is up and when it is SERVING.
import { registry, setMetricsSource } from '../metrics.js';
import { isGroupMessage, type GroupMessage } from './messages.js';
import { GROUP_METRICS_TIMEOUT_MS, Pending } from './metrics.js';

/** Wires this worker to the primary (process.send); returns `ready()` to call once SERVING. */
export function joinGroup(proc: NodeJS.Process = process): { ready(): void } {
  const send = (m: GroupMessage): void => {
    if (proc.connected) proc.send!(m);
  };
  const pending = new Pending<string>();
  proc.on('message', (m: unknown) => {
    if (!isGroupMessage(m)) return;
    if (m.kind === 'mem0gov:metrics-json') {
      registry.getMetricsAsJSON()
        .then((json) => send({ kind: 'mem0gov:metrics-json-reply', id: m.id, json }))
        .catch(() => send({ kind: 'mem0gov:metrics-json-reply', id: m.id, json: [] }));
    } else if (m.kind === 'mem0gov:group-metrics-reply') {
      pending.settle(m.id, m.text !== undefined ? { value: m.text } : { error: new Error(m.error ?? 'no metrics') });
    }
  });
  // The primary waits for every worker's part; allow it its own timeout plus a little.
  setMetricsSource(() => pending.ask((id) => send({ kind: 'mem0gov:group-metrics', id }), GROUP_METRICS_TIMEOUT_MS + 1_000, 'group metrics'));
  send({ kind: 'mem0gov:up' });
  return { ready: () => send({ kind: 'mem0gov:ready' }) };
}

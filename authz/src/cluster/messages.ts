// The messages between the primary and its workers (node:cluster IPC). Each has a `kind`
// prefixed `mem0gov:` so prom-client's own cluster messages never match.

export type GroupMessage =
  /** worker → primary: it answers metrics requests from now on. */
  | { kind: 'mem0gov:up' }
  /** worker → primary: warm and SERVING. */
  | { kind: 'mem0gov:ready' }
  /** worker → primary: /metrics was asked for; send the whole group's text. */
  | { kind: 'mem0gov:group-metrics'; id: number }
  /** primary → worker: the answer to that. */
  | { kind: 'mem0gov:group-metrics-reply'; id: number; text?: string; error?: string }
  /** primary → worker: send your registry as JSON. */
  | { kind: 'mem0gov:metrics-json'; id: number }
  /** worker → primary: the answer to that. */
  | { kind: 'mem0gov:metrics-json-reply'; id: number; json: unknown[] };

const KINDS = new Set<string>(['mem0gov:up', 'mem0gov:ready', 'mem0gov:group-metrics', 'mem0gov:group-metrics-reply', 'mem0gov:metrics-json', 'mem0gov:metrics-json-reply']);

export function isGroupMessage(m: unknown): m is GroupMessage {
  return typeof m === 'object' && m !== null && KINDS.has(String((m as { kind?: unknown }).kind));
}

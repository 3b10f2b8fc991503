// The one CheckRequest every system is sent: what Envoy (envoy/envoy.yaml: buffered body,
// pack_as_bytes) asks about an agent's memory search — POST /search with a JSON body naming the
// caller's user, a valid ES256 bearer token from the dev issuer, a fresh x-request-id each time.
// The same token on every request is the realistic agent case (one token for many calls), so
// mem0-gov's verified-token cache hits after the first check: the bench says so when it prints.

export const SEARCH_PATH = '/search';

/** The search body; `userId` must be in the token's tenant for an allow (`<tenant>:<local>`). */
export function searchBody(userId: string): string {
  return JSON.stringify({ query: 'what does the customer prefer to drink?', filters: { user_id: userId }, top_k: 10 });
}

interface Parts {
  token: string;
  body: string;
  /** x-request-id: ghz's `{{newUUID}}` template in the data file, a literal for grpc-js. */
  requestId: string;
}

function http(p: Parts, rawBody: string | Buffer): Record<string, unknown> {
  const len = String(Buffer.byteLength(p.body));
  return {
    id: '1',
    method: 'POST',
    path: SEARCH_PATH,
    host: 'localhost:9000',
    scheme: 'https',
    protocol: 'HTTP/1.1',
    size: Number(len),
    headers: {
      ':authority': 'localhost:9000', ':method': 'POST', ':path': SEARCH_PATH, ':scheme': 'https',
      authorization: `Bearer ${p.token}`,
      'content-type': 'application/json',
      'content-length': len,
      'user-agent': 'mem0-gov-bench/1',
      'x-forwarded-proto': 'https',
      'x-request-id': p.requestId,
    },
    raw_body: rawBody,
  };
}

function attributes(p: Parts, rawBody: string | Buffer): Record<string, unknown> {
  return {
    source: { address: { socket_address: { address: '127.0.0.1', port_value: 40_000 } } },
    destination: { address: { socket_address: { address: '127.0.0.1', port_value: 9000 } } },
    request: { http: http(p, rawBody) },
  };
}

/** ghz's data file (protobuf JSON: bytes as base64); `{{newUUID}}` is ghz's per-call template. */
export function ghzData(token: string, body: string): string {
  return JSON.stringify({ attributes: attributes({ token, body, requestId: '{{newUUID}}' }, Buffer.from(body).toString('base64')) });
}

/** The same request as a grpc-js message (keepCase; bytes as a Buffer), for the sanity checks. */
export function grpcRequest(token: string, body: string, requestId: string): Record<string, unknown> {
  return { attributes: attributes({ token, body, requestId }, Buffer.from(body)) };
}

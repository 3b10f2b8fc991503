// A tiny HTTPS client for tests: talks to Envoy's TLS listener trusting the dev CA.
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';

export interface Reply {
  status: number;
  headers: Record<string, string>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export async function call(
  baseUrl: string,
  caFile: string,
  o: { method?: string; path: string; token?: string; headers?: Record<string, string>; body?: unknown },
): Promise<Reply> {
  const url = new URL(o.path, baseUrl);
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let payload: Buffer | undefined;
  if (o.body !== undefined) {
    payload = Buffer.isBuffer(o.body) ? o.body : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: o.method ?? 'GET', headers, ca: readFileSync(caFile), servername: 'localhost', timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k] = Array.isArray(v) ? v.join(',') : v;
          resolve({ status: res.statusCode ?? 0, headers: h, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

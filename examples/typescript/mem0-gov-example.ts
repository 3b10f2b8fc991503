// An agent's governed Mem0 calls through mem0-gov, in TypeScript on Node's standard library only
// (node:https; Node ≥ 20). Run: `npx tsx examples/typescript/mem0-gov-example.ts`, or compile it
// with tsc and run the .js.
//
// Gets a token (a dev token, or Keycloak client credentials), then adds a memory, searches, gets
// it by id and lists the user's memories through Envoy. Prints one JSON line per step.
// Exit 0 = every call allowed; 2 = mem0-gov (or Mem0) refused one, with the stable reason;
// 1 = anything else (network, configuration).
//
// Environment:
//   MEM0_GOV_BASE_URL       Envoy's TLS listener, e.g. https://127.0.0.1:9000
//   MEM0_GOV_CA_FILE        PEM CA to trust for it (dev stack: .state/envoy/certs/ca.crt); default: system CAs
//   MEM0_GOV_USER_ID        the Mem0 user id, <tenant>:<local>, e.g. acme:alice
//   MEM0_GOV_TOKEN          a bearer token (dev: TOKEN=$(bin/mem0-gov token --tenant acme --role agent-writer)), or:
//   MEM0_GOV_TOKEN_URL      Keycloak: https://<host>/realms/mem0/protocol/openid-connect/token
//   MEM0_GOV_CLIENT_ID, MEM0_GOV_CLIENT_SECRET   the agent's confidential client
//   MEM0_GOV_MEMORY_TEXT    what to remember (default: a tea preference)
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: unknown }

class Refused extends Error {
  constructor(readonly step: string, readonly status: number, readonly body: Record<string, unknown>) {
    super(`${step}: HTTP ${status}`);
  }
}

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`set ${name}`);
  return v;
}

const caFile = process.env.MEM0_GOV_CA_FILE;
// Certificate and host name are always verified; a private CA is added, never verification turned off.
const ca = caFile ? readFileSync(caFile) : undefined;

function send(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, ...(ca && u.protocol === 'https:' ? { ca } : {}), minVersion: 'TLSv1.2', timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = null;
        try {
          parsed = text === '' ? null : JSON.parse(text);
        } catch {
          parsed = { error: text.slice(0, 200) };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

class Client {
  private readonly base = env('MEM0_GOV_BASE_URL').replace(/\/$/, '');
  private readonly staticToken = process.env.MEM0_GOV_TOKEN || undefined;
  private token: string | undefined;

  async getToken(force = false): Promise<string> {
    if (this.staticToken) return this.staticToken;
    if (this.token && !force) return this.token;
    // OAuth 2.0 client credentials (RFC 6749 §4.4), client_secret_basic as Keycloak accepts it.
    const basic = Buffer.from(`${encodeURIComponent(env('MEM0_GOV_CLIENT_ID'))}:${encodeURIComponent(env('MEM0_GOV_CLIENT_SECRET'))}`).toString('base64');
    const res = await send(env('MEM0_GOV_TOKEN_URL'), 'POST', { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      Buffer.from(new URLSearchParams({ grant_type: 'client_credentials' }).toString()));
    const token = (res.body as { access_token?: unknown } | null)?.access_token;
    if (res.status !== 200 || typeof token !== 'string') throw new Error(`token endpoint answered ${res.status}`);
    this.token = token;
    return token;
  }

  /** One request through Envoy. Retries once after 429 (Retry-After) and once after 401 with a fresh token. */
  async call(step: string, method: string, path: string, body?: unknown): Promise<Reply> {
    let retried401 = false;
    let retried429 = false;
    for (;;) {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const res = await send(this.base + path, method, {
        authorization: `Bearer ${await this.getToken()}`,
        ...(payload ? { 'content-type': 'application/json' } : {}),
      }, payload);
      if (res.status === 429 && !retried429) {
        retried429 = true;
        await new Promise((r) => setTimeout(r, Math.min(Number(res.headers['retry-after'] ?? 1), 5) * 1000));
        continue;
      }
      if (res.status === 401 && !this.staticToken && !retried401) {
        retried401 = true;
        await this.getToken(true);
        continue;
      }
      if (res.status < 200 || res.status > 299) throw new Refused(step, res.status, (res.body ?? {}) as Record<string, unknown>);
      return res;
    }
  }
}

const emit = (fields: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(fields) + '\n');
const decision = (r: Reply): unknown => r.headers['x-mem0-gov-decision-id'];

async function main(): Promise<number> {
  const userId = env('MEM0_GOV_USER_ID');
  const text = process.env.MEM0_GOV_MEMORY_TEXT || 'I prefer green tea in the afternoon';
  const c = new Client();
  try {
    const added = await c.call('add', 'POST', '/memories', { messages: [{ role: 'user', content: text }], user_id: userId, metadata: { source: 'typescript-example' } });
    const ids = ((added.body as { results?: { id: string }[] }).results ?? []).map((r) => r.id);
    emit({ step: 'add', status: added.status, decision_id: decision(added), ids });

    const found = await c.call('search', 'POST', '/search', { query: text, filters: { user_id: userId }, top_k: 5 });
    emit({ step: 'search', status: found.status, decision_id: decision(found), ids: ((found.body as { results?: { id: string }[] }).results ?? []).map((r) => r.id) });

    if (ids.length > 0) {
      const got = await c.call('get', 'GET', `/memories/${encodeURIComponent(ids[0]!)}`);
      const m = (got.body ?? {}) as { id?: string; memory?: string };
      emit({ step: 'get', status: got.status, decision_id: decision(got), id: m.id, memory: m.memory });
    }

    const listed = await c.call('list', 'GET', `/memories?${new URLSearchParams({ user_id: userId })}`);
    emit({ step: 'list', status: listed.status, decision_id: decision(listed), count: ((listed.body as { results?: unknown[] }).results ?? []).length });
  } catch (err) {
    if (err instanceof Refused) {
      emit({ step: err.step, status: err.status, error: err.body.error, reason: err.body.reason, decision_id: err.body.decision_id, request_id: err.body.request_id });
      return 2;
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  }
  return 0;
}

main().then((code) => process.exit(code));

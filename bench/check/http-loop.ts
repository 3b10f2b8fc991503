// One client, one request at a time, through several Envoys in turn (A B C A B C …), each over
// its own kept-alive HTTP/1.1 TLS connection: what a single agent sees. Times send → last byte.
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';

export interface HttpTarget {
  name: string;
  port: number;
  caFile: string;
}

interface Reply { status: number; body: string; ms: number }

function timed(agent: Agent, port: number, path: string, token: string, payload: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = httpsRequest({
      host: '127.0.0.1', port, path, method: 'POST', agent, servername: 'localhost', timeout: 10_000,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(payload.length) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${path} on :${port}: timeout`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface Measured {
  /** Latencies (ms) of the measured answers that were 200. */
  ms: number[];
  /** Measured answers that were not 200, by "status reason" (mem0-gov's deny body names it). */
  failed: Map<string, number>;
}

function why(r: Reply): string {
  try {
    return `${r.status} ${String((JSON.parse(r.body) as { reason?: unknown }).reason ?? '')}`.trim();
  } catch {
    return String(r.status);
  }
}

/**
 * `warmup` then `n` rounds over `targets`. The first answer of each must be 200 (a broken setup is
 * not measured); later non-200 answers (a loaded machine missing a deadline) are counted, not
 * timed. Returns each target's measured rounds, by name.
 */
export async function alternate(targets: readonly HttpTarget[], path: string, token: string, body: string, warmup: number, n: number): Promise<Map<string, Measured>> {
  const payload = Buffer.from(body);
  const agents = targets.map((t) => new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(t.caFile) }));
  const out = new Map<string, Measured>(targets.map((t) => [t.name, { ms: [], failed: new Map() }]));
  try {
    for (let round = 0; round < warmup + n; round++) {
      for (const [i, t] of targets.entries()) {
        const r = await timed(agents[i]!, t.port, path, token, payload);
        if (round === 0 && r.status !== 200) throw new Error(`${t.name}: POST ${path} answered ${r.status}: ${r.body.slice(0, 300)}`);
        if (round < warmup) continue;
        const m = out.get(t.name)!;
        if (r.status === 200) m.ms.push(r.ms);
        else m.failed.set(why(r), (m.failed.get(why(r)) ?? 0) + 1);
      }
    }
  } finally {
    for (const a of agents) a.destroy();
  }
  return out;
}

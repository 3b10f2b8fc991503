// An open-loop load from h2load (nghttp2's C load generator, Debian's nghttp2-client, installed by
// scripts/bootstrap.sh): floods many times what the stack sustains without the load client
// eating the cores it measures — the Node client (testing/load.ts) spends about as much CPU per
// TLS request as Envoy does. h2load sees only statuses and times, not bodies: pair it with a
// small tracked load (testing/load.ts) when answers must be classified or checked in the trail.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface H2loadRequest {
  /** When it was sent, ms since the Unix epoch. */
  startMs: number;
  status: number;
  /** Until the whole answer arrived. */
  ms: number;
}

export interface H2loadOptions {
  /** Requested round-robin, one URL after the other. */
  urls: readonly string[];
  headers?: Readonly<Record<string, string>>;
  /** Requests per second in all. */
  rate: number;
  durationMs: number;
  /** Connections (HTTP/2 over TLS when the URL is https), each sending rate / clients per second. */
  clients?: number;
  /** Streams in flight per connection at most (h2load -m). */
  maxStreams?: number;
  /** Scheduling niceness of h2load (nice -n): the load generator stands for clients on other
   * machines, so on a shared box it should not take CPU the system under test needs. Default 10. */
  nice?: number;
}

/** Runs h2load; resolves once every request it sent is answered (or failed: status -1). */
export async function h2load(o: H2loadOptions): Promise<H2loadRequest[]> {
  const clients = o.clients ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'mem0gov-h2load-'));
  const log = join(dir, 'requests.tsv');
  const args = [
    '-c', String(clients), '-m', String(o.maxStreams ?? 50),
    // -n (not -D): h2load then waits for every answer instead of resetting the requests still in
    // flight at the end, which Envoy would count as neither allowed nor denied.
    '--rps', String(Math.max(1, o.rate / clients)), '-n', String(Math.max(clients, Math.round((o.rate * o.durationMs) / 1000))),
    '--log-file', log,
    ...Object.entries(o.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    ...o.urls,
  ];
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const p = spawn('nice', ['-n', String(o.nice ?? 10), 'h2load', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`h2load exited with ${code}: ${out.slice(-2000)}`))));
    });
    // Columns: start (µs since the epoch), status, duration (µs). Status -1: the request failed.
    const rows = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\t').map(Number));
    if (rows.length === 0) throw new Error(`h2load finished no request: ${output.slice(-2000)}`);
    return rows.map(([start, status, us]) => ({ startMs: start! / 1000, status: status!, ms: us! / 1000 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

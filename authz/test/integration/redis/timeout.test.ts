// withTimeout calls Redis slow only when its answer is really missing: after an event-loop stall
// the expired timer runs before the loop reads the socket, and an answer already there must win.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTimeoutError, withTimeout } from '../../../src/redis/script.js';

// An echo server in another process (as Redis is): its reply reaches our socket while this
// thread is busy. After each echo it creates a marker file, so the stall below lasts until the
// reply is surely in our socket, however slow the machine.
let server: ChildProcess;
let port: number;
const dir = mkdtempSync(join(tmpdir(), 'mem0gov-timeout-'));
const marker = join(dir, 'echoed');
beforeAll(async () => {
  server = spawn(process.execPath, ['-e', `
    const fs = require('node:fs');
    const s = require('node:net').createServer((c) => c.on('data', (d) => { c.write(d, () => fs.writeFileSync(process.argv[1], '')); }));
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`, marker], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise<number>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
});
afterAll(() => {
  server.kill();
  rmSync(dir, { recursive: true, force: true });
});

function echo(sock: Socket): Promise<string> {
  return new Promise((resolve) => {
    sock.once('data', (d) => resolve(d.toString()));
    sock.write('pong');
  });
}

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* the stall */ }
}

describe('withTimeout', () => {
  it('an answer that arrived during an event-loop stall longer than the timeout is the answer, not a timeout', async () => {
    const sock = connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    try {
      const answer = withTimeout(echo(sock), 20);
      // The stall: past the 20 ms timeout, and until the echo is in our socket.
      const t0 = Date.now();
      while ((Date.now() - t0 < 40 || !existsSync(marker)) && Date.now() - t0 < 10_000) { /* busy */ }
      expect(existsSync(marker)).toBe(true);
      await expect(answer).resolves.toBe('pong');
    } finally {
      sock.destroy();
    }
  });

  it('no answer: a RedisTimeoutError after the timeout', async () => {
    const never = new Promise<string>(() => undefined);
    const t0 = performance.now();
    await expect(withTimeout(never, 30)).rejects.toBeInstanceOf(RedisTimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
  });

  it('a stall with no answer is still a timeout', async () => {
    const never = new Promise<string>(() => undefined);
    const p = withTimeout(never, 10);
    busy(50);
    await expect(p).rejects.toBeInstanceOf(RedisTimeoutError);
  });
});

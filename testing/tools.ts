// Where scripts/bootstrap.sh put the tools, and a free-port helper shared by every harness.
import { createServer } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TOOLS_BIN = join(ROOT, '.tools', 'bin');
export const PG_BIN = join(ROOT, '.tools', 'pgbin');

export function tool(name: 'envoy' | 'opa'): string {
  const p = join(TOOLS_BIN, name);
  if (!existsSync(p)) throw new Error(`${p} missing: run \`npm run bootstrap\` (scripts/bootstrap.sh)`);
  return p;
}

// Ports for servers we start are drawn from below the kernel's ephemeral range: a port the
// kernel hands out for `listen(0)` can be taken by any outgoing connection (tests open many)
// between our check and the server's bind. Random draws keep parallel test workers apart.
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}
const PORT_LOW = 10_000;
const PORT_HIGH = ephemeralLow() - 1;
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free loopback TCP port outside the ephemeral range, not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${PORT_LOW}-${PORT_HIGH}`);
}

/** Polls `probe` until it returns true or `timeoutMs` passes. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}

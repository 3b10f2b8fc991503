// Dev TLS material for Envoy's listener, made at run time with the openssl CLI (never committed):
// a throwaway CA and a server certificate for localhost / 127.0.0.1, both EC P-256.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DevCerts {
  caFile: string;
  certFile: string;
  keyFile: string;
}

const DAYS = 30;
/** Regenerate when the server cert expires within this many seconds. */
const RENEW_WITHIN_S = 24 * 3600;

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

async function stillValid(certFile: string, cwd: string): Promise<boolean> {
  try {
    await run('openssl', ['x509', '-checkend', String(RENEW_WITHIN_S), '-noout', '-in', certFile], { cwd });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes ca.crt, server.crt, server.key into `dir` (created if needed). Reuses existing files
 * that are still valid for a day, so `npm run stack` keeps one CA across restarts.
 */
export async function generateDevCerts(dir: string): Promise<DevCerts> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const out: DevCerts = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
  if (existsSync(out.caFile) && existsSync(out.keyFile) && existsSync(out.certFile) && (await stillValid(out.certFile, dir))) {
    return out;
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', String(DAYS),
    '-subj', '/O=mem0-gov dev/CN=mem0-gov dev CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/O=mem0-gov dev/CN=localhost'], dir);
  await writeFile(join(dir, 'server.ext'), [
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    '',
  ].join('\n'));
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', String(DAYS), '-extfile', 'server.ext'], dir);
  await chmod(join(dir, 'ca.key'), 0o600);
  await chmod(out.keyFile, 0o600);
  // The CA key is only needed for this one signature.
  await rm(join(dir, 'ca.key'), { force: true });
  await rm(join(dir, 'server.csr'), { force: true });
  await rm(join(dir, 'server.ext'), { force: true });
  return out;
}

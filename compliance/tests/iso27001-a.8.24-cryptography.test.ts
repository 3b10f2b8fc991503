// ISO/IEC 27001:2022 A.8.24 use of cryptography: the edge negotiates only AEAD ciphers with
// forward secrecy (CBC suites refused), and audit checkpoints are Ed25519 signatures an auditor
// can check with nothing but the public key and audit/README.md (also HIPAA 164.312(e)(2)(i)
// integrity in transit and 164.312(c)(2) authentication of the record).
import { describe, expect, it } from 'vitest';
import { connect } from 'node:tls';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { run as audit } from '../../authz/src/cli/audit.js';
import { jcs } from './audit-spec.js';
import { useStack } from './helpers.js';

const c = useStack();

function tls12(ciphers: string): Promise<{ name: string; standardName: string } | string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: c.stack.envoy.port, servername: 'localhost', ca: readFileSync(c.stack.envoy.caFile), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers });
    s.once('secureConnect', () => { resolve(s.getCipher()); s.destroy(); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(`error:${e.code ?? e.message}`));
  });
}

describe('A.8.24 cryptography', () => {
  it('TLS 1.2 negotiates an AEAD suite with ECDHE; a client offering only CBC suites is refused', async () => {
    const negotiated = await tls12('DEFAULT');
    expect(typeof negotiated === 'object' && negotiated.standardName).toMatch(/^TLS_ECDHE_\w+_WITH_\w+_(GCM|POLY1305)_SHA\d+$/);
    expect(await tls12('ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA')).toBe('error:ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
  });

  it('checkpoint signatures verify as Ed25519 over the documented message, and not over another', async () => {
    await c.req({ path: '/memories?user_id=acme:a', token: await c.stack.token({ tenant: 'acme', roles: ['agent-reader'] }) });
    const r = await c.cli(audit, ['checkpoint']);
    expect(r.code, r.err).toBe(0);
    const pub = createPublicKey(readFileSync(c.stack.env.MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE!, 'utf8'));
    expect(pub.asymmetricKeyType).toBe('ed25519');
    const cps = await c.sql<{ chain_id: string; seq: string; hash: string; signature: string }>('SELECT chain_id, seq, hash, signature FROM audit.checkpoints');
    expect(cps.length).toBeGreaterThan(0);
    for (const cp of cps) {
      const msg = (seq: number): Buffer => Buffer.from(jcs({ chain_id: cp.chain_id, hash: cp.hash, seq }), 'utf8');
      expect(verify(null, msg(Number(cp.seq)), pub, Buffer.from(cp.signature, 'base64')), cp.chain_id).toBe(true);
      expect(verify(null, msg(Number(cp.seq) + 1), pub, Buffer.from(cp.signature, 'base64'))).toBe(false);
    }
  });
});

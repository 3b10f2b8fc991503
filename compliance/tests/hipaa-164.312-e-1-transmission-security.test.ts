// HIPAA 164.312(e)(1) transmission security: the agent edge is TLS ≥ 1.2 only (Envoy's real
// listener); TLS 1.0/1.1 and plaintext HTTP are refused.
import { describe, expect, it } from 'vitest';
import { connect, type SecureVersion } from 'node:tls';
import { readFileSync } from 'node:fs';
import { useStack } from './helpers.js';

const c = useStack();

/** The negotiated protocol, or the handshake error's code. */
function handshake(version: SecureVersion): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({
      host: '127.0.0.1', port: c.stack.envoy.port, servername: 'localhost', ca: readFileSync(c.stack.envoy.caFile),
      minVersion: version, maxVersion: version,
      // Node's default OpenSSL security level forbids TLS < 1.2 client-side; lower it so the
      // refusal we observe is Envoy's, not our own client's.
      ciphers: 'DEFAULT:@SECLEVEL=0',
    });
    s.once('secureConnect', () => { resolve(s.getProtocol() ?? 'unknown'); s.destroy(); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(`error:${e.code ?? e.message}`));
  });
}

describe('164.312(e)(1) transmission security', () => {
  it('TLS 1.2 and TLS 1.3 are accepted with a certificate the client verifies', async () => {
    expect(await handshake('TLSv1.2')).toBe('TLSv1.2');
    expect(await handshake('TLSv1.3')).toBe('TLSv1.3');
  });

  it('TLS 1.1 and TLS 1.0 are refused by Envoy', async () => {
        // A protocol_version alert received from the server: Envoy refused, not our client.
    expect(await handshake('TLSv1.1')).toBe('error:ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect(await handshake('TLSv1')).toBe('error:ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('plaintext HTTP on the edge port gets no HTTP answer', async () => {
    const answered = await fetch(`http://127.0.0.1:${c.stack.envoy.port}/memories`).then((r) => r.status, () => 0);
    expect(answered).toBe(0);
  });
});

// Signed checkpoints: Ed25519 over RFC 8785 canonical {"chain_id","hash","seq"} (audit/README.md).
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { jcs } from './jcs.js';
import { AuditError } from './row.js';

export interface Checkpoint {
  chain_id: string;
  seq: number;
  hash: string;
  /** base64 Ed25519 signature */
  signature: string;
  key_id: string;
  ts: string;
}

export interface CheckpointSigner {
  keyId: string;
  publicKeyPem: string;
  sign(chainId: string, seq: number, hash: string, ts: string): Checkpoint;
  /** Signs an archive boundary (audit.archives): base64 signature of archiveMessage. */
  signArchive(b: ArchiveStatement): string;
}

export function checkpointMessage(chainId: string, seq: number, hash: string): Buffer {
  return Buffer.from(jcs({ chain_id: chainId, seq, hash }), 'utf8');
}

/** What an archive boundary says: the chain's rows up to seq (hash) left the database; `before` is ISO. */
export interface ArchiveStatement { chain_id: string; seq: number; hash: string; before: string }

/**
 * RFC 8785 JSON of {"before","chain_id","hash","seq","type":"archive"}: a message of its own, so a
 * periodic checkpoint's signature can never pass for an archive boundary.
 */
export function archiveMessage(b: ArchiveStatement): Buffer {
  return Buffer.from(jcs({ before: b.before, chain_id: b.chain_id, hash: b.hash, seq: b.seq, type: 'archive' }), 'utf8');
}

/** key_id = first 16 hex chars of SHA-256 over the public key's SPKI DER. */
export function keyIdOf(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function loadSigner(privatePem: string): CheckpointSigner {
  let key: KeyObject;
  try {
    key = createPrivateKey(privatePem);
  } catch {
    throw new AuditError('checkpoint_key_invalid', 'checkpoint key is not a readable PKCS8 PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AuditError('checkpoint_key_invalid', 'checkpoint key must be Ed25519');
  const pub = createPublicKey(key);
  const keyId = keyIdOf(pub);
  return {
    keyId,
    publicKeyPem: pub.export({ type: 'spki', format: 'pem' }).toString(),
    sign(chainId, seq, hash, ts) {
      const signature = sign(null, checkpointMessage(chainId, seq, hash), key).toString('base64');
      return { chain_id: chainId, seq, hash, signature, key_id: keyId, ts };
    },
    signArchive(b) {
      return sign(null, archiveMessage(b), key).toString('base64');
    },
  };
}

export interface CheckpointVerifier {
  keyId: string;
  verify(cp: Checkpoint): boolean;
  verifyArchive(b: ArchiveStatement, signature: string): boolean;
}

export function loadVerifier(publicPem: string): CheckpointVerifier {
  let pub: KeyObject;
  try {
    pub = createPublicKey(publicPem);
  } catch {
    throw new AuditError('checkpoint_key_invalid', 'public key is not a readable PEM');
  }
  if (pub.asymmetricKeyType !== 'ed25519') throw new AuditError('checkpoint_key_invalid', 'public key must be Ed25519');
  const keyId = keyIdOf(pub);
  return {
    keyId,
    verify(cp) {
      if (cp.key_id !== keyId) return false;
      try {
        return verify(null, checkpointMessage(cp.chain_id, cp.seq, cp.hash), pub, Buffer.from(cp.signature, 'base64'));
      } catch {
        return false;
      }
    },
    verifyArchive(b, signature) {
      try {
        return verify(null, archiveMessage(b), pub, Buffer.from(signature, 'base64'));
      } catch {
        return false;
      }
    },
  };
}

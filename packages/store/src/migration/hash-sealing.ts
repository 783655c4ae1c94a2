import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { MeridianError, type TransferSealing } from '@meridian/core';

// Password hashes travel in a tenant transfer file sealed for ONE receiving hub (hybrid encryption): a 256-bit data
// key per file, agreed by X25519 with an ephemeral key (then HKDF-SHA256) or wrapped with RSA-OAEP-256, and each hash
// sealed under it with AES-256-GCM, the user id bound as associated data so that a hash cannot be moved to another
// account of the file. Only the holder of the receiving hub's private key opens them.

/** X25519 key agreement with an ephemeral key, HKDF-SHA256, AES-256-GCM. */
export const X25519_SEALING = 'X25519-HKDF-SHA256-A256GCM';
/** A random data key wrapped with RSA-OAEP (SHA-256), AES-256-GCM. */
export const RSA_SEALING = 'RSA-OAEP-256-A256GCM';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The id of a public key: the SHA-256 (hex) of its SubjectPublicKeyInfo DER, as `import-key` prints it. */
export function transferKeyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

function info(algorithm: string, keyId: string, ephemeral: string): Buffer {
  return Buffer.from(`meridian-tenant-transfer:v1:${algorithm}:${keyId}:${ephemeral}`, 'utf8');
}

function x25519Key(privateKey: KeyObject, publicKey: KeyObject, salt: Buffer, context: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', diffieHellman({ privateKey, publicKey }), salt, context, 32));
}

function aad(userId: string): Buffer {
  return Buffer.from(`password-hash:${userId}`, 'utf8');
}

/** Seals the password hashes of one export for the receiving hub's public key. */
export class HashSealer {
  private constructor(
    private readonly key: Buffer,
    /** What the header carries so that the receiving hub derives the same data key. */
    readonly sealing: TransferSealing,
  ) {}

  /** A sealer for the public key in `pem` (X25519 or RSA of at least 2048 bits); INVALID_INPUT for anything else. */
  static forPublicKey(pem: string): HashSealer {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(pem);
    } catch {
      throw new MeridianError('INVALID_INPUT', 'The --seal-for file is not a PEM public key.', { field: 'sealFor' });
    }
    const keyId = transferKeyIdOf(publicKey);
    if (publicKey.asymmetricKeyType === 'x25519') {
      const ephemeral = generateKeyPairSync('x25519');
      const ephemeralKey = ephemeral.publicKey.export({ type: 'spki', format: 'der' }).toString('base64url');
      const salt = randomBytes(32);
      const key = x25519Key(ephemeral.privateKey, publicKey, salt, info(X25519_SEALING, keyId, ephemeralKey));
      return new HashSealer(key, { algorithm: X25519_SEALING, keyId, ephemeralKey, salt: salt.toString('base64url') });
    }
    if (publicKey.asymmetricKeyType === 'rsa' && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) {
      const key = randomBytes(32);
      const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, key);
      return new HashSealer(key, { algorithm: RSA_SEALING, keyId, wrappedKey: wrapped.toString('base64url') });
    }
    throw new MeridianError('INVALID_INPUT', 'The --seal-for key must be an X25519 key or an RSA key of 2048 bits or more.', {
      field: 'sealFor',
    });
  }

  /** `hash` sealed for the receiving hub, bound to `userId`: base64url of IV, ciphertext and tag. */
  seal(userId: string, hash: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(userId));
    return Buffer.concat([iv, cipher.update(hash, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64url');
  }
}

/** Opens the hashes of one file with this hub's private key. */
export class HashOpener {
  private readonly key: Buffer;

  /** INVALID_INPUT when the file was sealed for another key or with an unknown algorithm. */
  constructor(sealing: TransferSealing, privateKey: KeyObject, keyId: string) {
    if (sealing.keyId !== keyId) {
      throw new MeridianError('INVALID_INPUT', `The file's password hashes are sealed for another hub's key (${sealing.keyId}).`, {
        field: 'in',
      });
    }
    if (sealing.algorithm === X25519_SEALING && typeof sealing.ephemeralKey === 'string' && typeof sealing.salt === 'string') {
      const ephemeral = createPublicKey({ key: Buffer.from(sealing.ephemeralKey, 'base64url'), format: 'der', type: 'spki' });
      this.key = x25519Key(
        privateKey,
        ephemeral,
        Buffer.from(sealing.salt, 'base64url'),
        info(X25519_SEALING, keyId, sealing.ephemeralKey),
      );
    } else if (sealing.algorithm === RSA_SEALING && typeof sealing.wrappedKey === 'string') {
      this.key = privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from(sealing.wrappedKey, 'base64url'),
      );
    } else {
      throw new MeridianError('INVALID_INPUT', `Unknown sealing '${sealing.algorithm}'.`, { field: 'in' });
    }
  }

  /** The hash sealed for `userId`; INVALID_INPUT when it was altered or belongs to another user. */
  open(userId: string, sealed: string): string {
    const bytes = Buffer.from(sealed, 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES)
      throw new MeridianError('INVALID_INPUT', `The password hash of ${userId} is malformed.`, { field: 'in' });
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(userId));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new MeridianError(
        'INVALID_INPUT',
        `The password hash of ${userId} fails authentication: altered, or sealed for another user.`,
        {
          field: 'in',
        },
      );
    }
  }
}

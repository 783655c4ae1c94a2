import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AuditCheckpoint } from '@meridian/core';
import canonicalize from 'canonicalize';

/** The file under the data directory that holds a generated signing key (PKCS#8 PEM, mode 0600). */
export const AUDIT_SIGNING_KEY_FILE = 'audit-signing-key.pem';

/** A signing key that cannot be used; the message never contains key material. */
export class AuditKeyError extends Error {
  override name = 'AuditKeyError';
}

/** The Ed25519 key pair that signs audit checkpoints. */
export interface AuditSigningKey {
  /** The first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as SPKI PEM, for export. */
  publicPem: string;
  /** `SHA256:<base64>` of the public key (SPKI DER), as logged on start. */
  fingerprint: string;
}

// RFC 8410 §7: a PKCS#8 Ed25519 private key is this fixed prefix followed by the 32-byte seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function spkiDer(publicKey: KeyObject): Buffer {
  return publicKey.export({ format: 'der', type: 'spki' });
}

/** The key id of an Ed25519 public key: the first 16 hex digits of SHA-256 over its SPKI DER. */
export function auditKeyId(publicKey: KeyObject): string {
  return createHash('sha256').update(spkiDer(publicKey)).digest('hex').slice(0, 16);
}

function fromPrivateKey(privateKey: KeyObject): AuditSigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AuditKeyError('The audit signing key must be an Ed25519 key.');
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: auditKeyId(publicKey),
    privateKey,
    publicKey,
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    fingerprint: `SHA256:${createHash('sha256').update(spkiDer(publicKey)).digest('base64')}`,
  };
}

/**
 * Reads `MERIDIAN_AUDIT_SIGNING_KEY`: an Ed25519 private key as PKCS#8 PEM
 * (literal `\n` sequences are accepted for one-line environments) or the
 * base64 (or base64url) of its 32-byte seed.
 */
export function parseAuditSigningKey(text: string): AuditSigningKey {
  const trimmed = text.trim().replace(/\\n/g, '\n');
  if (trimmed.includes('-----BEGIN')) {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: trimmed, format: 'pem' });
    } catch {
      throw new AuditKeyError('The audit signing key is not a readable PKCS#8 PEM private key.');
    }
    return fromPrivateKey(privateKey);
  }
  const seed = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (seed.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new AuditKeyError('The audit signing key must be a PKCS#8 PEM Ed25519 key or the base64 of a 32-byte seed.');
  }
  return fromPrivateKey(createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' }));
}

/** A new random Ed25519 signing key. */
export function generateAuditSigningKey(): AuditSigningKey {
  return fromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

/** The private key as PKCS#8 PEM (what the generated key file holds). */
export function formatAuditSigningKey(key: AuditSigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Reads an SPKI PEM public key (an exported checkpoint list's `publicKey`). */
export function parseAuditPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new AuditKeyError('The public key is not a readable SPKI PEM key.');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AuditKeyError('The public key must be an Ed25519 key.');
  return key;
}

/** The bytes a checkpoint signature covers: RFC 8785 canonical JSON of `{chain, seq, hash, createdAt, keyId}`. */
export function checkpointPayload(checkpoint: Pick<AuditCheckpoint, 'chain' | 'seq' | 'hash' | 'createdAt' | 'keyId'>): Buffer {
  const fields = {
    chain: checkpoint.chain,
    seq: checkpoint.seq,
    hash: checkpoint.hash,
    createdAt: checkpoint.createdAt.toISOString(),
    keyId: checkpoint.keyId,
  };
  return Buffer.from(canonicalize(fields) ?? '', 'utf8');
}

/** Signs a checkpoint; returns the base64 signature. */
export function signCheckpoint(key: AuditSigningKey, checkpoint: Omit<AuditCheckpoint, 'signature' | 'keyId'>): AuditCheckpoint {
  const unsigned = { ...checkpoint, keyId: key.keyId };
  return { ...unsigned, signature: sign(null, checkpointPayload(unsigned), key.privateKey).toString('base64') };
}

/** True when the checkpoint's signature verifies with `publicKey`. */
export function verifyCheckpointSignature(publicKey: KeyObject, checkpoint: AuditCheckpoint): boolean {
  try {
    return verify(null, checkpointPayload(checkpoint), publicKey, Buffer.from(checkpoint.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Where the audit log gets its keys; loaded on first use, so that commands that never sign touch no file. */
export interface AuditKeyring {
  /** The key that signs new checkpoints (generated into the data directory on first use when none is configured). */
  signer(): Promise<AuditSigningKey>;
  /** The signing key when there is one; never generates one. */
  current(): Promise<AuditSigningKey | undefined>;
  /** The public keys that verify checkpoints, by key id; never generates a key. */
  verifiers(): Promise<ReadonlyMap<string, KeyObject>>;
}

/** Options of {@link openAuditKeyring}. */
export interface AuditKeyringOptions {
  /** `MERIDIAN_AUDIT_SIGNING_KEY`, when set: it wins over the key file. */
  configured?: string | undefined;
  /** Where a generated key is kept (`<dataDir>/audit-signing-key.pem`, mode 0600). */
  dataDir: string;
  log?: (message: string) => void;
}

async function readKeyFile(path: string): Promise<AuditSigningKey | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new AuditKeyError(`${path} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it.`);
  return parseAuditSigningKey(text);
}

/**
 * The keyring of a hub: `MERIDIAN_AUDIT_SIGNING_KEY` when set; otherwise
 * `<dataDir>/audit-signing-key.pem`, generated (mode 0600) the first time a
 * checkpoint is signed. A key file that others may read is refused.
 */
export function openAuditKeyring(options: AuditKeyringOptions): AuditKeyring {
  const path = join(resolve(options.dataDir), AUDIT_SIGNING_KEY_FILE);
  let cached: AuditSigningKey | undefined;
  const load = async (create: boolean): Promise<AuditSigningKey | undefined> => {
    if (cached) return cached;
    if (options.configured !== undefined && options.configured.trim() !== '') {
      cached = parseAuditSigningKey(options.configured);
      return cached;
    }
    cached = (await readKeyFile(path)) ?? (create ? await generate() : undefined);
    return cached;
  };
  const generate = async (): Promise<AuditSigningKey> => {
    await mkdir(resolve(options.dataDir), { recursive: true, mode: 0o700 });
    const key = generateAuditSigningKey();
    try {
      // 'wx': two processes starting at once never overwrite each other's key.
      await writeFile(path, formatAuditSigningKey(key), { mode: 0o600, flag: 'wx' });
      await chmod(path, 0o600);
      options.log?.(
        `Generated the audit checkpoint signing key ${key.keyId} (${key.fingerprint}) in ${path} (mode 0600); back it up, or set MERIDIAN_AUDIT_SIGNING_KEY.`,
      );
      return key;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const existing = await readKeyFile(path);
      if (!existing) throw error;
      return existing;
    }
  };
  return {
    async signer() {
      const key = await load(true);
      if (!key) throw new AuditKeyError('No audit signing key.');
      return key;
    },
    current: () => load(false),
    async verifiers() {
      const key = await load(false);
      return new Map(key ? [[key.keyId, key.publicKey]] : []);
    },
  };
}

/** A keyring around one fixed key (tests, or a key held elsewhere); without a key it can verify nothing and sign nothing. */
export function staticAuditKeyring(key: AuditSigningKey | undefined, alsoTrusted: readonly KeyObject[] = []): AuditKeyring {
  const trusted = new Map<string, KeyObject>(alsoTrusted.map((k) => [auditKeyId(k), k]));
  if (key) trusted.set(key.keyId, key.publicKey);
  return {
    async signer() {
      if (!key) throw new AuditKeyError('No audit signing key.');
      return key;
    },
    current: async () => key,
    async verifiers() {
      return trusted;
    },
  };
}

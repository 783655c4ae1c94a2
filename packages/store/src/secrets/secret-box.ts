import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Why a secret could not be opened; callers switch on it. */
export type SecretBoxErrorCode = 'MALFORMED' | 'UNKNOWN_KEY' | 'DECRYPTION_FAILED' | 'INVALID_KEYS';

/**
 * A secret could not be sealed or opened. The message never carries the
 * plaintext, the ciphertext or key material.
 */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError';

  constructor(
    readonly code: SecretBoxErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** One data-encryption key: an id written into every envelope, and 32 random bytes. */
export interface SecretKey {
  id: string;
  key: Buffer;
}

const VERSION = 'v1';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Parses `keyId:base64,keyId:base64,...` (standard or URL-safe base64 of 32
 * bytes each). The first key encrypts; every key decrypts.
 *
 * @example
 * parseSecretKeys('k2:3q2+7w...=,k1:AAEC...=')
 */
export function parseSecretKeys(text: string): SecretKey[] {
  const entries = text
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '' && !e.startsWith('#'));
  if (entries.length === 0) throw new SecretBoxError('INVALID_KEYS', 'No secret key given: expected keyId:base64-of-32-bytes.');
  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const cut = entry.indexOf(':');
    const id = cut < 0 ? '' : entry.slice(0, cut);
    const material = cut < 0 ? '' : entry.slice(cut + 1);
    // Key material is never echoed: a message names the entry by position and id only.
    if (!KEY_ID.test(id)) {
      throw new SecretBoxError('INVALID_KEYS', `Secret key #${index + 1}: the id must be 1-32 of A-Z a-z 0-9 _ -, followed by ':'.`);
    }
    if (seen.has(id)) throw new SecretBoxError('INVALID_KEYS', `Secret key id '${id}' appears twice.`);
    seen.add(id);
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(material) ? Buffer.from(material, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) throw new SecretBoxError('INVALID_KEYS', `Secret key '${id}' must be base64 of exactly 32 random bytes.`);
    return { id, key };
  });
}

/** Renders keys in the `MERIDIAN_SECRET_KEYS` format. */
export function formatSecretKeys(keys: SecretKey[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
}

/** A new random key, its id derived from the current time so ids sort by age. */
export function generateSecretKey(now: Date = new Date()): SecretKey {
  return { id: `k${now.toISOString().slice(0, 10).replaceAll('-', '')}${randomBytes(3).toString('hex')}`, key: randomBytes(32) };
}

/**
 * AES-256-GCM envelope encryption for secrets at rest (connector credentials).
 *
 * An envelope reads `v1:<keyId>:<iv>:<ciphertext+tag>` (base64url). The
 * version, the key id and an optional caller context are bound as associated
 * data, so an envelope cannot be moved to another key id or another field
 * without failing authentication. Rotation: put a new key first; the old
 * ones keep decrypting until {@link SecretBox.reencrypt} has rewritten
 * everything.
 *
 * @example
 * const box = new SecretBox(parseSecretKeys(process.env.MERIDIAN_SECRET_KEYS));
 * const sealed = box.encrypt('s3cret', 'connector:42:password');
 * box.decrypt(sealed, 'connector:42:password'); // 's3cret'
 */
export class SecretBox {
  private readonly byId: Map<string, Buffer>;
  private readonly current: SecretKey;

  constructor(keys: SecretKey[]) {
    const [first] = keys;
    if (!first) throw new TypeError('SecretBox needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new TypeError(`SecretBox key '${k.id}' is not 32 bytes`);
      if (!KEY_ID.test(k.id)) throw new TypeError(`SecretBox key id '${k.id}' is not valid`);
    }
    this.current = first;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id of the key new envelopes are sealed with. */
  get currentKeyId(): string {
    return this.current.id;
  }

  /** Seals `plaintext` under the current key; `context` (e.g. `connector:<id>:password`) must be given again to open it. */
  encrypt(plaintext: string, context = ''): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(this.current.id, context));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}:${this.current.id}:${iv.toString('base64url')}:${sealed.toString('base64url')}`;
  }

  /** Opens an envelope; throws {@link SecretBoxError} when it is malformed, its key is unknown or it was altered. */
  decrypt(envelope: string, context = ''): string {
    const { keyId, iv, sealed } = parseEnvelope(envelope);
    const key = this.byId.get(keyId);
    if (!key) throw new SecretBoxError('UNKNOWN_KEY', `The secret was sealed with key '${keyId}', which is not configured.`);
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(keyId, context));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('DECRYPTION_FAILED', `The secret sealed with key '${keyId}' failed authentication: wrong key or altered.`);
    }
  }

  /** True when `envelope` is sealed with another key than the current one. */
  needsReencryption(envelope: string): boolean {
    return parseEnvelope(envelope).keyId !== this.current.id;
  }

  /** Rewrites an envelope under the current key; one already under it comes back unchanged. */
  reencrypt(envelope: string, context = ''): string {
    if (!this.needsReencryption(envelope)) {
      this.decrypt(envelope, context);
      return envelope;
    }
    return this.encrypt(this.decrypt(envelope, context), context);
  }
}

function associatedData(keyId: string, context: string): Buffer {
  return Buffer.from(`${VERSION}:${keyId}:${context}`, 'utf8');
}

function parseEnvelope(envelope: string): { keyId: string; iv: Buffer; sealed: Buffer } {
  const parts = typeof envelope === 'string' ? envelope.split(':') : [];
  const [version, keyId, iv, sealed] = parts;
  if (
    parts.length !== 4 ||
    version !== VERSION ||
    keyId === undefined ||
    !KEY_ID.test(keyId) ||
    iv === undefined ||
    !B64URL.test(iv) ||
    sealed === undefined ||
    !B64URL.test(sealed)
  ) {
    throw new SecretBoxError('MALFORMED', `Not a ${VERSION} secret envelope.`);
  }
  const ivBytes = Buffer.from(iv, 'base64url');
  const sealedBytes = Buffer.from(sealed, 'base64url');
  if (ivBytes.length !== IV_BYTES || sealedBytes.length < TAG_BYTES)
    throw new SecretBoxError('MALFORMED', `Not a ${VERSION} secret envelope.`);
  return { keyId, iv: ivBytes, sealed: sealedBytes };
}

/** The file under the data directory that holds generated keys. */
export const SECRET_KEYS_FILE = 'secret-keys';

/** Options of {@link openSecretBox}. */
export interface OpenSecretBoxOptions {
  /** `MERIDIAN_SECRET_KEYS`, when set: it wins over the key file. */
  configured?: string | undefined;
  /** Where a generated key file is kept (`<dataDir>/secret-keys`, mode 0600). */
  dataDir: string;
  log?: (message: string) => void;
}

/**
 * The secret box of a hub: from `MERIDIAN_SECRET_KEYS` when set; otherwise
 * from `<dataDir>/secret-keys`, generated with one random key (mode 0600) on
 * first start. A key file that others may read is refused.
 */
export async function openSecretBox(options: OpenSecretBoxOptions): Promise<SecretBox> {
  if (options.configured !== undefined && options.configured.trim() !== '') return new SecretBox(parseSecretKeys(options.configured));
  const root = resolve(options.dataDir);
  const path = join(root, SECRET_KEYS_FILE);
  await mkdir(root, { recursive: true, mode: 0o700 });
  try {
    // 'wx': two processes starting at once never overwrite each other's key.
    await writeFile(path, `${formatSecretKeys([generateSecretKey()])}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600);
    options.log?.(`Generated a secret key in ${path} (mode 0600); back it up, or set MERIDIAN_SECRET_KEYS.`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SecretBoxError('INVALID_KEYS', `${path} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it.`);
  }
  return new SecretBox(parseSecretKeys(await readFile(path, 'utf8')));
}

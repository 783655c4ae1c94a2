import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  formatSecretKeys,
  generateSecretKey,
  openSecretBox,
  parseSecretKeys,
  SECRET_KEYS_FILE,
  SecretBox,
  SecretBoxError,
  type SecretKey,
} from './secret-box.js';

const key = (id: string): SecretKey => ({ id, key: randomBytes(32) });

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretBoxError);
    return (error as SecretBoxError).code;
  }
  return undefined;
}

/** Flips one bit of the base64url segment at `index` of an envelope. */
function flip(envelope: string, index: number): string {
  const parts = envelope.split(':');
  const bytes = Buffer.from(parts[index] as string, 'base64url');
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
  parts[index] = bytes.toString('base64url');
  return parts.join(':');
}

describe('SecretBox', () => {
  it('seals to v1:<keyId>:<iv>:<ciphertext+tag> and opens it again', () => {
    const box = new SecretBox([key('k1')]);
    const sealed = box.encrypt('correct horse battery staple');
    expect(sealed).toMatch(/^v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('horse');
    expect(box.decrypt(sealed)).toBe('correct horse battery staple');
    // A fresh IV each time: the same plaintext never seals to the same envelope.
    expect(box.encrypt('correct horse battery staple')).not.toBe(sealed);
  });

  it('round-trips the empty string and non-ASCII text', () => {
    const box = new SecretBox([key('k1')]);
    for (const text of ['', 'pässwörd ✓ 密码', 'x'.repeat(10_000)]) expect(box.decrypt(box.encrypt(text))).toBe(text);
  });

  it('answers DECRYPTION_FAILED when the ciphertext, the tag or the IV is altered', () => {
    const box = new SecretBox([key('k1')]);
    const sealed = box.encrypt('secret');
    expect(codeOf(() => box.decrypt(flip(sealed, 3)))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => box.decrypt(flip(sealed, 2)))).toBe('DECRYPTION_FAILED');
    const [v, id, iv, body] = sealed.split(':') as [string, string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    bytes[0] = (bytes[0] as number) ^ 0x80;
    expect(codeOf(() => box.decrypt([v, id, iv, bytes.toString('base64url')].join(':')))).toBe('DECRYPTION_FAILED');
  });

  it('answers DECRYPTION_FAILED when the key id is swapped for another configured key', () => {
    const box = new SecretBox([key('k2'), key('k1')]);
    const sealed = box.encrypt('secret');
    expect(codeOf(() => box.decrypt(sealed.replace(/^v1:k2:/, 'v1:k1:')))).toBe('DECRYPTION_FAILED');
  });

  it('binds the context: an envelope moved to another field does not open', () => {
    const box = new SecretBox([key('k1')]);
    const sealed = box.encrypt('secret', 'connector:1:password');
    expect(box.decrypt(sealed, 'connector:1:password')).toBe('secret');
    expect(codeOf(() => box.decrypt(sealed, 'connector:2:password'))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => box.decrypt(sealed))).toBe('DECRYPTION_FAILED');
  });

  it('answers DECRYPTION_FAILED under the wrong key with the same id, and UNKNOWN_KEY for an id not configured', () => {
    const sealed = new SecretBox([key('k1')]).encrypt('secret');
    expect(codeOf(() => new SecretBox([key('k1')]).decrypt(sealed))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => new SecretBox([key('k9')]).decrypt(sealed))).toBe('UNKNOWN_KEY');
  });

  it('answers MALFORMED to anything that is not an envelope, without echoing it', () => {
    const box = new SecretBox([key('k1')]);
    for (const bad of [
      '',
      'secret',
      'v2:k1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA',
      'v1:k1:short:AAAAAAAAAAAAAAAAAAAAAA',
      'v1:k1:AAAAAAAAAAAAAAAA:AAAA',
      'v1:k1:a+b:c',
    ]) {
      expect(codeOf(() => box.decrypt(bad))).toBe('MALFORMED');
    }
    try {
      box.decrypt('v1:k1:hunter2hunter2:x');
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('rotates: the first key seals, older keys still open, reencrypt moves an envelope to the current key', () => {
    const old = key('k1');
    const sealedOld = new SecretBox([old]).encrypt('secret', 'ctx');
    const next = key('k2');
    const rotated = new SecretBox([next, old]);
    expect(rotated.currentKeyId).toBe('k2');
    expect(rotated.decrypt(sealedOld, 'ctx')).toBe('secret');
    expect(rotated.needsReencryption(sealedOld)).toBe(true);
    const moved = rotated.reencrypt(sealedOld, 'ctx');
    expect(moved.startsWith('v1:k2:')).toBe(true);
    expect(rotated.needsReencryption(moved)).toBe(false);
    expect(rotated.reencrypt(moved, 'ctx')).toBe(moved);
    // Once everything is rewritten, the old key can go.
    const withoutOld = new SecretBox(parseSecretKeys(formatSecretKeys([next])));
    expect(withoutOld.decrypt(moved, 'ctx')).toBe('secret');
    expect(codeOf(() => withoutOld.decrypt(sealedOld, 'ctx'))).toBe('UNKNOWN_KEY');
  });

  it('refuses to re-encrypt an altered envelope', () => {
    const old = key('k1');
    const sealed = new SecretBox([old]).encrypt('secret');
    expect(codeOf(() => new SecretBox([key('k2'), old]).reencrypt(flip(sealed, 3)))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => new SecretBox([old]).reencrypt(flip(sealed, 3)))).toBe('DECRYPTION_FAILED');
  });
});

describe('parseSecretKeys', () => {
  const b64 = randomBytes(32).toString('base64');

  it('reads keyId:base64 entries, standard or URL-safe, in order', () => {
    const url = randomBytes(32).toString('base64url');
    const keys = parseSecretKeys(` k2:${b64} , k1:${url}`);
    expect(keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(keys[1]?.key.toString('base64url')).toBe(url);
  });

  it('answers INVALID_KEYS for a short key, a bad id, a duplicate id or nothing, without echoing key material', () => {
    const short = randomBytes(16).toString('base64');
    for (const bad of ['', ' , ', `k1:${short}`, `k 1:${b64}`, b64, `k1:${b64},k1:${b64}`, `k1:${b64}!`]) {
      let caught: unknown;
      try {
        parseSecretKeys(bad);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(SecretBoxError);
      expect((caught as SecretBoxError).code).toBe('INVALID_KEYS');
      expect((caught as Error).message).not.toContain(b64);
      expect((caught as Error).message).not.toContain(short);
    }
  });

  it('generates keys that parse back', () => {
    const generated = generateSecretKey(new Date('2026-03-04T00:00:00Z'));
    expect(generated.id).toMatch(/^k20260304[0-9a-f]{6}$/);
    expect(parseSecretKeys(formatSecretKeys([generated]))[0]?.key.equals(generated.key)).toBe(true);
  });
});

describe('openSecretBox', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-secrets-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('prefers MERIDIAN_SECRET_KEYS and writes no file', async () => {
    const dir = await tempDir();
    const configured = formatSecretKeys([key('env1')]);
    const box = await openSecretBox({ configured, dataDir: dir });
    expect(box.currentKeyId).toBe('env1');
    await expect(stat(join(dir, SECRET_KEYS_FILE))).rejects.toThrow();
  });

  it('generates a key file with mode 0600 on first start and reuses it afterwards', async () => {
    const dir = join(await tempDir(), 'data');
    const messages: string[] = [];
    const first = await openSecretBox({ dataDir: dir, log: (m) => messages.push(m) });
    const path = join(dir, SECRET_KEYS_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(messages.join('\n')).not.toContain((await readFile(path, 'utf8')).split(':')[1]?.trim());
    const sealed = first.encrypt('secret');
    const second = await openSecretBox({ dataDir: dir });
    expect(second.currentKeyId).toBe(first.currentKeyId);
    expect(second.decrypt(sealed)).toBe('secret');
  });

  it('refuses a key file others may read', async () => {
    const dir = await tempDir();
    await openSecretBox({ dataDir: dir });
    await chmod(join(dir, SECRET_KEYS_FILE), 0o644);
    await expect(openSecretBox({ dataDir: dir })).rejects.toMatchObject({ code: 'INVALID_KEYS' });
  });
});

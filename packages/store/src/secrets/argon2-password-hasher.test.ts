import { describe, expect, it } from '@jest/globals';
import { Argon2PasswordHasher } from './argon2-password-hasher.js';

describe('Argon2PasswordHasher', () => {
  const hasher = new Argon2PasswordHasher();

  it('writes argon2id PHC strings with the OWASP parameters', async () => {
    const hash = await hasher.hash('s3cret-Passw0rd');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await expect(hasher.verify(hash, 's3cret-Passw0rd')).resolves.toBe(true);
    await expect(hasher.verify(hash, 's3cret-passw0rd')).resolves.toBe(false);
  });

  // Regression (issue 11): the `argon2` package compiled C++ at install time and broke fresh installs.
  // Its replacement must keep verifying the hashes it wrote; this one was made by argon2@0.45.1.
  it('verifies hashes written by the former argon2 package', async () => {
    const legacy = '$argon2id$v=19$m=19456,p=1,t=2$5uCdZ7ZRtq3XLl9t1VvYOQ$o/TqJB+HnjlxlnunLMXKtiBb9AC6mszUBk2mkxe509I';
    await expect(hasher.verify(legacy, 'correct horse battery staple')).resolves.toBe(true);
    await expect(hasher.verify(legacy, 'correct horse battery stapler')).resolves.toBe(false);
  });

  it('treats a malformed hash as a mismatch, not an error', async () => {
    await expect(hasher.verify('not-a-hash', 'anything')).resolves.toBe(false);
  });
});

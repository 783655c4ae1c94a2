import type { PasswordHasher } from '@meridian/core';
import { hash, verify } from '@node-rs/argon2';

/** `Algorithm.Argon2id`: a `const enum` in the package's types, which `verbatimModuleSyntax` cannot import. */
const ARGON2ID = 2;

/**
 * Hashes passwords with argon2id (OWASP parameters: 19 MiB, 2 iterations).
 * `@node-rs/argon2` ships prebuilt binaries for every platform (and a
 * WebAssembly fallback), so installing the hub never compiles native code; it
 * reads and writes the standard PHC string, so hashes written by the former
 * `argon2` package keep verifying.
 */
export class Argon2PasswordHasher implements PasswordHasher {
  hash(password: string): Promise<string> {
    return hash(password, { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  }

  /** True when `password` matches `hash`; a malformed hash is a mismatch, never an error. */
  async verify(encoded: string, password: string): Promise<boolean> {
    try {
      return await verify(encoded, password);
    } catch {
      return false;
    }
  }
}

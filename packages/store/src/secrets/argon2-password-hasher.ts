import type { PasswordHasher } from '@meridian/core';
import argon2 from 'argon2';

/** Hashes passwords with argon2id (OWASP parameters: 19 MiB, 2 iterations). */
export class Argon2PasswordHasher implements PasswordHasher {
  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  }

  /** True when `password` matches `hash`. */
  verify(hash: string, password: string): Promise<boolean> {
    return argon2.verify(hash, password);
  }
}

import { findPgError } from '../orm/database-errors.js';

/**
 * A User read without a lock changed (or went) before the work that read it could write: the directory store does
 * the work again from a new read (ADR 0039). It never leaves the store.
 */
export class StaleRead extends Error {
  constructor(options?: ErrorOptions) {
    super('The User changed since it was read.', options);
    this.name = 'StaleRead';
  }
}

/** `meridian_update_in_tenant` refused the statement: the row was no longer at the version read (SQLSTATE MRD01). */
export function isStaleWrite(error: unknown): boolean {
  return findPgError(error)?.code === 'MRD01';
}

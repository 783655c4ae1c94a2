import { type Clock, type DirectoryTransaction, type PasswordForwarding, pendingPasswordContext } from '@meridian/core';
import { v7 as uuidv7 } from 'uuid';
import { entityManagerOf } from '../directory/postgres-directory-store.js';
import { pgArray } from '../orm/sql.js';

/** Seals and opens secrets (the store's `SecretBox`). */
export interface SecretSealer {
  encrypt(plaintext: string, context?: string): string;
  decrypt(ciphertext: string, context?: string): string;
}

/** How long an undelivered password is kept (sealed) before it is erased. */
export const PENDING_PASSWORD_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Keeps a clear password, sealed, for the tenant's targets that accept
 * passwords (`push_passwords`), in the transaction of the write that set it.
 * Nothing is kept when no target takes passwords.
 */
export class PostgresPasswordForwarding implements PasswordForwarding {
  constructor(
    private readonly sealer: SecretSealer,
    private readonly clock: Clock,
    private readonly ttlMs = PENDING_PASSWORD_TTL_MS,
  ) {}

  async forward(tx: DirectoryTransaction, tenantId: string, userId: string, version: number, password: string): Promise<void> {
    // The row is written in the directory write's own transaction: it commits or rolls back with the write.
    const em = await entityManagerOf(tx);
    if (!em.isInTransaction()) throw new TypeError('PasswordForwarding.forward runs inside the write transaction.');
    const targets = await em.execute<{ id: string }[]>(
      'select id from replication_target where tenant_id = ? and enabled and (retire_at is null or retire_at > now()) and push_passwords order by id',
      [tenantId],
    );
    if (targets.length === 0) return;
    const now = this.clock.now();
    await em.execute(
      `insert into pending_password (id, tenant_id, user_id, resource_version, ciphertext, targets, created_at, expires_at)
       values (?, ?, ?, ?, ?, ?::uuid[], ?, ?)`,
      [
        uuidv7(),
        tenantId,
        userId,
        version,
        this.sealer.encrypt(password, pendingPasswordContext(tenantId, userId)),
        pgArray(targets.map((t) => t.id)),
        now,
        new Date(now.getTime() + this.ttlMs),
      ],
    );
  }
}

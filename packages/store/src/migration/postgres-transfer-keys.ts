import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Clock } from '@meridian/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { asPlatform } from '../orm/unit-of-work.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { transferKeyIdOf } from './hash-sealing.js';

/** This hub's public key for receiving sealed password hashes. */
export interface TransferPublicKey {
  /** SHA-256 (hex) of the key's SubjectPublicKeyInfo. */
  keyId: string;
  algorithm: 'X25519';
  /** PEM (SPKI), for `meridian tenant export --seal-for` at the sending hub. */
  publicKey: string;
  createdAt: Date;
}

interface KeyRow {
  id: string;
  algorithm: 'X25519';
  public_key: string;
  sealed_private_key: string;
  created_at: Date;
}

function contextOf(keyId: string): string {
  return `transfer-key:${keyId}`;
}

/**
 * The hub's transfer key pair (`transfer_key`, platform scope): created once, on first use, the private key sealed
 * by the hub's SecretBox and bound to its key id, never stored or printed in clear.
 */
export class PostgresTransferKeys {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly box: SecretBox,
  ) {}

  /** The hub's public key, creating the key pair the first time (serialised: two callers get the same key). */
  publicKey(): Promise<TransferPublicKey> {
    return asPlatform(this.orm, async (em) => {
      await em.execute("select pg_advisory_xact_lock(hashtextextended('transfer_key', 0))");
      const [row] = await em.execute<KeyRow[]>('select * from transfer_key order by created_at desc limit 1');
      if (row) return { keyId: row.id, algorithm: row.algorithm, publicKey: row.public_key, createdAt: new Date(row.created_at) };
      const pair = generateKeyPairSync('x25519');
      const keyId = transferKeyIdOf(pair.publicKey);
      const publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const sealed = this.box.encrypt(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), contextOf(keyId));
      const now = this.clock.now();
      await em.execute('insert into transfer_key (id, algorithm, public_key, sealed_private_key, created_at) values (?, ?, ?, ?, ?)', [
        keyId,
        'X25519',
        publicKey,
        sealed,
        now,
      ]);
      return { keyId, algorithm: 'X25519', publicKey, createdAt: now };
    });
  }

  /** The private key of `keyId`, opened; undefined when this hub has no such key. */
  async privateKey(keyId: string): Promise<KeyObject | undefined> {
    const [row] = await asPlatform(this.orm, (em) => em.execute<KeyRow[]>('select * from transfer_key where id = ?', [keyId]));
    if (!row) return undefined;
    const privateKey = createPrivateKey(this.box.decrypt(row.sealed_private_key, contextOf(row.id)));
    // The row's public key must be the private key's: a swapped row would open nothing.
    if (transferKeyIdOf(createPublicKey(privateKey)) !== row.id) throw new TypeError('transfer_key row does not match its private key.');
    return privateKey;
  }
}

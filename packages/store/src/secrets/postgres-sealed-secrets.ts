import type { MikroORM } from '@mikro-orm/postgresql';
import { asPlatform } from '../orm/unit-of-work.js';
import { type SecretBox, SecretBoxError } from './secret-box.js';

/** The columns that hold SecretBox envelopes. */
export type SealedColumn = 'replication_target.secrets' | 'directory_export.sealed_secrets' | 'pending_password.ciphertext';

/** One envelope and the ids its SecretBox context is made of (null where the column's owner has none). */
export interface SealedEnvelope {
  id: string;
  sealed: string;
  tenantId: string | null;
  communityId: string | null;
  userId: string | null;
}

/** What one column held before a rotation, and what the rotation did. */
export interface SealedColumnReport {
  /** Envelopes found. */
  sealed: number;
  /** Sealed with the primary key already (and they open). */
  current: number;
  /** Sealed with another configured key: re-sealed, or to be re-sealed on a dry run. */
  stale: number;
  /** Written under the primary key by this run (0 on a dry run). */
  resealed: number;
  /** Envelopes that do not open: malformed, sealed with a key that is not configured, or altered. */
  failed: number;
  /** Envelopes found per key id, before this run (`?` when a value is not an envelope). */
  byKey: Record<string, number>;
  /** The envelopes that did not open, with the SecretBox error code. */
  failures: { id: string; code: string; message: string }[];
}

/** Where each column lives and how its context ids are read; names are fixed here, never taken from a caller. */
const COLUMNS: Record<SealedColumn, { table: string; column: string; select: string }> = {
  'replication_target.secrets': {
    table: 'replication_target',
    column: 'secrets',
    select: 'tenant_id, null::uuid as community_id, null::uuid as user_id',
  },
  'directory_export.sealed_secrets': {
    table: 'directory_export',
    column: 'sealed_secrets',
    select: 'null::uuid as tenant_id, community_id, null::uuid as user_id',
  },
  'pending_password.ciphertext': {
    table: 'pending_password',
    column: 'ciphertext',
    select: 'tenant_id, null::uuid as community_id, user_id',
  },
};

/** Rows per transaction: each batch is locked, re-sealed and committed on its own. */
const BATCH = 200;

interface SealedRow {
  id: string;
  sealed: string;
  tenant_id: string | null;
  community_id: string | null;
  user_id: string | null;
}

/** The key id an envelope names; `?` when it is not an envelope. */
function keyIdOf(envelope: string): string {
  const [version, keyId] = envelope.split(':');
  return version === 'v1' && keyId ? keyId : '?';
}

/**
 * The SecretBox envelopes at rest (`meridian secrets rotate`): re-seals a
 * column's envelopes with the box's primary key, in platform scope, batch by
 * batch in key order. The caller names the context each envelope is bound to:
 * the writers own them (replication, directory exports, core's pending
 * passwords), and an envelope opened under another context fails.
 */
export class PostgresSealedSecrets {
  constructor(private readonly orm: MikroORM) {}

  /**
   * Re-seals every envelope of `column` sealed with another configured key; on
   * a dry run only counts them and checks that every envelope opens.
   */
  async rotate(
    column: SealedColumn,
    box: SecretBox,
    contextOf: (envelope: SealedEnvelope) => string,
    options: { dryRun: boolean },
  ): Promise<SealedColumnReport> {
    const { table, column: name, select } = COLUMNS[column];
    const report: SealedColumnReport = { sealed: 0, current: 0, stale: 0, resealed: 0, failed: 0, byKey: {}, failures: [] };
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const last = await asPlatform(this.orm, async (em) => {
        // Locked while re-sealed, so a concurrent change of the same row waits for this batch.
        const rows = await em.execute<SealedRow[]>(
          `select id, ${name} as sealed, ${select} from ${table}
            where ${name} is not null and id > ? order by id limit ${BATCH}${options.dryRun ? '' : ' for update'}`,
          [after],
        );
        for (const row of rows) {
          report.sealed++;
          const keyId = keyIdOf(row.sealed);
          report.byKey[keyId] = (report.byKey[keyId] ?? 0) + 1;
          try {
            const context = contextOf({
              id: row.id,
              sealed: row.sealed,
              tenantId: row.tenant_id,
              communityId: row.community_id,
              userId: row.user_id,
            });
            if (!box.needsReencryption(row.sealed)) {
              box.decrypt(row.sealed, context);
              report.current++;
              continue;
            }
            const resealed = box.reencrypt(row.sealed, context);
            report.stale++;
            if (!options.dryRun) {
              await em.execute(`update ${table} set ${name} = ? where id = ?`, [resealed, row.id]);
              report.resealed++;
            }
          } catch (error) {
            if (!(error instanceof SecretBoxError)) throw error;
            report.failed++;
            report.failures.push({ id: row.id, code: error.code, message: error.message });
          }
        }
        return rows.at(-1)?.id;
      });
      if (last === undefined) return report;
      after = last;
    }
  }
}

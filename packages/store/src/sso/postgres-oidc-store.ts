import type { Clock } from '@meridian/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { inCommunity } from '../orm/unit-of-work.js';
import type { SecretBox } from '../secrets/secret-box.js';

// What oidc-provider stores for one community (sessions, interactions, codes,
// tokens, grants): the rows behind its adapter, so that every hub process
// serves every step and a restart loses nothing (ADR 0021).

/** A stored payload: oidc-provider's JSON, with `consumed` set once a code or token was used. */
export type OidcPayload = Record<string, unknown> & { consumed?: number };

interface PayloadRow {
  payload: OidcPayload;
  consumed_at: Date | null;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** The key material a community's provider needs, sealed at rest with the hub's SecretBox. */
export type OidcKeyKind = 'signing' | 'cookies' | 'pairwise';

/**
 * oidc-provider's storage on PostgreSQL, one community at a time (the
 * `oidc_payload` and `oidc_key` tables, migration 20261207600000). Every
 * call is one transaction in the community's scope.
 */
export class PostgresOidcStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly box: Pick<SecretBox, 'encrypt' | 'decrypt' | 'needsReencryption' | 'reencrypt'>,
  ) {}

  /** Writes a payload; `expiresIn` seconds from now (none: it lives until destroyed). */
  async upsert(communityId: string, model: string, id: string, payload: OidcPayload, expiresIn: number | undefined): Promise<void> {
    const now = this.clock.now();
    const expiresAt = expiresIn === undefined ? null : new Date(now.getTime() + expiresIn * 1000);
    await inCommunity(this.orm, communityId, (em) =>
      em.execute(
        `insert into oidc_payload (community_id, model, id, payload, grant_id, uid, user_code, account_id, client_id, expires_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         on conflict (community_id, model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
           uid = excluded.uid, user_code = excluded.user_code, account_id = excluded.account_id, client_id = excluded.client_id,
           expires_at = excluded.expires_at`,
        [
          communityId,
          model,
          id,
          JSON.stringify(payload),
          text(payload.grantId),
          text(payload.uid),
          text(payload.userCode),
          text(payload.accountId),
          text(payload.clientId),
          expiresAt,
        ],
      ),
    );
  }

  private async findWhere(communityId: string, model: string, column: 'id' | 'uid' | 'user_code', value: string) {
    if (value === '' || value.length > 512) return undefined;
    const [row] = await inCommunity(this.orm, communityId, (em) =>
      em.execute<PayloadRow[]>(
        `select payload, consumed_at from oidc_payload
         where community_id = ? and model = ? and ${column} = ? and (expires_at is null or expires_at > ?)`,
        [communityId, model, value, this.clock.now()],
      ),
    );
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) } : row.payload;
  }

  /** A payload that has not expired. */
  find(communityId: string, model: string, id: string): Promise<OidcPayload | undefined> {
    return this.findWhere(communityId, model, 'id', id);
  }

  /** A session by its uid. */
  findByUid(communityId: string, model: string, uid: string): Promise<OidcPayload | undefined> {
    return this.findWhere(communityId, model, 'uid', uid);
  }

  /** A device code by its user code. */
  findByUserCode(communityId: string, model: string, userCode: string): Promise<OidcPayload | undefined> {
    return this.findWhere(communityId, model, 'user_code', userCode);
  }

  /** Marks a code or token used (RFC 6749 §4.1.2: a code is used once; the provider refuses a consumed one). */
  async consume(communityId: string, model: string, id: string): Promise<void> {
    await inCommunity(this.orm, communityId, (em) =>
      em.execute('update oidc_payload set consumed_at = ? where community_id = ? and model = ? and id = ?', [
        this.clock.now(),
        communityId,
        model,
        id,
      ]),
    );
  }

  async destroy(communityId: string, model: string, id: string): Promise<void> {
    await inCommunity(this.orm, communityId, (em) =>
      em.execute('delete from oidc_payload where community_id = ? and model = ? and id = ?', [communityId, model, id]),
    );
  }

  /** Removes everything issued under a grant (codes, tokens), as the provider asks when a grant is revoked or a code replayed. */
  async revokeByGrantId(communityId: string, grantId: string): Promise<void> {
    await inCommunity(this.orm, communityId, (em) =>
      em.execute('delete from oidc_payload where community_id = ? and grant_id = ?', [communityId, grantId]),
    );
  }

  /**
   * Deletes up to `limit` expired payloads of a community, and sign-in
   * failure counters older than a day (every throttling window is shorter);
   * how many payloads went.
   */
  async sweep(communityId: string, limit = 1000): Promise<number> {
    const now = this.clock.now();
    return inCommunity(this.orm, communityId, async (em) => {
      const rows = await em.execute<{ id: string }[]>(
        `delete from oidc_payload where ctid in
           (select ctid from oidc_payload where community_id = ? and expires_at < ? limit ?) returning id`,
        [communityId, now, limit],
      );
      await em.execute('delete from sso_throttle where community_id = ? and window_start < ?', [
        communityId,
        new Date(now.getTime() - 86_400_000),
      ]);
      return rows.length;
    });
  }

  /**
   * The community's key material of one kind, generated by `make` on first
   * use and sealed with the SecretBox (context `oidc:<community>:<kind>`).
   * Two processes generating at once keep the first one written. Material
   * sealed under an older SecretBox key is re-sealed under the current one.
   */
  async key(communityId: string, kind: OidcKeyKind, make: () => Promise<string>): Promise<string> {
    const context = `oidc:${communityId}:${kind}`;
    const read = () =>
      inCommunity(this.orm, communityId, (em) =>
        em.execute<{ sealed: string }[]>('select sealed from oidc_key where community_id = ? and kind = ?', [communityId, kind]),
      );
    let [row] = await read();
    if (!row) {
      const sealed = this.box.encrypt(await make(), context);
      await inCommunity(this.orm, communityId, (em) =>
        em.execute(
          'insert into oidc_key (community_id, kind, sealed, created_at) values (?, ?, ?, ?) on conflict (community_id, kind) do nothing',
          [communityId, kind, sealed, this.clock.now()],
        ),
      );
      [row] = await read();
    }
    if (!row) throw new Error(`The ${kind} key of community ${communityId} could not be stored.`);
    // After a SecretBox key rotation, the first use re-seals the key material under the new key (docs/sso.md).
    if (this.box.needsReencryption(row.sealed)) {
      const resealed = this.box.reencrypt(row.sealed, context);
      await inCommunity(this.orm, communityId, (em) =>
        em.execute('update oidc_key set sealed = ? where community_id = ? and kind = ? and sealed = ?', [
          resealed,
          communityId,
          kind,
          row?.sealed,
        ]),
      );
    }
    return this.box.decrypt(row.sealed, context);
  }
}

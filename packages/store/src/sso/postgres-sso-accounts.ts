import type { Clock, RequestContext, SsoGrant, SsoGrantStore } from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { appendAuditEntry } from '../audit/append-audit-entry.js';
import { isUuid } from '../directory/postgres-directory-store.js';
import { auditEvent, recordEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inCommunity } from '../orm/unit-of-work.js';

/** An office account that may sign in with a userName: its office, its password hash and its person. */
export interface LoginAccount {
  tenantId: string;
  tenantSlug: string;
  tenantName: string;
  userId: string;
  userName: string;
  passwordHash: string | null;
  active: boolean;
  /** Null until the global directory has projected the account. */
  personId: string | null;
}

/** A person as the OpenID Provider releases them: whether they may sign in, and their claim values. */
export interface SsoPerson {
  personId: string;
  /** The person is active and has at least one active account. */
  active: boolean;
  values: Record<string, string>;
  /** The tenant of the person's first active account: the audit chain of their releases. */
  tenantId: string | null;
}

/** Why a sign-in failed, as the audit log records it. */
export type LoginFailureReason = 'unknown_account' | 'bad_password' | 'inactive' | 'throttled' | 'not_in_directory';

interface GrantRow {
  id: string;
  client_id: string;
  name: string | null;
  account_id: string;
  payload: { openid?: { scope?: string; claims?: string[] }; iat?: number };
  expires_at: Date | null;
}

function toGrant(communityId: string, row: GrantRow): SsoGrant {
  return {
    id: row.id,
    communityId,
    clientId: row.client_id,
    relyingPartyName: row.name ?? row.client_id,
    personId: row.account_id,
    scopes: (row.payload.openid?.scope ?? '').split(' ').filter((s) => s !== ''),
    claims: row.payload.openid?.claims ?? [],
    createdAt: new Date((row.payload.iat ?? 0) * 1000),
    expiresAt: row.expires_at ? new Date(row.expires_at) : null,
  };
}

const GRANTS = `select g.id, g.client_id, g.account_id, g.payload, g.expires_at, r.name
  from oidc_payload g left join relying_party r on r.community_id = g.community_id and r.client_id = g.client_id
  where g.community_id = ? and g.model = 'Grant' and (g.expires_at is null or g.expires_at > ?)`;

/**
 * What the community's OpenID Provider reads and writes besides oidc-provider's
 * own payloads: office accounts for sign-in, the person's claim values, the
 * release ledger with its audit entries, sign-in throttling and its audit,
 * and people's grants ({@link SsoGrantStore}).
 */
export class PostgresSsoAccounts implements SsoGrantStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  /**
   * The accounts of the community's offices with this userName (case-insensitive,
   * RFC 7643 §4.1.1), optionally in one office. Platform scope: the office is
   * not known before the account is found.
   */
  async loginAccounts(communityId: string, userName: string, tenantSlug?: string): Promise<LoginAccount[]> {
    if (userName.trim() === '' || userName.length > 1024) return [];
    const rows = await asPlatform(this.orm, (em) =>
      em.execute<
        {
          tenant_id: string;
          tenant_slug: string;
          tenant_name: string;
          user_id: string;
          user_name: string;
          password_hash: string | null;
          active: boolean;
          person_id: string | null;
        }[]
      >(
        `select u.tenant_id, t.slug as tenant_slug, t.name as tenant_name, u.id as user_id, u.user_name, u.password_hash, u.active,
           a.person_id
         from tenant t join scim_user u on u.tenant_id = t.id
           left join directory_account a on a.tenant_id = u.tenant_id and a.user_id = u.id
         where t.community_id = ? and u.user_name_key = lower(?) ${tenantSlug === undefined ? '' : 'and t.slug = ?'}
         order by t.slug`,
        [communityId, userName.trim(), ...(tenantSlug === undefined ? [] : [tenantSlug])],
      ),
    );
    return rows.map((r) => ({
      tenantId: r.tenant_id,
      tenantSlug: r.tenant_slug,
      tenantName: r.tenant_name,
      userId: r.user_id,
      userName: r.user_name,
      passwordHash: r.password_hash,
      active: r.active,
      personId: r.person_id,
    }));
  }

  /** The offices of a community, for the office choice on the sign-in page. */
  async offices(communityId: string): Promise<{ slug: string; name: string }[]> {
    return inCommunity(this.orm, communityId, (em) =>
      em.execute<{ slug: string; name: string }[]>('select slug, name from tenant where community_id = ? order by name, slug', [
        communityId,
      ]),
    );
  }

  /** The person's claim values (from the global directory) and whether they may still sign in. */
  async person(communityId: string, personId: string): Promise<SsoPerson | undefined> {
    if (!isUuid(personId)) return undefined;
    return inCommunity(this.orm, communityId, async (em) => {
      const [person] = await em.execute<Record<string, string | boolean | null>[]>(
        `select display_name, given_name, family_name, email, phone_number, title, department, organization, division,
           cost_center, employee_number, active from person where community_id = ? and id = ?`,
        [communityId, personId],
      );
      if (!person) return undefined;
      const accounts = await em.execute<{ tenant_id: string; user_name: string; active: boolean; slug: string }[]>(
        `select a.tenant_id, a.user_name, a.active, t.slug from directory_account a join tenant t on t.id = a.tenant_id
         where a.community_id = ? and a.person_id = ? order by a.active desc, a.linked_at, a.tenant_id`,
        [communityId, personId],
      );
      const first = accounts.find((a) => a.active);
      const column: Record<string, string> = {
        name: 'display_name',
        given_name: 'given_name',
        family_name: 'family_name',
        email: 'email',
        phone_number: 'phone_number',
        title: 'title',
        department: 'department',
        organization: 'organization',
        division: 'division',
        cost_center: 'cost_center',
        employee_number: 'employee_number',
      };
      const values: Record<string, string> = {};
      for (const [claim, name] of Object.entries(column)) {
        const value = person[name];
        if (typeof value === 'string' && value !== '') values[claim] = value;
      }
      if (first) {
        values.preferred_username = first.user_name;
        values.office = first.slug;
      }
      return { personId, active: person.active === true && first !== undefined, values, tenantId: first?.tenant_id ?? null };
    });
  }

  /**
   * Writes one release to the ledger (the relying party may keep these claims
   * of this person until `expiresAt`) and to the audit log, on the chain of
   * the person's office (`sso.released`: who, which relying party, which
   * attributes, when, and until when).
   */
  async recordRelease(
    communityId: string,
    release: { clientId: string; personId: string; tenantId: string | null; claims: string[]; maxCacheSeconds: number; use: string },
    context: RequestContext,
  ): Promise<void> {
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + release.maxCacheSeconds * 1000);
    await asPlatform(this.orm, async (em) => {
      await em.execute(
        `insert into sso_release (community_id, client_id, person_id, claims, released_at, expires_at) values (?, ?, ?, ?, ?, ?)
         on conflict (community_id, client_id, person_id) do update set
           claims = (select array(select distinct unnest(sso_release.claims || excluded.claims) order by 1)),
           released_at = excluded.released_at, expires_at = greatest(sso_release.expires_at, excluded.expires_at)`,
        [communityId, release.clientId, release.personId, pgArray(release.claims), now, expiresAt],
      );
      await auditEvent(
        em,
        {
          type: 'sso.released',
          tenantId: release.tenantId,
          resourceType: 'Person',
          resourceId: release.personId,
          after: {
            clientId: release.clientId,
            claims: release.claims,
            through: release.use,
            cacheUntil: expiresAt.toISOString(),
          },
        },
        context,
        now,
      );
    });
  }

  /** The ledger: relying parties whose copy of the person is still within its cache period. */
  async releasesOf(communityId: string, personId: string): Promise<{ clientId: string; claims: string[]; expiresAt: Date }[]> {
    const rows = await inCommunity(this.orm, communityId, (em) =>
      em.execute<{ client_id: string; claims: string[]; expires_at: Date }[]>(
        'select client_id, claims, expires_at from sso_release where community_id = ? and person_id = ? and expires_at > ? order by client_id',
        [communityId, personId, this.clock.now()],
      ),
    );
    return rows.map((r) => ({ clientId: r.client_id, claims: r.claims, expiresAt: new Date(r.expires_at) }));
  }

  /** The audit entry of a consent: which claims a person agreed to release, and which optional ones they refused. */
  async recordConsent(
    communityId: string,
    consent: { clientId: string; personId: string; tenantId: string | null; claims: string[]; refused: string[] },
    context: RequestContext,
  ): Promise<void> {
    await asPlatform(this.orm, (em) =>
      auditEvent(
        em,
        {
          type: 'sso.consented',
          tenantId: consent.tenantId,
          resourceType: 'Person',
          resourceId: consent.personId,
          after: { communityId, clientId: consent.clientId, claims: consent.claims, refused: consent.refused },
        },
        context,
        this.clock.now(),
      ),
    );
  }

  /** Failed sign-ins within the window, per key (`account:<tenant>:<user>`, `address:<ip>`). */
  async failures(communityId: string, keys: string[], windowMs: number): Promise<number[]> {
    const since = new Date(this.clock.now().getTime() - windowMs);
    const rows = await inCommunity(this.orm, communityId, (em) =>
      em.execute<{ key: string; failures: number }[]>(
        'select key, failures from sso_throttle where community_id = ? and key = any(?) and window_start > ?',
        [communityId, pgArray(keys), since],
      ),
    );
    return keys.map((k) => rows.find((r) => r.key === k)?.failures ?? 0);
  }

  /**
   * Counts a failed sign-in against each key (a window starts at the first
   * failure) and appends its `auth.failed` audit entry: to the office's chain
   * when the account is known, else to the platform's.
   */
  async recordLoginFailure(
    communityId: string,
    failure: { keys: string[]; reason: LoginFailureReason; tenantId: string | null; userId: string | null; userName: string },
    windowMs: number,
    context: RequestContext,
  ): Promise<void> {
    const now = this.clock.now();
    const since = new Date(now.getTime() - windowMs);
    await asPlatform(this.orm, async (em: EntityManager) => {
      for (const key of failure.keys) {
        await em.execute(
          `insert into sso_throttle (community_id, key, failures, window_start) values (?, ?, 1, ?)
           on conflict (community_id, key) do update set
             failures = case when sso_throttle.window_start > ? then sso_throttle.failures + 1 else 1 end,
             window_start = case when sso_throttle.window_start > ? then sso_throttle.window_start else excluded.window_start end`,
          [communityId, key.slice(0, 300), now, since, since],
        );
      }
      await appendAuditEntry(
        em,
        {
          chain: failure.tenantId ?? '',
          tenantId: failure.tenantId,
          actorType: 'anonymous',
          actorId: 'anonymous',
          action: 'auth.failed',
          resourceType: failure.userId ? 'User' : 'Account',
          resourceId: failure.userId ?? failure.userName.slice(0, 256),
          requestId: context.requestId.slice(0, 128),
          sourceAddress: context.sourceAddress ?? null,
          diff: { before: null, after: { reason: failure.reason, via: 'sso', communityId, userName: failure.userName.slice(0, 256) } },
        },
        now,
      );
    });
  }

  /** Forgets an account's failures after a successful sign-in. */
  async clearFailures(communityId: string, keys: string[]): Promise<void> {
    await inCommunity(this.orm, communityId, (em) =>
      em.execute('delete from sso_throttle where community_id = ? and key = any(?)', [communityId, pgArray(keys)]),
    );
  }

  async personOfAccount(tenantId: string, userId: string): Promise<{ communityId: string; personId: string } | undefined> {
    if (!isUuid(tenantId) || !isUuid(userId)) return undefined;
    const [row] = await asPlatform(this.orm, (em) =>
      em.execute<{ community_id: string; person_id: string }[]>(
        'select community_id, person_id from directory_account where tenant_id = ? and user_id = ?',
        [tenantId, userId],
      ),
    );
    return row ? { communityId: row.community_id, personId: row.person_id } : undefined;
  }

  async grantsOfPerson(communityId: string, personId: string): Promise<SsoGrant[]> {
    const rows = await inCommunity(this.orm, communityId, (em) =>
      em.execute<GrantRow[]>(`${GRANTS} and g.account_id = ? order by g.id`, [communityId, this.clock.now(), personId]),
    );
    return rows.map((row) => toGrant(communityId, row));
  }

  async grantsOfClient(communityId: string, clientId: string): Promise<SsoGrant[]> {
    const rows = await inCommunity(this.orm, communityId, (em) =>
      em.execute<GrantRow[]>(`${GRANTS} and g.client_id = ? order by g.id`, [communityId, this.clock.now(), clientId]),
    );
    return rows.map((row) => toGrant(communityId, row));
  }

  async revokeGrant(communityId: string, grantId: string, context: RequestContext): Promise<boolean> {
    if (grantId === '' || grantId.length > 200) return false;
    const now = this.clock.now();
    return asPlatform(this.orm, async (em) => {
      const [grant] = await em.execute<{ account_id: string; client_id: string }[]>(
        "delete from oidc_payload where community_id = ? and model = 'Grant' and id = ? returning account_id, client_id",
        [communityId, grantId],
      );
      if (!grant) return false;
      // The codes and tokens issued under the grant go with it: the relying party's access and refresh tokens stop working.
      await em.execute('delete from oidc_payload where community_id = ? and grant_id = ?', [communityId, grantId]);
      const [account] = await em.execute<{ tenant_id: string }[]>(
        'select tenant_id from directory_account where community_id = ? and person_id = ? order by linked_at limit 1',
        [communityId, grant.account_id],
      );
      // An outbox event with the audit entry (one statement): the stream feed copies it into the stream inbox in this
      // transaction, so the relying party's stream hears CAEP session-revoked however the process ends (docs/events.md).
      await recordEvent(
        em,
        {
          type: 'sso.grant_revoked',
          tenantId: account?.tenant_id ?? null,
          resourceType: 'Grant',
          resourceId: grantId,
          before: { communityId, clientId: grant.client_id, personId: grant.account_id },
          after: null,
        },
        context,
        now,
      );
      return true;
    });
  }
}

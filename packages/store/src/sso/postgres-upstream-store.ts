import type { Clock, RequestContext, UpstreamProvider, UpstreamProviderStore, UpstreamValues } from '@meridian/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { appendAuditEntry } from '../audit/append-audit-entry.js';
import { recordEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inCommunity } from '../orm/unit-of-work.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { LoginAccount } from './postgres-sso-accounts.js';

interface UpstreamRow {
  tenant_id: string;
  community_id: string;
  issuer: string;
  client_id: string;
  client_secret_sealed: string;
  user_name_claim: string;
  created_at: Date;
  updated_at: Date;
}

function toUpstream(row: UpstreamRow): UpstreamProvider {
  return {
    tenantId: row.tenant_id,
    communityId: row.community_id,
    issuer: row.issuer,
    clientId: row.client_id,
    userNameClaim: row.user_name_claim,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** The SecretBox context of an office's upstream client secret: it opens for that office's provider only. */
const secretContext = (tenantId: string, issuer: string) => `sso-upstream:${tenantId}:${issuer}`;

/** An office's upstream provider with its client secret, for the sign-in that uses it. */
export interface UpstreamLogin {
  tenantId: string;
  tenantSlug: string;
  tenantName: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  userNameClaim: string;
}

/**
 * Offices' upstream identity providers (core {@link UpstreamProviderStore})
 * and the links of upstream subjects to office accounts. Writes are platform
 * work (their audit entries go to the office's chain); sign-in reads are in
 * the community's scope.
 */
export class PostgresUpstreamStore implements UpstreamProviderStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly box: Pick<SecretBox, 'encrypt' | 'decrypt' | 'needsReencryption' | 'reencrypt'>,
  ) {}

  set(values: UpstreamValues, clientSecret: string, context: RequestContext): Promise<UpstreamProvider> {
    const now = this.clock.now();
    return asPlatform(this.orm, async (em) => {
      const [row] = await em.execute<UpstreamRow[]>(
        `insert into sso_upstream (tenant_id, community_id, issuer, client_id, client_secret_sealed, user_name_claim, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?)
         on conflict (tenant_id) do update set issuer = excluded.issuer, client_id = excluded.client_id,
           client_secret_sealed = excluded.client_secret_sealed, user_name_claim = excluded.user_name_claim, updated_at = excluded.updated_at
         returning *`,
        [
          values.tenantId,
          values.communityId,
          values.issuer,
          values.clientId,
          this.box.encrypt(clientSecret, secretContext(values.tenantId, values.issuer)),
          values.userNameClaim,
          now,
          now,
        ],
      );
      const upstream = toUpstream(row as UpstreamRow);
      await recordEvent(
        em,
        {
          type: 'sso.upstream_set',
          tenantId: upstream.tenantId,
          resourceType: 'UpstreamProvider',
          resourceId: upstream.tenantId,
          after: { issuer: upstream.issuer, clientId: upstream.clientId, userNameClaim: upstream.userNameClaim },
        },
        context,
        now,
      );
      return upstream;
    });
  }

  async find(tenantId: string): Promise<UpstreamProvider | undefined> {
    const [row] = await asPlatform(this.orm, (em) =>
      em.execute<UpstreamRow[]>('select * from sso_upstream where tenant_id = ?', [tenantId]),
    );
    return row ? toUpstream(row) : undefined;
  }

  remove(tenantId: string, context: RequestContext): Promise<boolean> {
    const now = this.clock.now();
    return asPlatform(this.orm, async (em) => {
      const [row] = await em.execute<UpstreamRow[]>('delete from sso_upstream where tenant_id = ? returning *', [tenantId]);
      if (!row) return false;
      await em.execute('delete from sso_upstream_link where tenant_id = ?', [tenantId]);
      await recordEvent(
        em,
        {
          type: 'sso.upstream_removed',
          tenantId,
          resourceType: 'UpstreamProvider',
          resourceId: tenantId,
          before: { issuer: row.issuer, clientId: row.client_id, userNameClaim: row.user_name_claim },
          after: null,
        },
        context,
        now,
      );
      return true;
    });
  }

  /** Replaces the office's email domains; audited on the office's chain (`sso.office_domains_set`). */
  setEmailDomains(tenantId: string, communityId: string, domains: readonly string[], context: RequestContext): Promise<string[]> {
    const now = this.clock.now();
    return asPlatform(this.orm, async (em) => {
      const before = await em.execute<{ domain: string }[]>('delete from sso_office_domain where tenant_id = ? returning domain', [
        tenantId,
      ]);
      if (domains.length > 0) {
        await em.execute('insert into sso_office_domain (tenant_id, community_id, domain, created_at) select ?, ?, unnest(?::text[]), ?', [
          tenantId,
          communityId,
          pgArray([...domains]),
          now,
        ]);
      }
      await appendAuditEntry(
        em,
        {
          chain: tenantId,
          tenantId,
          actorType: context.actor.type,
          actorId: context.actor.id,
          action: 'sso.office_domains_set',
          resourceType: 'Tenant',
          resourceId: tenantId,
          requestId: context.requestId.slice(0, 128),
          sourceAddress: context.sourceAddress ?? null,
          diff: { before: { domains: before.map((r) => r.domain).sort() }, after: { domains: [...domains] } },
        },
        now,
      );
      return [...domains];
    });
  }

  async emailDomains(tenantId: string): Promise<string[]> {
    const rows = await asPlatform(this.orm, (em) =>
      em.execute<{ domain: string }[]>('select domain from sso_office_domain where tenant_id = ? order by domain', [tenantId]),
    );
    return rows.map((r) => r.domain);
  }

  /** The offices of a community and their email domains, for the sign-in page's choice of office. */
  async officeDomains(communityId: string, domain: string): Promise<{ slug: string; domains: string[] }[]> {
    const rows = await inCommunity(this.orm, communityId, (em) =>
      em.execute<{ slug: string }[]>(
        'select t.slug from sso_office_domain d join tenant t on t.id = d.tenant_id where d.community_id = ? and d.domain = ? order by t.slug',
        [communityId, domain.toLowerCase()],
      ),
    );
    return rows.map((r) => ({ slug: r.slug, domains: [domain.toLowerCase()] }));
  }

  /** The offices of a community with an upstream provider, for the sign-in page. */
  async upstreamOffices(communityId: string): Promise<{ slug: string; name: string }[]> {
    return inCommunity(this.orm, communityId, (em) =>
      em.execute<{ slug: string; name: string }[]>(
        'select t.slug, t.name from sso_upstream u join tenant t on t.id = u.tenant_id where u.community_id = ? order by t.name, t.slug',
        [communityId],
      ),
    );
  }

  /** An office's upstream provider with its secret unsealed, by the office's slug in the community. */
  async upstreamFor(communityId: string, tenantSlug: string): Promise<UpstreamLogin | undefined> {
    const [row] = await inCommunity(this.orm, communityId, (em) =>
      em.execute<(UpstreamRow & { slug: string; name: string })[]>(
        'select u.*, t.slug, t.name from sso_upstream u join tenant t on t.id = u.tenant_id where u.community_id = ? and t.slug = ?',
        [communityId, tenantSlug],
      ),
    );
    if (!row) return undefined;
    const context = secretContext(row.tenant_id, row.issuer);
    // After a SecretBox key rotation, the first sign-in re-seals the client secret under the new key (docs/sso.md).
    if (this.box.needsReencryption(row.client_secret_sealed)) {
      const resealed = this.box.reencrypt(row.client_secret_sealed, context);
      await asPlatform(this.orm, (em) =>
        em.execute('update sso_upstream set client_secret_sealed = ? where tenant_id = ? and client_secret_sealed = ?', [
          resealed,
          row.tenant_id,
          row.client_secret_sealed,
        ]),
      );
    }
    return {
      tenantId: row.tenant_id,
      tenantSlug: row.slug,
      tenantName: row.name,
      issuer: row.issuer,
      clientId: row.client_id,
      clientSecret: this.box.decrypt(row.client_secret_sealed, context),
      userNameClaim: row.user_name_claim,
    };
  }

  /** The office account an upstream subject was linked to, with what sign-in needs of it. */
  async linkedAccount(communityId: string, tenantId: string, issuer: string, subject: string): Promise<LoginAccount | undefined> {
    if (subject === '' || subject.length > 255) return undefined;
    const [row] = await asPlatform(this.orm, (em) =>
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
        `select u.tenant_id, t.slug as tenant_slug, t.name as tenant_name, u.id as user_id, u.user_name, u.password_hash, u.active, a.person_id
         from sso_upstream_link l join scim_user u on u.tenant_id = l.tenant_id and u.id = l.user_id
           join tenant t on t.id = u.tenant_id
           left join directory_account a on a.tenant_id = u.tenant_id and a.user_id = u.id
         where l.community_id = ? and l.tenant_id = ? and l.issuer = ? and l.subject = ?`,
        [communityId, tenantId, issuer, subject],
      ),
    );
    if (!row) return undefined;
    return {
      tenantId: row.tenant_id,
      tenantSlug: row.tenant_slug,
      tenantName: row.tenant_name,
      userId: row.user_id,
      userName: row.user_name,
      passwordHash: row.password_hash,
      active: row.active,
      personId: row.person_id,
    };
  }

  /** Links an upstream subject to an office account (its first sign-in there), audited on the office's chain. */
  async link(
    communityId: string,
    link: { tenantId: string; issuer: string; subject: string; userId: string },
    context: RequestContext,
  ): Promise<void> {
    const now = this.clock.now();
    await asPlatform(this.orm, async (em) => {
      await em.execute(
        `insert into sso_upstream_link (tenant_id, community_id, issuer, subject, user_id, linked_at) values (?, ?, ?, ?, ?, ?)
         on conflict (tenant_id, issuer, subject) do nothing`,
        [link.tenantId, communityId, link.issuer, link.subject.slice(0, 255), link.userId, now],
      );
      await recordEvent(
        em,
        {
          type: 'sso.upstream_linked',
          tenantId: link.tenantId,
          resourceType: 'User',
          resourceId: link.userId,
          after: { issuer: link.issuer, subject: link.subject.slice(0, 255) },
        },
        context,
        now,
      );
    });
  }
}

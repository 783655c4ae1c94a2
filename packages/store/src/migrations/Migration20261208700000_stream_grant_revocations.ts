import { Migration } from '@mikro-orm/migrations';

/** The stream feed of migration 20261208400100, with the outbox events it copies as `rows`. */
const feed = (rows: string) => `
      create or replace function meridian_event_stream_feed() returns trigger
        language plpgsql security definer set search_path = public
        as $f$
        begin
          insert into event_stream_inbox (outbox_id, community_id, tenant_id, type, resource_type, resource_id, resource_version,
            request_id, created_at, credential_changed)
          select n.id, c.community_id, n.tenant_id, n.type, n.resource_type, n.resource_id, n.resource_version, n.request_id, n.created_at,
            coalesce(u.password_version = n.resource_version, false)
          from inserted n
          join meridian_tenant_community t on t.tenant_id = n.tenant_id
          join event_stream_community c on c.community_id = t.community_id
          left join scim_user u on n.resource_type = 'User' and u.tenant_id = n.tenant_id
            and u.id = case when n.resource_type = 'User' then n.resource_id::uuid end
          where ${rows} and n.tenant_id is not null
          order by n.id;
          return null;
        end
        $f$;`;

/**
 * CAEP `session-revoked` for a grant revoked on its own (issue 17): an
 * admin's `revokeGrant`, or a person withdrawing consent at `/account`, while
 * the account stays active. The grant store now writes the revocation's
 * outbox event with its audit entry (one statement, `sso.grant_revoked`,
 * resource `Grant`, in the office chain of the person's first account), and
 * the stream feed copies it into the stream inbox like a User change, in the
 * same transaction: nothing outside the revocation's transaction is
 * involved, so a crash loses it no more than a SCIM event. The producer reads
 * the relying party and the person from the audit entry, as it reads a
 * change's before and after.
 */
export class Migration20261208700000_stream_grant_revocations extends Migration {
  override up(): void {
    this.addSql(feed("(n.resource_type in ('User', 'Group') or (n.resource_type = 'Grant' and n.type = 'sso.grant_revoked'))"));
  }

  override down(): void {
    this.addSql(`
      delete from event_stream_inbox where resource_type = 'Grant';
      ${feed("n.resource_type in ('User', 'Group')")}
    `);
  }
}

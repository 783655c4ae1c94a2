import { Migration } from '@mikro-orm/migrations';

/**
 * CAEP `credential-change` (issue 17): a stream hears that a User's password
 * was set or changed, never the password. The audit entry of a change leaves
 * the password out, so the change itself says it:
 *
 * - `scim_user.password_version`: the version of the User that last set its
 *   password hash, kept by a BEFORE trigger whatever writes the hash (a SCIM
 *   write, a transfer, an inbound source);
 * - the stream feed (the outbox trigger of migration 20261207690000, in the
 *   transaction of the change) marks the inbox entry of the change that wrote
 *   that version `credential_changed`, so the producer can say so with the
 *   change's `txn`. Nothing outside the change's transaction is involved: a
 *   crash loses it no more than the SCIM event.
 */
export class Migration20261208400100_stream_credential_events extends Migration {
  override up(): void {
    this.addSql(`
      alter table scim_user add column password_version integer null;

      create function meridian_password_version() returns trigger
        language plpgsql
        as $f$
        begin
          if new.password_hash is not null and (tg_op = 'INSERT' or new.password_hash is distinct from old.password_hash) then
            new.password_version := new.version;
          end if;
          return new;
        end
        $f$;
      create trigger scim_user_password_version before insert or update of password_hash on scim_user
        for each row execute function meridian_password_version();

      alter table event_stream_inbox add column credential_changed boolean not null default false;

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
          where n.resource_type in ('User', 'Group') and n.tenant_id is not null
          order by n.id;
          return null;
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql(`
      create or replace function meridian_event_stream_feed() returns trigger
        language plpgsql security definer set search_path = public
        as $f$
        begin
          insert into event_stream_inbox (outbox_id, community_id, tenant_id, type, resource_type, resource_id, resource_version,
            request_id, created_at)
          select n.id, c.community_id, n.tenant_id, n.type, n.resource_type, n.resource_id, n.resource_version, n.request_id, n.created_at
          from inserted n
          join meridian_tenant_community t on t.tenant_id = n.tenant_id
          join event_stream_community c on c.community_id = t.community_id
          where n.resource_type in ('User', 'Group') and n.tenant_id is not null
          order by n.id;
          return null;
        end
        $f$;
      alter table event_stream_inbox drop column credential_changed;
      drop trigger scim_user_password_version on scim_user;
      drop function meridian_password_version();
      alter table scim_user drop column password_version;
    `);
  }
}

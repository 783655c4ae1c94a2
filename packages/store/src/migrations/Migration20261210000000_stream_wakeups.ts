import { Migration } from '@mikro-orm/migrations';

/** The stream feed of migration 20261208700000; with `notify`, it also wakes the producers when it copied a change. */
const feed = (notify: boolean) => `
      create or replace function meridian_event_stream_feed() returns trigger
        language plpgsql security definer set search_path = public
        as $f$
        ${notify ? 'declare\n          v_copied bigint;' : ''}
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
          where (n.resource_type in ('User', 'Group') or (n.resource_type = 'Grant' and n.type = 'sso.grant_revoked'))
            and n.tenant_id is not null
          order by n.id;
          ${
            notify
              ? `get diagnostics v_copied = row_count;
          if v_copied > 0 then
            perform pg_notify('meridian_streams', '');
          end if;`
              : ''
          }
          return null;
        end
        $f$;`;

/**
 * Wakes the event streams' loops (issue 17) instead of having every worker
 * process poll them twice a second (ADR 0037): `NOTIFY meridian_streams`, with
 * no payload, when
 *
 * - the stream feed copied a change into `event_stream_inbox` (only for a
 *   community that has a stream: a write elsewhere notifies nobody),
 * - SETs were written (`event_stream_set`: the producer's, an asynchronous
 *   response's), for the pushers,
 * - an asynchronous SCIM request was registered or accepted (`scim_async_request`).
 *
 * PostgreSQL delivers a notification at commit only, and folds those of one
 * transaction into one. The loops keep polling as a fallback (a lost
 * notification, a push retry that came due), backing off while idle.
 */
export class Migration20261210000000_stream_wakeups extends Migration {
  override up(): void {
    this.addSql(`
      ${feed(true)}

      create function meridian_streams_notify() returns trigger language plpgsql as $f$
      begin
        perform pg_notify('meridian_streams', '');
        return null;
      end
      $f$;
      create trigger event_stream_set_notify after insert on event_stream_set
        for each statement execute function meridian_streams_notify();
      create trigger scim_async_request_notify after insert or update on scim_async_request
        for each statement execute function meridian_streams_notify();
    `);
  }

  override down(): void {
    this.addSql(`
      drop trigger scim_async_request_notify on scim_async_request;
      drop trigger event_stream_set_notify on event_stream_set;
      drop function meridian_streams_notify();
      ${feed(false)}
    `);
  }
}

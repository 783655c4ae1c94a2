import { Migration } from '@mikro-orm/migrations';

const IN_COMMUNITY = 'community_id = (select meridian_current_community()) or (select meridian_platform_scope())';
const PLATFORM = '(select meridian_platform_scope())';
const OWN_TENANT = `tenant_id = (select meridian_current_tenant()) or ${PLATFORM}`;

/**
 * Change notification (issue 17, ADR 0029): each community is a Shared
 * Signals transmitter.
 *
 * - `event_stream`: a receiver's stream (SSF 1.0 §8.1.1): a relying party
 *   (`client`) or a community API token (`token`), its delivery, the event
 *   types it asked for, its subset (`filter`, `attributes`) and status. A push
 *   stream's `Authorization` header is sealed with the hub's SecretBox.
 * - `event_stream_subject`: subjects added or removed (SSF 1.0 §8.1.3).
 * - `event_stream_inbox`: every User and Group change of a community that has
 *   a stream, copied from `outbox_event` by a trigger in the transaction of
 *   the change itself, so no change is lost whatever crashes; the producer
 *   takes it in platform scope, turns it into SETs and deletes it in one
 *   transaction. The trigger function is SECURITY DEFINER (like the e-mail
 *   search, migration 20261126600000): the writing tenant transaction has no
 *   insert privilege on the inbox and cannot see which communities have
 *   streams; the policies (forced, like every tenant table) still hold for
 *   the trigger's owner.
 * - `event_stream_account`: the person behind an office account, remembered
 *   for relying parties' streams (a deletion is told after the global
 *   directory forgot the account).
 * - `event_stream_set`: the signed SETs of each stream and their delivery
 *   state; acknowledged ones are pruned after the retention period.
 */
export class Migration20261207690000_event_streams extends Migration {
  override up(): void {
    this.addSql(`
      create table event_stream (
        id uuid primary key,
        community_id uuid not null references community (id) on delete cascade,
        receiver_kind text not null check (receiver_kind in ('client', 'token')),
        receiver_id text not null,
        description text null,
        delivery_method text not null check (delivery_method in ('push', 'poll')),
        endpoint_url text null,
        authorization_sealed text null,
        events_requested text[] not null,
        filter text null,
        attributes text[] not null,
        status text not null check (status in ('enabled', 'paused', 'disabled')),
        status_reason text null,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        constraint event_stream_push_check check ((delivery_method = 'push') = (endpoint_url is not null))
      );
      create index event_stream_receiver_index on event_stream (community_id, receiver_kind, receiver_id);

      create table event_stream_subject (
        stream_id uuid not null references event_stream (id) on delete cascade,
        community_id uuid not null,
        subject_key text not null,
        subject jsonb not null,
        included boolean not null,
        primary key (stream_id, subject_key)
      );

      create table event_stream_inbox (
        id bigserial primary key,
        outbox_id bigint not null,
        community_id uuid not null,
        tenant_id uuid not null,
        type text not null,
        resource_type text not null,
        resource_id text not null,
        resource_version integer null,
        request_id text not null,
        created_at timestamptz not null
      );

      create table event_stream_account (
        tenant_id uuid not null,
        user_id uuid not null,
        community_id uuid not null,
        person_id uuid not null,
        primary key (tenant_id, user_id)
      );

      create table event_stream_set (
        seq bigserial primary key,
        stream_id uuid not null references event_stream (id) on delete cascade,
        community_id uuid not null,
        jti text not null,
        txn text not null,
        subject_keys text[] not null,
        event_types text[] not null,
        token text not null,
        state text not null check (state in ('pending', 'delivered', 'acknowledged', 'failed', 'dead')),
        attempts integer not null default 0,
        next_attempt_at timestamptz not null,
        last_error text null,
        created_at timestamptz not null,
        delivered_at timestamptz null,
        settled_at timestamptz null
      );
      create unique index event_stream_set_jti_key on event_stream_set (stream_id, jti);
      create index event_stream_set_open_index on event_stream_set (stream_id, seq) where state in ('pending', 'delivered');
      create index event_stream_set_push_index on event_stream_set (next_attempt_at) where state = 'pending';
      create index event_stream_set_settled_index on event_stream_set (settled_at) where settled_at is not null;

      alter table event_stream enable row level security, force row level security;
      alter table event_stream_subject enable row level security, force row level security;
      alter table event_stream_account enable row level security, force row level security;
      alter table event_stream_set enable row level security, force row level security;
      create policy community_streams on event_stream using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_streams on event_stream_subject using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_streams on event_stream_account using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_streams on event_stream_set using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      -- Written only by the trigger below (the application role has no insert privilege), for the change's own tenant
      -- (or its community, or the platform); read by that tenant, read and emptied by the producer in platform scope.
      alter table event_stream_inbox enable row level security, force row level security;
      create policy inbox_read on event_stream_inbox for select using (${OWN_TENANT});
      create policy inbox_write on event_stream_inbox for insert with check (${OWN_TENANT} or ${IN_COMMUNITY});
      create policy inbox_take on event_stream_inbox for delete using (${PLATFORM});

      -- Which communities have a stream the trigger must feed: kept by the owner, readable by the trigger only.
      create table event_stream_community (
        community_id uuid primary key,
        streams integer not null
      );
      alter table event_stream_community enable row level security;
      revoke all on event_stream_community from public;

      create function meridian_event_stream_count() returns trigger
        language plpgsql security definer set search_path = public
        as $f$
        begin
          if tg_op = 'INSERT' then
            insert into event_stream_community (community_id, streams) values (new.community_id, 1)
            on conflict (community_id) do update set streams = event_stream_community.streams + 1;
          else
            update event_stream_community set streams = streams - 1 where community_id = old.community_id;
            delete from event_stream_community where community_id = old.community_id and streams <= 0;
          end if;
          return null;
        end
        $f$;
      revoke all on function meridian_event_stream_count() from public;
      create trigger event_stream_count after insert or delete on event_stream
        for each row execute function meridian_event_stream_count();

      create function meridian_event_stream_feed() returns trigger
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
      revoke all on function meridian_event_stream_feed() from public;

      -- The tenant's community, readable by the trigger's owner whatever the writing transaction's scope.
      create view meridian_tenant_community as select id as tenant_id, community_id from tenant;
      revoke all on meridian_tenant_community from public;

      create trigger outbox_event_streams after insert on outbox_event
        referencing new table as inserted
        for each statement execute function meridian_event_stream_feed();

      do $$
      begin
        if exists (select 1 from pg_roles where rolname = 'meridian_app') then
          execute 'revoke all on event_stream_community from meridian_app';
          execute 'revoke all on meridian_tenant_community from meridian_app';
          execute 'revoke insert, update on event_stream_inbox from meridian_app';
        end if;
      end
      $$;
    `);
  }

  override down(): void {
    this.addSql(`
      drop trigger outbox_event_streams on outbox_event;
      drop function meridian_event_stream_feed();
      drop view meridian_tenant_community;
      drop trigger event_stream_count on event_stream;
      drop function meridian_event_stream_count();
      drop table event_stream_community;
      drop table event_stream_set;
      drop table event_stream_account;
      drop table event_stream_inbox;
      drop table event_stream_subject;
      drop table event_stream;
    `);
  }
}

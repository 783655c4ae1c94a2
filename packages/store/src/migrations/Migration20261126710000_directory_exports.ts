import { Migration } from '@mikro-orm/migrations';

const IN_COMMUNITY = 'community_id = (select meridian_current_community()) or (select meridian_platform_scope())';

/**
 * A community pushes its global directory to external directories through
 * any connector (issue 6, ADR 0015): `directory_export` is such a push (the
 * connector kind, its config, its secrets sealed by the hub's SecretBox), and
 * `directory_export_link` what each person became there and what is still to
 * do. The projector marks a person's links `pending` in the transaction that
 * changes the person; the exporter pushes current state and records it.
 */
export class Migration20261126710000_directory_exports extends Migration {
  override up(): void {
    this.addSql(`
      create table directory_export (
        id uuid primary key,
        community_id uuid not null references community (id) on delete cascade,
        name text not null,
        kind text not null,
        config jsonb not null,
        secret_names text[] not null default '{}',
        sealed_secrets text null,
        enabled boolean not null default true,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        constraint directory_export_name_key unique (community_id, name)
      );

      create table directory_export_link (
        export_id uuid not null references directory_export (id) on delete cascade,
        person_id uuid not null,
        community_id uuid not null,
        -- pending: to push; synced: the target holds the person's state; deleted: removed there; failed: a permanent error.
        status text not null check (status in ('pending', 'synced', 'deleted', 'failed')),
        remote_id text null,
        pushed_hash text null,
        pushed_version integer null,
        -- The person's version the last change asked for; a push of an older one leaves the link pending.
        wanted_version integer not null default 0,
        attempts integer not null default 0,
        last_error text null,
        not_before timestamptz not null,
        updated_at timestamptz not null,
        primary key (export_id, person_id)
      );
      create index directory_export_link_due_index on directory_export_link (not_before) where status = 'pending';

      alter table directory_export enable row level security, force row level security;
      alter table directory_export_link enable row level security, force row level security;
      create policy community_directory on directory_export using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
      create policy community_directory on directory_export_link using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
    `);
  }

  override down(): void {
    this.addSql('drop table directory_export_link; drop table directory_export;');
  }
}

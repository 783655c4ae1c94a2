import { Migration } from '@mikro-orm/migrations';

/**
 * Leavers with a successor (issue 19, draft-ietf-scim-use-cases §3.1):
 * `offboarding` keeps each offboarding's plan, status, report and the
 * outcome of its transfers per target, and the times its next step is due
 * (a scheduled leave, the deletion after the grace period), so that a
 * schedule survives restarts and any worker process runs it once (a lease).
 */
export class Migration20261207670000_offboarding extends Migration {
  override up(): void {
    this.addSql(`
      create table offboarding (
        id uuid primary key,
        tenant_id uuid not null references tenant (id) on delete cascade,
        user_id uuid not null,
        successor_id uuid not null,
        status text not null check (status in ('scheduled', 'suspended', 'deleted', 'cancelled')),
        run_at timestamptz not null,
        delete_at timestamptz not null,
        plan jsonb not null,
        policy jsonb not null,
        report jsonb null,
        transfers jsonb not null default '[]',
        request_id text not null,
        claimed_until timestamptz null,
        created_at timestamptz not null,
        updated_at timestamptz not null
      );
      -- One pending offboarding per leaver.
      create unique index offboarding_pending_user_key on offboarding (tenant_id, user_id) where status in ('scheduled', 'suspended');
      create index offboarding_tenant_index on offboarding (tenant_id, created_at desc);
      -- The runner's scan: the next step's time of what is pending.
      create index offboarding_due_index on offboarding ((case when status = 'scheduled' then run_at else delete_at end))
        where status in ('scheduled', 'suspended');

      do $$
      begin
        if exists (select 1 from pg_proc where proname = 'meridian_current_tenant')
           and exists (select 1 from pg_proc where proname = 'meridian_platform_scope') then
          alter table offboarding enable row level security, force row level security;
          create policy tenant_isolation on offboarding
            using (tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope()))
            with check (tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope()));
        end if;
        if exists (select 1 from pg_roles where rolname = 'meridian_app') then
          grant select, insert, update, delete on offboarding to meridian_app;
        end if;
      end
      $$;
    `);
  }

  override down(): void {
    this.addSql('drop table offboarding;');
  }
}

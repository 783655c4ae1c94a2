import { Migration } from '@mikro-orm/migrations';

/** A tenant's rows: visible to its own transactions and to platform work (ADR 0010). */
const VISIBLE = 'tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope())';

/**
 * Group membership pushed as deltas (issue 14, ADR 0024):
 *
 * - `outbox_event.members_delta` keeps what a Group change did to its members
 *   (`{"added": [...], "removed": [...]}`, hub ids), so the relay hands it to
 *   the job and the worker need not load the group's members;
 * - `replication_link_member` is a group's member list as last pushed to a
 *   target, one row per member, so a delta is recorded at the cost of the
 *   change instead of rewriting `replication_link.pushed_members` (now unused:
 *   its rows move here).
 */
export class Migration20261207620100_replication_member_deltas extends Migration {
  override up(): void {
    this.addSql(`
      alter table outbox_event add column members_delta jsonb null;

      create table replication_link_member (
        tenant_id uuid not null references tenant (id) on delete cascade,
        target_id uuid not null references replication_target (id) on delete cascade,
        group_id uuid not null,
        remote_id text not null,
        member_kind text null check (member_kind in ('User', 'Group')),
        member_id uuid null,
        primary key (target_id, group_id, remote_id)
      );
      create index replication_link_member_local_index on replication_link_member (target_id, group_id, member_id);

      alter table replication_link_member enable row level security, force row level security;
      create policy tenant_isolation on replication_link_member using (${VISIBLE}) with check (${VISIBLE});

      select set_config('meridian.scope', 'platform', true);
      insert into replication_link_member (tenant_id, target_id, group_id, remote_id, member_kind, member_id)
      select distinct on (g.target_id, g.local_id, r.remote_id) g.tenant_id, g.target_id, g.local_id, r.remote_id, m.resource_kind, m.local_id
      from replication_link g
      cross join unnest(g.pushed_members) as r(remote_id)
      left join replication_link m on m.target_id = g.target_id and m.remote_id = r.remote_id
      where g.resource_kind = 'Group'
      order by g.target_id, g.local_id, r.remote_id, m.resource_kind;
      update replication_link set pushed_members = '{}' where pushed_members <> '{}';
      select set_config('meridian.scope', '', true);
    `);
  }

  override down(): void {
    this.addSql(`
      select set_config('meridian.scope', 'platform', true);
      update replication_link g set pushed_members = array(
        select remote_id from replication_link_member m where m.target_id = g.target_id and m.group_id = g.local_id order by remote_id)
      where g.resource_kind = 'Group';
      drop table replication_link_member;
      alter table outbox_event drop column members_delta;
      select set_config('meridian.scope', '', true);
    `);
  }
}

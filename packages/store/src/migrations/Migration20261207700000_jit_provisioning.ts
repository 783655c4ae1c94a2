import { Migration } from '@mikro-orm/migrations';

/** A tenant's rows: visible to its own transactions and to platform work (ADR 0010). */
const VISIBLE = 'tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope())';

/**
 * Just-in-time provisioning (issue 16, ADR 0030). `replication_target.jit`
 * marks a target that receives people only once they are admitted;
 * `jit_target` links a relying party to such targets ("on first sign-in");
 * `jit_admission` is the admitted set, one row per (target, user): its
 * primary key makes two concurrent first sign-ins admit (and push) once.
 */
export class Migration20261207700000_jit_provisioning extends Migration {
  override up(): void {
    this.addSql(`
      alter table replication_target add column jit boolean not null default false;

      create table jit_target (
        community_id uuid not null references community (id) on delete cascade,
        client_id text not null,
        target_id uuid not null references replication_target (id) on delete cascade,
        tenant_id uuid not null references tenant (id) on delete cascade,
        created_at timestamptz not null,
        primary key (community_id, client_id, target_id)
      );
      create index jit_target_target_index on jit_target (target_id);

      create table jit_admission (
        tenant_id uuid not null references tenant (id) on delete cascade,
        target_id uuid not null references replication_target (id) on delete cascade,
        user_id uuid not null,
        client_id text,
        status text not null check (status in ('pending', 'delivered', 'failed')),
        last_error text,
        admitted_at timestamptz not null,
        settled_at timestamptz,
        primary key (target_id, user_id)
      );
      create index jit_admission_tenant_user_index on jit_admission (tenant_id, user_id);

      alter table jit_target enable row level security, force row level security;
      alter table jit_admission enable row level security, force row level security;
      create policy tenant_jit on jit_target using (${VISIBLE}) with check (${VISIBLE});
      create policy tenant_jit on jit_admission using (${VISIBLE}) with check (${VISIBLE});
    `);
  }

  override down(): void {
    this.addSql('drop table jit_admission; drop table jit_target; alter table replication_target drop column jit;');
  }
}

import { createHash } from 'node:crypto';
import { Migration } from '@mikro-orm/migrations';
import canonicalize from 'canonicalize';

/** The request id of the events this migration records for the memberships it removes. */
const REQUEST_ID = 'Migration20261207100000_group_graph_integrity';

/**
 * The membership graph keeps two invariants in the database (issue 12, ADR 0018):
 *
 * - **A member exists.** `group_member` gets two stored generated columns,
 *   `member_user_id` and `member_group_id` (the `member_id` of a User or of a
 *   Group member, null otherwise), each a foreign key `on delete cascade` to
 *   `scim_user` and `scim_group`. Deleting a user or a group removes its
 *   memberships in the same statement, and a membership of a resource that a
 *   concurrent transaction deletes fails its key check (23503) instead of
 *   being stored. Each column has a partial index for the cascade.
 * - **No cycle.** An after-statement trigger on insert and on update,
 *   `meridian_group_member_acyclic()`, sees the new rows as a transition
 *   table. When a Group is among the new members it takes a
 *   transaction-scoped advisory lock per tenant (`group-graph:<tenant id>`),
 *   then walks upwards, breadth first and with no depth limit, from each group
 *   that got a group member, and refuses (23514, constraint
 *   `group_member_acyclic`) a new member that already contains the group. The
 *   detail is the cycle as JSON, `[{id, displayName}]` from the group back to
 *   itself. The lock is held until commit, so the next such change in the
 *   tenant runs its check on a snapshot that includes this one (READ
 *   COMMITTED takes a snapshot per statement). A REPEATABLE READ transaction
 *   cannot see what committed after its snapshot: the trigger refuses it
 *   (0A000). SERIALIZABLE transactions are also checked by PostgreSQL's
 *   serializable snapshot isolation.
 *
 * Rows that break either rule are removed first: members that do not exist
 * in the group's tenant, then, one at a time, the most recently added
 * membership that lies on a cycle, until none does. Each group that lost
 * members gets a new version, a `group.updated` outbox event (replication
 * pushes its current state) and an audit entry with `membersRemoved`, as a
 * PATCH would. The SQL of those rows is written here, not taken from the
 * store's code, so that this migration keeps working when that code changes.
 */
export class Migration20261207100000_group_graph_integrity extends Migration {
  override async up(): Promise<void> {
    // The owner is bound by the forced row-level security policies (ADR 0010): see every tenant's rows.
    await this.execute("select set_config('meridian.scope', 'platform', true)");
    // Nothing writes memberships while they are checked and constrained.
    await this.execute('lock table group_member in access exclusive mode');

    const removed = await this.removeDanglingMembers();
    removed.push(...(await this.breakCycles()));
    await this.recordRemovals(removed);

    await this.execute(`
      alter table group_member
        add column member_user_id uuid generated always as (case when member_type = 'User' then member_id end) stored,
        add column member_group_id uuid generated always as (case when member_type = 'Group' then member_id end) stored;
      alter table group_member
        add constraint group_member_member_user_fkey foreign key (member_user_id) references scim_user (id) on delete cascade,
        add constraint group_member_member_group_fkey foreign key (member_group_id) references scim_group (id) on delete cascade;
      create index group_member_member_user_index on group_member (member_user_id) where member_user_id is not null;
      create index group_member_member_group_index on group_member (member_group_id) where member_group_id is not null;

      create function meridian_group_member_acyclic() returns trigger
        language plpgsql
        as $f$
        declare
          tenant uuid;
          parent record;
          reached uuid[];
          via uuid[];
          frontier uuid[];
          next_groups uuid[];
          next_via uuid[];
          closing uuid;
          step uuid;
          cycle uuid[];
        begin
          if not exists (select 1 from added where member_type = 'Group') then
            return null;
          end if;
          if current_setting('transaction_isolation') = 'repeatable read' then
            raise exception 'A group cannot get a group member in a REPEATABLE READ transaction: the cycle check must see what committed since it began.'
              using errcode = 'feature_not_supported', hint = 'Use READ COMMITTED (the default) or SERIALIZABLE.';
          end if;
          -- One lock per tenant, in a fixed order; held until commit.
          for tenant in select distinct a.tenant_id from added a where a.member_type = 'Group' order by 1 loop
            perform pg_advisory_xact_lock(hashtextextended('group-graph:' || tenant::text, 0));
          end loop;
          for parent in select distinct a.tenant_id, a.group_id from added a where a.member_type = 'Group' loop
            -- Every group that contains parent.group_id, each reached once, with the group it was reached through.
            reached := array[parent.group_id];
            via := array[null::uuid];
            frontier := array[parent.group_id];
            while cardinality(frontier) > 0 loop
              select coalesce(array_agg(up.group_id), '{}'), coalesce(array_agg(up.member_id), '{}')
                into next_groups, next_via
                from (select distinct on (gm.group_id) gm.group_id, gm.member_id
                        from group_member gm
                       where gm.tenant_id = parent.tenant_id and gm.member_id = any(frontier) and gm.member_type = 'Group'
                         and gm.group_id <> all(reached)
                       order by gm.group_id, gm.member_id) up;
              reached := reached || next_groups;
              via := via || next_via;
              frontier := next_groups;
            end loop;
            -- A new member that is the group, or contains it, closes a cycle.
            select a.member_id into closing
              from added a
             where a.tenant_id = parent.tenant_id and a.group_id = parent.group_id and a.member_type = 'Group'
               and a.member_id = any(reached)
             order by a.member_id
             limit 1;
            if closing is not null then
              cycle := array[parent.group_id];
              step := closing;
              loop
                cycle := cycle || step;
                exit when step = parent.group_id;
                step := via[array_position(reached, step)];
              end loop;
              raise exception 'Group % cannot contain group %: the membership would close a cycle.', parent.group_id, closing
                using errcode = 'check_violation', constraint = 'group_member_acyclic', table = 'group_member',
                  detail = (select json_agg(json_build_object('id', c.id, 'displayName', g.display_name) order by c.n)::text
                              from unnest(cycle) with ordinality as c (id, n) left join scim_group g on g.id = c.id);
            end if;
          end loop;
          return null;
        end
        $f$;
      create trigger group_member_acyclic_insert after insert on group_member
        referencing new table as added for each statement execute function meridian_group_member_acyclic();
      create trigger group_member_acyclic_update after update on group_member
        referencing new table as added for each statement execute function meridian_group_member_acyclic();
    `);
    await this.execute("select set_config('meridian.scope', '', true)");
  }

  override async down(): Promise<void> {
    await this.execute(`
      drop trigger group_member_acyclic_update on group_member;
      drop trigger group_member_acyclic_insert on group_member;
      drop function meridian_group_member_acyclic();
      alter table group_member drop column member_group_id, drop column member_user_id;
    `);
  }

  /** Deletes memberships whose member is not a resource of the group's tenant; returns them. */
  private async removeDanglingMembers(): Promise<Removal[]> {
    return (await this.execute(`
      delete from group_member m
       where (m.member_type = 'User' and not exists (select 1 from scim_user u where u.id = m.member_id and u.tenant_id = m.tenant_id))
          or (m.member_type = 'Group' and not exists (select 1 from scim_group g where g.id = m.member_id and g.tenant_id = m.tenant_id))
      returning m.tenant_id, m.group_id, m.member_id
    `)) as unknown as Removal[];
  }

  /** Deletes the most recently added membership on a cycle, until no membership is on one; returns them. */
  private async breakCycles(): Promise<Removal[]> {
    await this.execute(`
      create temporary table group_edge on commit drop as
        select tenant_id, group_id, member_id, created_at from group_member where member_type = 'Group';
      create index on group_edge (group_id);
    `);
    const removed: Removal[] = [];
    for (;;) {
      // (edge, node): node is the member of the edge or inside it; an edge whose group is inside its member is on a cycle.
      const [edge] = (await this.execute(`
        with recursive inside (tenant_id, group_id, member_id, node) as (
          select tenant_id, group_id, member_id, member_id from group_edge
          union
          select i.tenant_id, i.group_id, i.member_id, e.member_id
            from inside i join group_edge e on e.group_id = i.node and e.tenant_id = i.tenant_id
        )
        select e.tenant_id, e.group_id, e.member_id
          from inside i join group_edge e on (e.tenant_id, e.group_id, e.member_id) = (i.tenant_id, i.group_id, i.member_id)
         where i.node = i.group_id
         order by e.created_at desc, e.group_id desc, e.member_id desc
         limit 1
      `)) as unknown as Removal[];
      if (!edge) break;
      await this.execute('delete from group_edge where group_id = ? and member_id = ?', [edge.group_id, edge.member_id]);
      await this.execute('delete from group_member where group_id = ? and member_id = ?', [edge.group_id, edge.member_id]);
      removed.push(edge);
    }
    await this.execute('drop table group_edge');
    return removed;
  }

  /** Gives each group that lost members a new version, a `group.updated` outbox event and an audit entry. */
  private async recordRemovals(removed: Removal[]): Promise<void> {
    const byGroup = new Map<string, Removal[]>();
    for (const removal of removed) byGroup.set(removal.group_id, [...(byGroup.get(removal.group_id) ?? []), removal]);
    const now = new Date();
    for (const [groupId, removals] of [...byGroup].sort(([a], [b]) => a.localeCompare(b))) {
      const [group] = (await this.execute(
        `update scim_group set version = version + 1, updated_at = ? where id = ?
         returning tenant_id, version, attributes, external_id`,
        [now, groupId],
      )) as unknown as { tenant_id: string; version: number; attributes: Record<string, unknown>; external_id: string | null }[];
      if (!group) continue;
      const view = { ...group.attributes, ...(group.external_id !== null ? { externalId: group.external_id } : {}) };
      const membersRemoved = removals.map((r) => r.member_id).sort();
      await this.execute(
        `insert into outbox_event (tenant_id, type, resource_type, resource_id, resource_version, request_id, created_at)
         values (?, 'group.updated', 'Group', ?, ?, ?, ?)`,
        [group.tenant_id, groupId, group.version, REQUEST_ID, now],
      );
      await this.appendAudit(group.tenant_id, groupId, { before: view, after: { ...view, membersRemoved } }, now);
    }
  }

  /** Appends a `group.updated` entry to the tenant's audit chain, hashed as every entry is (ADR 0005). */
  private async appendAudit(tenantId: string, groupId: string, changes: Record<string, unknown>, now: Date): Promise<void> {
    const diff = redact(changes);
    await this.execute('select pg_advisory_xact_lock(hashtextextended(?, 7))', [`audit:${tenantId}`]);
    const [last] = (await this.execute('select seq, hash from audit_event where chain = ? order by seq desc limit 1', [
      tenantId,
    ])) as unknown as { seq: string; hash: string }[];
    const entry = {
      chain: tenantId,
      seq: last ? Number(last.seq) + 1 : 1,
      tenantId,
      actorType: 'system',
      actorId: 'migration',
      action: 'group.updated',
      resourceType: 'Group',
      resourceId: groupId,
      requestId: REQUEST_ID,
      sourceAddress: null,
      diff,
      createdAt: now.toISOString(),
      prevHash: last?.hash ?? '0'.repeat(64),
    };
    const hash = createHash('sha256')
      .update(canonicalize(entry) ?? '')
      .digest('hex');
    await this.execute(
      `insert into audit_event (chain, seq, tenant_id, actor_type, actor_id, action, resource_type, resource_id,
         request_id, source_address, diff, created_at, prev_hash, hash)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?, ?, ?)`,
      [
        entry.chain,
        entry.seq,
        tenantId,
        entry.actorType,
        entry.actorId,
        entry.action,
        entry.resourceType,
        groupId,
        REQUEST_ID,
        JSON.stringify(diff),
        now,
        entry.prevHash,
        hash,
      ],
    );
  }
}

/** Audit diffs never hold anything that looks like a secret (ADR 0005). */
function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, /password|secret|token|credential/i.test(key) ? '[REDACTED]' : redact(inner)]),
  );
}

interface Removal {
  tenant_id: string;
  group_id: string;
  member_id: string;
}

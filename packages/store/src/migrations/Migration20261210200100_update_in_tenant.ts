import { Migration } from '@mikro-orm/migrations';

/**
 * `meridian_update_in_tenant(tenant, statement)`: the one statement of a User's update read without a lock (ADR
 * 0039): the update of the row at the version that was read, its outbox event and its chained audit entry, as
 * `meridian_write_in_tenant` runs a create (migration 20261207640100). The statement answers, in its first column,
 * how many rows the update wrote; when that is not one, the row changed (or went) since it was read, and the
 * function raises SQLSTATE `MRD01`, which undoes the whole statement, event and audit entry included. The store
 * then does the work again from a new read.
 */
export class Migration20261210200100_update_in_tenant extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_update_in_tenant(p_tenant uuid, p_statement text) returns void
        language plpgsql
        as $f$
        declare
          v_written bigint;
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          execute p_statement into v_written;
          if v_written is distinct from 1 then
            raise exception 'The row changed since it was read.' using errcode = 'MRD01';
          end if;
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql('drop function meridian_update_in_tenant(uuid, text);');
  }
}

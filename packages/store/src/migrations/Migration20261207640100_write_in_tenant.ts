import { Migration } from '@mikro-orm/migrations';

/**
 * A write that needs nothing read first, in one statement (ADR 0022): the
 * function sets the tenant for row-level security (ADR 0010) and runs the
 * statement the store composed, with its literals already quoted. Sent
 * outside BEGIN, the call is its own transaction: the create of a User, its
 * outbox event and its audit entry commit together or not at all, and the
 * chain's lock is held for that one round trip only. It runs as the caller
 * (SECURITY INVOKER): the policies apply as to any statement of the
 * application role.
 */
export class Migration20261207640100_write_in_tenant extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_write_in_tenant(p_tenant uuid, p_statement text) returns void
        language plpgsql
        as $f$
        begin
          perform set_config('meridian.tenant_id', p_tenant::text, true);
          execute p_statement;
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql('drop function meridian_write_in_tenant(uuid, text);');
  }
}

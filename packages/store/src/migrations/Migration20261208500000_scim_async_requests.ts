import { Migration } from '@mikro-orm/migrations';

const OWN_TENANT = 'tenant_id = (select meridian_current_tenant()) or (select meridian_platform_scope())';

/**
 * Asynchronous SCIM requests (issue 17, use case 2.3.1, RFC 9967 §2.5.1 and
 * §3): a write sent with `Prefer: respond-async` whose caller has a stream
 * for `urn:ietf:params:scim:event:misc:asyncresp`. The row is written before
 * the write runs (`accepted_at` null), completed after it committed (status,
 * location, version), and removed by the transmitter in the transaction that
 * stores the asynchronous response SET once every target in scope reached a
 * final outcome. A row never accepted (the process died between the write
 * and its completion) is recovered from the outbox by its request id, or
 * dropped when the write never committed.
 */
export class Migration20261208500000_scim_async_requests extends Migration {
  override up(): void {
    this.addSql(`
      create table scim_async_request (
        id uuid primary key,
        tenant_id uuid not null references tenant (id) on delete cascade,
        community_id uuid not null,
        token_id text not null,
        request_id text not null,
        method text not null check (method in ('POST', 'PUT', 'PATCH', 'DELETE')),
        resource_type text null check (resource_type in ('User', 'Group')),
        resource_id text null,
        status integer null,
        version text null,
        location text null,
        created_at timestamptz not null,
        accepted_at timestamptz null
      );
      create index scim_async_request_created_index on scim_async_request (created_at);
      create unique index scim_async_request_request_key on scim_async_request (tenant_id, request_id);
      alter table scim_async_request enable row level security, force row level security;
      create policy tenant_async_requests on scim_async_request using (${OWN_TENANT}) with check (${OWN_TENANT});
    `);
  }

  override down(): void {
    this.addSql('drop table scim_async_request;');
  }
}

import { Migration } from '@mikro-orm/migrations';

/**
 * Issue 17 with issue 15: a community token's stream carries every User and
 * Group of the community, so only a token that may read the directory
 * (`directory:read`, `graphql:read`, `admin`) receives one. Streams a
 * `relying_party` token made before are disabled (the producer makes nothing
 * for them anyway), and their SETs not yet handed out or acknowledged are
 * withdrawn (`failed`), so no person it may not see reaches it after the
 * upgrade. Its relying party moves to a stream of its registration's client
 * credentials (docs/events.md).
 */
export class Migration20261208400000_token_streams_read_directory extends Migration {
  override up(): void {
    this.addSql(`
      select set_config('meridian.scope', 'platform', true);
      with refused as (
        update event_stream e set status = 'disabled', updated_at = now(),
          status_reason = 'A relying_party token may not read the directory: use a client-credentials stream (docs/events.md).'
        from api_token t
        where e.receiver_kind = 'token' and t.id::text = e.receiver_id
          and not (t.scopes && array['directory:read', 'graphql:read', 'admin']::text[])
        returning e.id
      )
      update event_stream_set s set state = 'failed', settled_at = now(), last_error = 'withdrawn: the receiver may not read the directory'
      where s.stream_id in (select id from refused) and s.state in ('pending', 'delivered');
      select set_config('meridian.scope', '', true);
    `);
  }

  override down(): void {
    // The withdrawn SETs stay withdrawn, the streams disabled: nothing to undo safely.
  }
}

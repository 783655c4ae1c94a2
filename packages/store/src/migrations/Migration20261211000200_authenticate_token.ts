import { Migration } from '@mikro-orm/migrations';

/**
 * `meridian_authenticate_token(secret_hash, now)`: a bearer token's look-up as one prepared call (issue 14), where it
 * was a transaction of four statements (`begin`, the platform scope's `set_config`, the select with the hash written
 * into its text, `commit`) and a second one to record the use.
 *
 * The tenant is not known before the token is found, so the function sets the platform scope for its own
 * transaction (SECURITY INVOKER: the row-level security policies of `api_token` and `scim_user` apply as to any
 * statement of the application role). It records the use, at most once a minute, of a token it would accept (not
 * revoked, not expired, an end user's token only while its User is there and active), then answers the token's row
 * with its User's `active`: the store decides the outcome from that row, as before.
 */
export class Migration20261211000200_authenticate_token extends Migration {
  override up(): void {
    this.addSql(`
      create function meridian_authenticate_token(p_secret_hash text, p_now timestamptz)
        returns table (id uuid, tenant_id uuid, community_id uuid, user_id uuid, role text, name text, prefix text,
                       scopes text[], created_at timestamptz, expires_at timestamptz, revoked_at timestamptz,
                       last_used_at timestamptz, user_active boolean)
        language plpgsql
        as $f$
        begin
          perform set_config('meridian.scope', 'platform', true);
          update api_token t set last_used_at = p_now
           where t.secret_hash = p_secret_hash
             and t.revoked_at is null
             and (t.expires_at is null or t.expires_at > p_now)
             and (t.last_used_at is null or t.last_used_at < p_now - interval '1 minute')
             and (t.user_id is null
                  or exists (select 1 from scim_user u where u.id = t.user_id and u.tenant_id = t.tenant_id and u.active));
          return query
            select t.id, t.tenant_id, t.community_id, t.user_id, t.role, t.name, t.prefix, t.scopes, t.created_at,
                   t.expires_at, t.revoked_at, t.last_used_at, u.active
              from api_token t left join scim_user u on u.id = t.user_id and u.tenant_id = t.tenant_id
             where t.secret_hash = p_secret_hash;
        end
        $f$;
    `);
  }

  override down(): void {
    this.addSql('drop function meridian_authenticate_token(text, timestamptz);');
  }
}

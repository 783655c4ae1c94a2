import { Migration } from '@mikro-orm/migrations';

/**
 * Issue 15: the `relying_party` role no longer reads the community's
 * directory; a relying party reads only what people released to it, through
 * its registration (docs/sso.md). Tokens issued for the role keep their
 * stored scopes, so theirs change here from `directory:read` to
 * `released:read`; tokens issued with explicit scopes are left as issued.
 */
export class Migration20261207600500_relying_party_release extends Migration {
  override up(): void {
    this.addSql("update api_token set scopes = array_replace(scopes, 'directory:read', 'released:read') where role = 'relying_party';");
  }

  override down(): void {
    this.addSql("update api_token set scopes = array_replace(scopes, 'released:read', 'directory:read') where role = 'relying_party';");
  }
}

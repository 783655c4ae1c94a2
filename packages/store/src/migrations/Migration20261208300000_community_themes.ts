import { Migration } from '@mikro-orm/migrations';

const IN_COMMUNITY = 'community_id = (select meridian_current_community()) or (select meridian_platform_scope())';
const HEX = `'^#[0-9a-f]{6}$'`;

/**
 * Issue 15, docs/sso.md: how a community's sign-in, consent, account and error
 * pages look. Core validates every value (CommunityThemeService); the checks
 * here keep a colour that reaches CSS a hex colour and a logo an https or
 * data:image URI whatever wrote the row.
 */
export class Migration20261208300000_community_themes extends Migration {
  override up(): void {
    this.addSql(`
      create table sso_community_theme (
        community_id uuid primary key references community (id) on delete cascade,
        display_name text null check (char_length(display_name) between 1 and 100),
        logo_url text null check (logo_url ~ '^(https://|data:image/)' and char_length(logo_url) <= 32768),
        primary_colour text null check (primary_colour ~ ${HEX}),
        background_colour text null check (background_colour ~ ${HEX}),
        support_url text null check (support_url ~ '^(https://|mailto:)' and char_length(support_url) <= 2048),
        updated_at timestamptz not null
      );
      alter table sso_community_theme enable row level security, force row level security;
      create policy community_sso on sso_community_theme using (${IN_COMMUNITY}) with check (${IN_COMMUNITY});
    `);
  }

  override down(): void {
    this.addSql('drop table sso_community_theme;');
  }
}

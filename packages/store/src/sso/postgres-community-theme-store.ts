import type { Clock, CommunityTheme, CommunityThemeStore, RequestContext, StoredCommunityTheme } from '@meridian/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { auditEvent } from '../events/event-recorder.js';
import { asPlatform, inCommunity } from '../orm/unit-of-work.js';

interface ThemeRow {
  community_id: string;
  display_name: string | null;
  logo_url: string | null;
  primary_colour: string | null;
  background_colour: string | null;
  support_url: string | null;
  updated_at: Date;
}

const COLUMNS = 'community_id, display_name, logo_url, primary_colour, background_colour, support_url, updated_at';

function themeOf(row: ThemeRow): StoredCommunityTheme {
  return {
    communityId: row.community_id,
    displayName: row.display_name,
    logoUrl: row.logo_url,
    primaryColour: row.primary_colour,
    backgroundColour: row.background_colour,
    supportUrl: row.support_url,
    updatedAt: new Date(row.updated_at),
  };
}

/** What the audit entry keeps of a theme: a data: logo by its size, not its bytes. */
function auditValues(theme: CommunityTheme | undefined): Record<string, unknown> | null {
  if (!theme) return null;
  const logo = theme.logoUrl?.startsWith('data:')
    ? `${theme.logoUrl.slice(0, theme.logoUrl.indexOf(','))},… (${theme.logoUrl.length} characters)`
    : theme.logoUrl;
  return {
    displayName: theme.displayName,
    logoUrl: logo,
    primaryColour: theme.primaryColour,
    backgroundColour: theme.backgroundColour,
    supportUrl: theme.supportUrl,
  };
}

/**
 * The communities' page themes (`sso_community_theme`, docs/sso.md): read in
 * the community's scope by the pages, written as platform work with a
 * `community.theme_set` audit entry on the platform chain, like registrations.
 */
export class PostgresCommunityThemeStore implements CommunityThemeStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  async find(communityId: string): Promise<StoredCommunityTheme | undefined> {
    const [row] = await inCommunity(this.orm, communityId, (em) =>
      em.execute<ThemeRow[]>(`select ${COLUMNS} from sso_community_theme where community_id = ?`, [communityId]),
    );
    return row ? themeOf(row) : undefined;
  }

  set(communityId: string, theme: CommunityTheme, context: RequestContext): Promise<StoredCommunityTheme | undefined> {
    const now = this.clock.now();
    const empty = Object.values(theme).every((value) => value === null);
    return asPlatform(this.orm, async (em) => {
      const [before] = await em.execute<ThemeRow[]>(`select ${COLUMNS} from sso_community_theme where community_id = ? for update`, [
        communityId,
      ]);
      let after: ThemeRow | undefined;
      if (empty) {
        await em.execute('delete from sso_community_theme where community_id = ?', [communityId]);
      } else {
        [after] = await em.execute<ThemeRow[]>(
          `insert into sso_community_theme (${COLUMNS}) values (?, ?, ?, ?, ?, ?, ?)
           on conflict (community_id) do update set display_name = excluded.display_name, logo_url = excluded.logo_url,
             primary_colour = excluded.primary_colour, background_colour = excluded.background_colour,
             support_url = excluded.support_url, updated_at = excluded.updated_at
           returning ${COLUMNS}`,
          [communityId, theme.displayName, theme.logoUrl, theme.primaryColour, theme.backgroundColour, theme.supportUrl, now],
        );
      }
      // Audit only: nothing after the commit acts on a theme (the pages read it on every render).
      await auditEvent(
        em,
        {
          type: 'community.theme_set',
          tenantId: null,
          resourceType: 'Community',
          resourceId: communityId,
          before: auditValues(before ? themeOf(before) : undefined),
          after: auditValues(after ? themeOf(after) : undefined),
        },
        context,
        now,
      );
      return after ? themeOf(after) : undefined;
    });
  }
}

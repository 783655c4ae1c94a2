import { MeridianError } from '../errors/meridian-error.js';
import type { AdminService } from '../tenancy/admin-service.js';
import type { Principal, RequestContext } from '../tenancy/model.js';

/**
 * How a community's sign-in, consent, account and error pages look (issue 15,
 * docs/sso.md). Every field is optional: what is not set falls back to the
 * community's name and Meridian's colours. The values are validated here, so
 * that the pages can put them into HTML and CSS as they are (still escaped).
 */
export interface CommunityTheme {
  /** The heading of the pages and the logo's alt text (default: the community's name). */
  displayName: string | null;
  /** An https URL of an image, or a `data:image/…;base64,` URI of at most {@link LOGO_DATA_URI_LIMIT} characters. */
  logoUrl: string | null;
  /** `#rrggbb`, lower case: headings, buttons, focus rings. */
  primaryColour: string | null;
  /** `#rrggbb`, lower case: the page behind the card. */
  backgroundColour: string | null;
  /** Where a person gets help: an https URL or a `mailto:` address, shown as the pages' footer link. */
  supportUrl: string | null;
}

/** A community's stored theme. */
export interface StoredCommunityTheme extends CommunityTheme {
  communityId: string;
  updatedAt: Date;
}

/** A change of a theme: `undefined` keeps a field, `null` or `''` removes it. */
export type CommunityThemeChanges = { [K in keyof CommunityTheme]?: string | null };

/** The communities' themes; every write audited (`community.theme_set`, platform chain). */
export interface CommunityThemeStore {
  find(communityId: string): Promise<StoredCommunityTheme | undefined>;
  /** Replaces the community's theme (all fields null: removes it). */
  set(communityId: string, theme: CommunityTheme, context: RequestContext): Promise<StoredCommunityTheme | undefined>;
}

/** A `data:` logo is sent with every page: at most 32 KiB of URI (about 24 KiB of image). */
export const LOGO_DATA_URI_LIMIT = 32_768;

const EMPTY_THEME: CommunityTheme = { displayName: null, logoUrl: null, primaryColour: null, backgroundColour: null, supportUrl: null };
const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const DATA_LOGO = /^data:image\/(png|jpeg|gif|webp|svg\+xml);base64,([A-Za-z0-9+/]+={0,2})$/;
// Core does no IO and has no URL parser. An https logo names one file: a host, a path not ending in '/', and no
// query, fragment or credentials; its characters are RFC 3986 path characters without ';' and ',' (which would end a
// Content-Security-Policy source expression or list) and without quotes.
const HTTPS_LOGO = /^https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?\/(?:[A-Za-z0-9._~%!$&()*+=:@/-]*[A-Za-z0-9._~%!$&()*+=:@-])$/;
const HTTPS_SUPPORT = /^https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?#][^\s"'<>\\]*)?$/;
const MAILTO = /^mailto:[A-Za-z0-9.!#$%&*+/=?^_{|}~-]+@[A-Za-z0-9.-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
const CONTROL = /[\u0000-\u001f\u007f]/;

function invalid(field: keyof CommunityTheme, message: string): MeridianError {
  return new MeridianError('INVALID_INPUT', message, { field });
}

/** `#abc` or `#aabbcc`, any case, as `#aabbcc`; anything else (a name, `red;}body{`) is refused. */
function parseHexColour(value: string, field: 'primaryColour' | 'backgroundColour'): string {
  const colour = value.trim();
  if (!HEX_COLOUR.test(colour)) {
    throw invalid(field, `${field} must be a hex colour such as #1f4e8c (got '${colour.slice(0, 40)}').`);
  }
  const hex = colour.slice(1).toLowerCase();
  return `#${hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex}`;
}

/**
 * A logo: an https URL naming one image (no credentials, nothing a
 * Content-Security-Policy source list cannot hold), or a base64 `data:` URI
 * of a PNG, JPEG, GIF, WebP or SVG image within the size limit.
 */
function parseLogoUrl(value: string): string {
  const logo = value.trim();
  if (logo.startsWith('data:')) {
    if (logo.length > LOGO_DATA_URI_LIMIT) {
      throw invalid('logoUrl', `logoUrl: a data: URI may have at most ${LOGO_DATA_URI_LIMIT} characters (got ${logo.length}).`);
    }
    const match = DATA_LOGO.exec(logo);
    if (!match || (match[2] ?? '').length % 4 !== 0) {
      throw invalid('logoUrl', 'logoUrl: a data: URI must be data:image/(png|jpeg|gif|webp|svg+xml);base64,<image>.');
    }
    return logo;
  }
  if (!/^https:\/\//i.test(logo)) {
    throw invalid('logoUrl', `logoUrl must be an https URL or a data:image URI (got '${logo.slice(0, 40)}').`);
  }
  if (logo.length > 2048 || !HTTPS_LOGO.test(logo)) {
    throw invalid(
      'logoUrl',
      'logoUrl must be an https URL naming one image file: a host and a path, no query, fragment, user name or password, and no ; , quotes or spaces.',
    );
  }
  return logo;
}

/** Where a person gets help: an https URL or a `mailto:` address. */
function parseSupportUrl(value: string): string {
  const support = value.trim();
  if (support.length > 2048 || !(HTTPS_SUPPORT.test(support) || MAILTO.test(support))) {
    throw invalid('supportUrl', `supportUrl must be an https URL or a mailto: address (got '${support.slice(0, 40)}').`);
  }
  return support;
}

function parseDisplayName(value: string): string {
  const name = value.trim();
  if (name.length > 100 || CONTROL.test(name)) {
    throw invalid('displayName', 'displayName must be at most 100 characters, without control characters.');
  }
  return name;
}

const PARSERS: { [K in keyof CommunityTheme]: (value: string) => string } = {
  displayName: parseDisplayName,
  logoUrl: parseLogoUrl,
  primaryColour: (value) => parseHexColour(value, 'primaryColour'),
  backgroundColour: (value) => parseHexColour(value, 'backgroundColour'),
  supportUrl: parseSupportUrl,
};

/**
 * A theme with `changes` applied: each given field parsed (INVALID_INPUT
 * naming the field when it is not acceptable), `null` or blank removing it.
 *
 * @example
 * applyThemeChanges(undefined, { primaryColour: '#ABC' }).primaryColour // '#aabbcc'
 */
export function applyThemeChanges(current: CommunityTheme | undefined, changes: CommunityThemeChanges): CommunityTheme {
  const next: CommunityTheme = { ...EMPTY_THEME, ...pick(current) };
  for (const field of Object.keys(PARSERS) as (keyof CommunityTheme)[]) {
    const value = changes[field];
    if (value === undefined) continue;
    if (value !== null && typeof value !== 'string') throw invalid(field, `${field} must be a string.`);
    next[field] = value === null || value.trim() === '' ? null : PARSERS[field](value);
  }
  return next;
}

function pick(theme: CommunityTheme | undefined): Partial<CommunityTheme> {
  if (!theme) return {};
  const { displayName, logoUrl, primaryColour, backgroundColour, supportUrl } = theme;
  return { displayName, logoUrl, primaryColour, backgroundColour, supportUrl };
}

/**
 * The communities' page themes (docs/sso.md): read with `sso.read`, changed
 * with `sso.manage` (community admins of that community, platform admins);
 * another community is NOT_FOUND.
 */
export class CommunityThemeService {
  constructor(
    private readonly store: CommunityThemeStore,
    private readonly admin: Pick<AdminService, 'authorizeCommunity'>,
  ) {}

  /** The community's theme, every field null when none is set. */
  async get(principal: Principal, community: string): Promise<CommunityTheme> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.read', community);
    return { ...EMPTY_THEME, ...pick(await this.store.find(found.id)) };
  }

  /** Changes the theme (fields not given keep their value); `clear` removes it first. Audited. */
  async set(principal: Principal, community: string, changes: CommunityThemeChanges, context: RequestContext, clear = false) {
    const found = await this.admin.authorizeCommunity(principal, 'sso.manage', community);
    const current = clear ? undefined : await this.store.find(found.id);
    const next = applyThemeChanges(current, changes);
    await this.store.set(found.id, next, context);
    return next;
  }
}

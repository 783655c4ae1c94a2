import { type InboundSource, MeridianError, SCHEMA, type SourceEntry, type SourceLookupReader, type SourceRead } from '@meridian/core';

/** The validated configuration of a SCIM inbound source (the bearer token is a secret, kept apart). */
export interface ScimSourceConfig {
  /** The office's SCIM base URL, e.g. `https://hr.example.org/scim/v2`, without a trailing slash. */
  baseUrl: string;
  /** How long one request may take. */
  timeoutMs: number;
  /** Users per list page. */
  pageSize: number;
  /** Events from the source (RFC 9967 SETs pushed per RFC 8935) instead of, or besides, scheduled pulls; absent: none. */
  events?: ScimSourceEvents;
}

/** Who may push SCIM events for a source, and how the hub verifies their SETs. */
export interface ScimSourceEvents {
  /** The SETs' `iss`. */
  issuer: string;
  /** Where the transmitter's signing keys are (a JWKS); fetched through the outbound request policy. */
  jwksUri: string;
  /** The SETs' `aud`; absent: the endpoint's own URL, `{MERIDIAN_PUBLIC_URL}/sources/{id}/events`. */
  audience?: string;
}

/**
 * Checks a SCIM source's config and secrets: `baseUrl` (http or https),
 * optional `timeoutMs` (1000-60000), `pageSize` (1-1000), `firstSignIn`
 * (`{ lookupBy: subject|email|userName, attribute? }`), `events` (`{ issuer,
 * jwksUri, audience? }`: the transmitter whose SETs the source's event
 * endpoint takes; the outbound policy checks `jwksUri` like `baseUrl`); the
 * secret `token`.
 * `INVALID_CONFIG` naming the field.
 */
export function parseScimSourceConfig(config: Record<string, unknown>, secrets: Record<string, string>): ScimSourceConfig {
  const fail = (field: string, message: string) => new MeridianError('INVALID_CONFIG', message, { field });
  const known = new Set(['baseUrl', 'timeoutMs', 'pageSize', 'firstSignIn', 'events']);
  for (const key of Object.keys(config)) if (!known.has(key)) throw fail(`config.${key}`, `Unknown SCIM source setting '${key}'.`);
  const { baseUrl, timeoutMs = 10_000, pageSize = 100, firstSignIn, events } = config;
  if (typeof baseUrl !== 'string' || !URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
    throw fail('config.baseUrl', "'baseUrl' is the office's SCIM base URL (https://…/scim/v2).");
  }
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1000 || timeoutMs > 60_000) {
    throw fail('config.timeoutMs', "'timeoutMs' is a whole number from 1000 to 60000.");
  }
  if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw fail('config.pageSize', "'pageSize' is a whole number from 1 to 1000.");
  }
  if (firstSignIn !== undefined) {
    const settings = firstSignIn as { lookupBy?: unknown; attribute?: unknown };
    if (
      typeof firstSignIn !== 'object' ||
      firstSignIn === null ||
      !['subject', 'email', 'userName', undefined].includes(settings.lookupBy as never)
    ) {
      throw fail('config.firstSignIn', "'firstSignIn.lookupBy' is subject, email or userName.");
    }
    if (
      settings.attribute !== undefined &&
      (typeof settings.attribute !== 'string' || !/^[A-Za-z][\w.:-]{0,199}$/.test(settings.attribute))
    ) {
      throw fail('config.firstSignIn', "'firstSignIn.attribute' is a SCIM attribute path.");
    }
  }
  if (typeof secrets.token !== 'string' || secrets.token === '') throw fail('secrets.token', 'A SCIM source needs its bearer token.');
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    timeoutMs,
    pageSize,
    ...(events === undefined ? {} : { events: parseEvents(events, fail) }),
  };
}

/** Checks a SCIM source's `events` setting (the outbound policy checks `jwksUri` apart, as it does `baseUrl`). */
function parseEvents(events: unknown, fail: (field: string, message: string) => MeridianError): ScimSourceEvents {
  if (typeof events !== 'object' || events === null || Array.isArray(events))
    throw fail('config.events', "'events' is { issuer, jwksUri, audience? }.");
  const { issuer, jwksUri, audience, ...rest } = events as Record<string, unknown>;
  for (const key of Object.keys(rest)) throw fail(`config.events.${key}`, `Unknown events setting '${key}'.`);
  // RFC 8417 §2.2: `iss` and `aud` are StringOrURI values (RFC 7519 §2).
  const stringOrUri = (value: unknown) => typeof value === 'string' && value !== '' && value.length <= 2048;
  if (!stringOrUri(issuer)) throw fail('config.events.issuer', "'events.issuer' is the transmitter's issuer (the SETs' iss).");
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri) || !/^https?:$/.test(new URL(jwksUri).protocol))
    throw fail('config.events.jwksUri', "'events.jwksUri' is the URL of the transmitter's signing keys (https://…).");
  if (audience !== undefined && !stringOrUri(audience))
    throw fail('config.events.audience', "'events.audience' is the SETs' aud, a string or URI.");
  return { issuer: issuer as string, jwksUri, ...(audience === undefined ? {} : { audience: audience as string }) };
}

/** The attributes of a remote User an account is made of (RFC 7643 §4.1, §4.3); ids, meta, groups and passwords stay behind. */
const KEPT = [
  'userName',
  'externalId',
  'name',
  'displayName',
  'nickName',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'active',
  'emails',
  'phoneNumbers',
  'addresses',
  SCHEMA.enterpriseUser,
];

/** A remote SCIM User as a source entry. */
function entryOf(baseUrl: string, user: Record<string, unknown>): SourceEntry | undefined {
  if (typeof user.id !== 'string' || typeof user.userName !== 'string') return undefined;
  const attributes: Record<string, unknown> = {};
  for (const key of KEPT) if (user[key] !== undefined && user[key] !== null) attributes[key] = user[key];
  return { remoteId: user.id, location: `${baseUrl}/Users/${encodeURIComponent(user.id)}`, attributes };
}

/** A SCIM string literal (RFC 7644 §3.4.2.2: a JSON string). */
const literal = (value: string) => JSON.stringify(value);

/**
 * Reads an office's SCIM service provider as an inbound source (issue 16):
 * full reads page through `/Users`, incremental ones filter on
 * `meta.lastModified gt` the cursor (a source that refuses the filter is
 * read in full), and a first sign-in looks one person up with `eq`. Every
 * request goes through the `fetch` it is given: the hub's outbound request
 * policy.
 */
export class ScimSourceReader implements SourceLookupReader {
  constructor(private readonly fetch: typeof globalThis.fetch) {}

  private async list(config: ScimSourceConfig, token: string, filter: string | undefined, startIndex: number, count: number) {
    const url = new URL(`${config.baseUrl}/Users`);
    if (filter !== undefined) url.searchParams.set('filter', filter);
    url.searchParams.set('startIndex', String(startIndex));
    url.searchParams.set('count', String(count));
    const response = await this.fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/scim+json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(config.timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return { status: response.status, resources: [] as Record<string, unknown>[], total: 0 };
    }
    const body = (await response.json()) as { Resources?: Record<string, unknown>[]; totalResults?: number };
    return { status: 200, resources: body.Resources ?? [], total: body.totalResults ?? 0 };
  }

  private failed(config: ScimSourceConfig, status: number): MeridianError {
    return new MeridianError('UNAVAILABLE', `The SCIM source answered ${status} to GET ${config.baseUrl}/Users.`);
  }

  async read(
    source: InboundSource,
    secrets: Record<string, string>,
    since: string | null,
    onProgress?: (read: number) => void,
  ): Promise<SourceRead> {
    const config = parseScimSourceConfig(source.config, secrets);
    let filter = since ? `meta.lastModified gt ${literal(since)}` : undefined;
    const entries: SourceEntry[] = [];
    let cursor = since;
    for (let start = 1; ; ) {
      const page = await this.list(config, secrets.token as string, filter, start, config.pageSize);
      // RFC 7644 §3.4.2.2: a provider that cannot filter on meta.lastModified says 400; read everything instead.
      if (page.status === 400 && filter !== undefined && start === 1) {
        filter = undefined;
        continue;
      }
      if (page.status !== 200) throw this.failed(config, page.status);
      for (const user of page.resources) {
        const entry = entryOf(config.baseUrl, user);
        if (!entry) continue;
        entries.push(entry);
        const modified = (user.meta as { lastModified?: unknown } | undefined)?.lastModified;
        if (typeof modified === 'string' && (cursor === null || modified > cursor)) cursor = modified;
      }
      onProgress?.(entries.length);
      start += page.resources.length;
      if (page.resources.length === 0 || start > page.total) break;
    }
    return { entries, cursor };
  }

  async lookup(
    source: InboundSource,
    secrets: Record<string, string>,
    query: { attribute: string; value: string },
  ): Promise<SourceEntry | undefined> {
    const config = parseScimSourceConfig(source.config, secrets);
    if (!/^[A-Za-z][\w.:-]{0,199}$/.test(query.attribute))
      throw new MeridianError('INVALID_CONFIG', 'Not an attribute path.', { field: 'attribute' });
    const page = await this.list(config, secrets.token as string, `${query.attribute} eq ${literal(query.value)}`, 1, 2);
    if (page.status !== 200) throw this.failed(config, page.status);
    // Two people answering one sign-in is no answer: the office must make the lookup unique.
    if (page.resources.length !== 1) return undefined;
    return entryOf(config.baseUrl, page.resources[0] as Record<string, unknown>);
  }

  /** One User by its id at the source (RFC 7644 §3.4.1), for an event naming it; undefined when the source answers 404. */
  async get(source: InboundSource, secrets: Record<string, string>, remoteId: string): Promise<SourceEntry | undefined> {
    const config = parseScimSourceConfig(source.config, secrets);
    const response = await this.fetch(`${config.baseUrl}/Users/${encodeURIComponent(remoteId)}`, {
      headers: { authorization: `Bearer ${secrets.token as string}`, accept: 'application/scim+json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(config.timeoutMs),
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new MeridianError('UNAVAILABLE', `The SCIM source answered ${response.status} to GET ${config.baseUrl}/Users/{id}.`);
    }
    const user = (await response.json()) as Record<string, unknown>;
    // A provider answering with another id than asked (or no userName) says nothing about this one: never a delete.
    const entry = user.id === remoteId ? entryOf(config.baseUrl, user) : undefined;
    if (!entry)
      throw new MeridianError('UNAVAILABLE', `The SCIM source answered GET ${config.baseUrl}/Users/{id} with another or no User.`);
    return entry;
  }
}

import type { ResourceService } from '../directory/resource-service.js';
import { isMeridianError, MeridianError } from '../errors/meridian-error.js';
import { parseScimFilter } from '../filter/parse.js';
import { SCHEMA } from '../scim/schemas.js';
import {
  canonicalJson,
  type InboundSource,
  type InboundSourceStore,
  type SourceAttributes,
  type SourceEntry,
  type SourceReader,
} from '../sources/inbound-source.js';
import { sourceReadFailure } from '../sources/source-service.js';
import type { Principal, RequestContext } from '../tenancy/model.js';

/**
 * Pull from the enterprise at first sign-in (issue 16, use case 2.4.4 of the
 * SCIM use-cases draft): a person signs in through the office's upstream
 * identity provider and the office has no account for them; the hub looks
 * that one person up at the office's inbound source and creates the account
 * through the ResourceService, as a sync would.
 */

/** How a source finds the person who signs in: by the upstream `sub`, the e-mail address or the userName. */
export type SourceLookupBy = 'subject' | 'email' | 'userName';

/** A reader that can also find one entry (`connector-scim`'s SCIM source). */
export interface SourceLookupReader extends SourceReader {
  /** The one entry whose `attribute` equals `value`; undefined when there is none. */
  lookup(
    source: InboundSource,
    secrets: Record<string, string>,
    query: { attribute: string; value: string },
  ): Promise<SourceEntry | undefined>;
}

/** Who signed in upstream, as far as a lookup can use it. */
export interface UpstreamPerson {
  subject: string;
  email?: string | undefined;
  userName?: string | undefined;
}

/** What a pull did. */
export type FirstSignInPullResult =
  | { status: 'created'; sourceId: string; userId: string; userName: string }
  | { status: 'not_found'; sourceId: string; lookup: { attribute: string; value: string } }
  /** The office has no source that serves first sign-ins. */
  | { status: 'no_source' };

/** What a dry run (`meridian source test`) would create. */
export interface FirstSignInPreview {
  sourceId: string;
  lookup: { attribute: string; value: string };
  /** The SCIM User the pull would create; null when the source has no such person. */
  wouldCreate: Record<string, unknown> | null;
  remoteId: string | null;
}

/** The remote SCIM attribute a lookup filters on by default. */
const LOOKUP_ATTRIBUTE: Record<SourceLookupBy, string> = { subject: 'externalId', email: 'emails.value', userName: 'userName' };

/** Reads a source's first-sign-in settings from its config (`firstSignIn: { lookupBy, attribute }`); undefined: off. */
export function firstSignInLookup(source: InboundSource): { by: SourceLookupBy; attribute: string } | undefined {
  const settings = source.config.firstSignIn;
  if (typeof settings !== 'object' || settings === null) return undefined;
  const { lookupBy, attribute } = settings as { lookupBy?: unknown; attribute?: unknown };
  const by: SourceLookupBy = lookupBy === 'subject' || lookupBy === 'userName' ? lookupBy : 'email';
  return { by, attribute: typeof attribute === 'string' && attribute !== '' ? attribute : LOOKUP_ATTRIBUTE[by] };
}

/** The value of the signed-in person a lookup compares with; undefined when the upstream did not say it. */
function lookupValue(by: SourceLookupBy, person: UpstreamPerson): string | undefined {
  const value = by === 'subject' ? person.subject : by === 'email' ? person.email : person.userName;
  return typeof value === 'string' && value !== '' && value.length <= 512 ? value : undefined;
}

/** The SCIM body of the account an entry creates (as a sync writes it). */
export function accountBodyOf(attributes: SourceAttributes): Record<string, unknown> {
  return { schemas: [SCHEMA.user, ...Object.keys(attributes).filter((k) => k.startsWith('urn:'))], ...attributes };
}

/** Finds and creates one person from an office's inbound source at first sign-in. */
export class FirstSignInPull {
  constructor(
    private readonly store: InboundSourceStore,
    private readonly resources: ResourceService,
    private readonly readers: Record<string, SourceLookupReader>,
  ) {}

  /** The office's first source that serves first sign-ins (a reader that looks up, and `firstSignIn` in its config). */
  private async sourceOf(tenantId: string): Promise<{ source: InboundSource; reader: SourceLookupReader } | undefined> {
    for (const source of await this.store.list(tenantId)) {
      const reader = this.readers[source.kind];
      if (reader && firstSignInLookup(source)) return { source, reader };
    }
    return undefined;
  }

  /** Looks the person up at the source and creates the account; the actor is the source. */
  async pull(tenantId: string, person: UpstreamPerson, context: RequestContext): Promise<FirstSignInPullResult> {
    const found = await this.sourceOf(tenantId);
    if (!found) return { status: 'no_source' };
    const { source, reader } = found;
    const lookup = firstSignInLookup(source) as NonNullable<ReturnType<typeof firstSignInLookup>>;
    const value = lookupValue(lookup.by, person);
    const query = { attribute: lookup.attribute, value: value ?? '' };
    if (value === undefined) return { status: 'not_found', sourceId: source.id, lookup: query };
    const entry = await reader.lookup(source, await this.store.openSecrets(source), query);
    if (!entry) return { status: 'not_found', sourceId: source.id, lookup: query };
    // The source acts, with the least it needs: SCIM writes in its own office.
    const principal: Principal = { kind: 'tenant', tokenId: `source:${source.id}`, tenantId, scopes: ['scim:read', 'scim:write'] };
    let created: { id: string; attributes: Record<string, unknown> };
    try {
      created = await this.resources.create({ principal, api: 'scim' }, tenantId, 'User', accountBodyOf(entry.attributes), {
        ...context,
        actor: { type: 'system', id: `source:${source.id}` },
      });
    } catch (error) {
      // Two first sign-ins of the same person at once: the other one created the account from the same entry and
      // linked it. This one goes on with that account; anything else with the userName is a real conflict.
      const userName = entry.attributes.userName;
      if (!isMeridianError(error, 'UNIQUENESS') || typeof userName !== 'string') throw error;
      const links = await this.store.links(tenantId, source.id);
      const own = links.find((l) => l.remoteId === entry.remoteId);
      if (own) return { status: 'created', sourceId: source.id, userId: own.resourceId, userName };
      // The other sign-in has created the account but not linked it yet: the account of that userName, unless
      // another entry of the source feeds it.
      const page = await this.resources.list({ principal, api: 'scim' }, tenantId, 'User', {
        filter: parseScimFilter(`userName eq ${JSON.stringify(userName)}`),
        startIndex: 1,
        count: 2,
      });
      const [existing] = page.resources;
      if (page.resources.length !== 1 || !existing || links.some((l) => l.resourceId === existing.id)) throw error;
      created = existing;
    }
    // The scheduled sync of the same source treats the account as its own from now on.
    await this.store.saveLink(tenantId, source.id, {
      remoteId: entry.remoteId,
      resourceId: created.id,
      applied: canonicalJson(entry.attributes),
    });
    const userName = typeof created.attributes.userName === 'string' ? created.attributes.userName : '';
    return { status: 'created', sourceId: source.id, userId: created.id, userName };
  }

  /** A dry run of one pull (`meridian source test`): what would be created, nothing written. */
  async preview(source: InboundSource, person: UpstreamPerson): Promise<FirstSignInPreview> {
    const reader = this.readers[source.kind];
    const lookup = firstSignInLookup(source) ?? { by: 'email' as const, attribute: LOOKUP_ATTRIBUTE.email };
    if (!reader)
      throw new MeridianError('INVALID_CONFIG', `Sources of kind '${source.kind}' cannot look one person up.`, { field: 'kind' });
    const value = lookupValue(lookup.by, person);
    if (value === undefined) {
      throw new MeridianError('INVALID_INPUT', `Give the ${lookup.by === 'subject' ? 'upstream subject' : lookup.by} to look up.`, {
        field: lookup.by,
      });
    }
    const query = { attribute: lookup.attribute, value };
    const entry = await reader.lookup(source, await this.store.openSecrets(source), query).catch((error: unknown) => {
      throw sourceReadFailure(source, error);
    });
    return {
      sourceId: source.id,
      lookup: query,
      wouldCreate: entry ? accountBodyOf(entry.attributes) : null,
      remoteId: entry?.remoteId ?? null,
    };
  }
}

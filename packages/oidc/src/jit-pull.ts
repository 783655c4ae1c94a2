import {
  enterpriseUserSchema,
  type FilterShape,
  isMeridianError,
  matchesResource,
  parseScimFilter,
  releasedClaims,
  SCHEMA,
  userSchema,
} from '@meridian/core';
import type { ScimAnswer } from './consented-people.js';
import type { OidcRequestContext } from './ports.js';
import type { CommunityProviders } from './provider.js';
import { scimUserOfClaims } from './scim-me.js';

// Pull at first access by the cloud (issue 16, use case 2.3.5 of the SCIM use-cases draft): with its client
// credentials, a relying party finds one person who consented to it (`?filter=`) or reads one (`/Users/{id}`),
// seeing only what that person released to it. A filter is matched against the released attributes only, so it
// cannot probe values the person did not release.

const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const MAX_COUNT = 200;

const USER_SHAPE: FilterShape = {
  core: { id: SCHEMA.user, attributes: userSchema.attributes },
  extensions: [{ id: SCHEMA.enterpriseUser, attributes: enterpriseUserSchema.attributes }],
};

function scimError(status: number, detail: string, headers: Record<string, string> = {}, scimType?: string): ScimAnswer {
  return {
    status,
    body: { schemas: [SCHEMA.error], status: String(status), ...(scimType ? { scimType } : {}), detail },
    headers,
  };
}

/** What the relying party asks: one person by the `id` it knows them by, or those matching a filter (RFC 7644 §3.4.2.2). */
export type PullQuery = { id: string } | { filter: string; startIndex: number; count: number };

/**
 * `GET {issuer}/scim/v2/Users?filter=…` and `GET {issuer}/scim/v2/Users/{id}`
 * with a client-credentials token: the consenting people who match, each with
 * exactly what they released; each person answered is a release (audited,
 * in the ledger). A person who did not consent, or is no longer active, is
 * not found.
 */
export async function pullConsentedPeople(
  providers: CommunityProviders,
  slug: string,
  token: string,
  query: PullQuery,
  context: OidcRequestContext,
): Promise<ScimAnswer> {
  const found = await providers.get(slug);
  if (!found) return scimError(404, 'There is no such community.');
  const challenge = { 'www-authenticate': `Bearer realm="${found.issuer}", error="invalid_token"` };
  const credentials = token.length > 0 && token.length <= 512 ? await found.provider.ClientCredentials.find(token) : undefined;
  const { clients, accounts } = providers.options;
  const rp = credentials ? await clients.findClient(found.community.id, credentials.clientId ?? '') : undefined;
  if (!rp?.clientCredentials) return scimError(401, 'A valid client-credentials access token of this community is required.', challenge);

  let filter: ReturnType<typeof parseScimFilter> | undefined;
  if ('filter' in query) {
    try {
      filter = parseScimFilter(query.filter);
    } catch (error) {
      if (!isMeridianError(error)) throw error;
      return scimError(400, error.message, {}, 'invalidFilter');
    }
  }
  const matches: { user: Record<string, unknown>; personId: string; tenantId: string | null; released: string[] }[] = [];
  // A person who signed in from several browsers gave several grants: one person, with what any of them consented to.
  const consented = new Map<string, Set<string>>();
  for (const grant of await accounts.grantsOfClient(found.community.id, rp.clientId)) {
    const claims = consented.get(grant.personId) ?? new Set<string>();
    for (const claim of grant.claims) claims.add(claim);
    consented.set(grant.personId, claims);
  }
  for (const [personId, claims] of consented) {
    const grant = { personId, claims: [...claims] };
    const sub = await found.subjectFor(rp.clientId, grant.personId);
    if ('id' in query && sub !== query.id) continue;
    const person = await accounts.person(found.community.id, grant.personId);
    if (!person?.active) continue;
    const released = releasedClaims({ asked: grant.claims, allowed: rp.claims, consented: grant.claims, values: person.values });
    const user = scimUserOfClaims(
      { sub, ...Object.fromEntries(released.map((claim) => [claim, person.values[claim]])) },
      `${found.issuer}/scim/v2/Users/${encodeURIComponent(sub)}`,
    );
    if (filter && !matchesResource(user as never, filter, USER_SHAPE)) continue;
    matches.push({ user, personId: grant.personId, tenantId: person.tenantId, released });
  }
  const headers = { 'cache-control': `private, max-age=${rp.maxCacheSeconds}` };
  const page =
    'id' in query ? matches.slice(0, 1) : matches.slice(Math.max(1, query.startIndex) - 1).slice(0, Math.min(query.count, MAX_COUNT));
  // Only what is answered is released.
  for (const match of page) {
    if (match.released.length === 0) continue;
    await accounts.recordRelease(
      found.community.id,
      {
        clientId: rp.clientId,
        personId: match.personId,
        tenantId: match.tenantId,
        claims: match.released,
        maxCacheSeconds: rp.maxCacheSeconds,
        use: 'scim',
      },
      context,
    );
  }
  if ('id' in query) {
    const [one] = page;
    return one ? { status: 200, body: one.user, headers } : scimError(404, `User ${query.id} not found.`);
  }
  return {
    status: 200,
    body: {
      schemas: [LIST_RESPONSE],
      totalResults: matches.length,
      startIndex: Math.max(1, query.startIndex),
      itemsPerPage: page.length,
      Resources: page.map((m) => m.user),
    },
    headers,
  };
}

import { releasedClaims, SCHEMA } from '@meridian/core';
import type { OidcRequestContext } from './ports.js';
import type { CommunityProviders } from './provider.js';
import { scimUserOfClaims } from './scim-me.js';

/** An answer in SCIM's shape (RFC 7644 §3.4.2 list, or §3.12 error). */
export interface ScimAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const MAX_COUNT = 200;

function scimError(status: number, detail: string, headers: Record<string, string> = {}): ScimAnswer {
  return { status, body: { schemas: [SCHEMA.error], status: String(status), detail }, headers };
}

/**
 * `GET {issuer}/scim/v2/Users` with a client-credentials token (issue 15):
 * the people who granted the relying party consent, each with exactly what
 * they consented to, the registration allows and they have a value for; a
 * person who is no longer active is left out. Each person listed is a
 * release: audited, in the ledger, with the registration's cache period.
 */
export async function consentedPeople(
  providers: CommunityProviders,
  slug: string,
  token: string,
  page: { startIndex: number; count: number },
  context: OidcRequestContext,
): Promise<ScimAnswer> {
  const found = await providers.get(slug);
  if (!found) return scimError(404, 'There is no such community.');
  const challenge = { 'www-authenticate': `Bearer realm="${found.issuer}", error="invalid_token"` };
  const credentials = token.length > 0 && token.length <= 512 ? await found.provider.ClientCredentials.find(token) : undefined;
  if (!credentials) return scimError(401, 'A valid client-credentials access token of this community is required.', challenge);
  const { clients, accounts } = providers.options;
  const rp = await clients.findClient(found.community.id, credentials.clientId ?? '');
  if (!rp?.clientCredentials) return scimError(401, 'A valid client-credentials access token of this community is required.', challenge);

  const grants = await accounts.grantsOfClient(found.community.id, rp.clientId);
  const people: Record<string, unknown>[] = [];
  for (const grant of grants) {
    const person = await accounts.person(found.community.id, grant.personId);
    if (!person?.active) continue;
    const released = releasedClaims({ asked: grant.claims, allowed: rp.claims, consented: grant.claims, values: person.values });
    const sub = await found.subjectFor(rp.clientId, grant.personId);
    if (released.length > 0) {
      await accounts.recordRelease(
        found.community.id,
        {
          clientId: rp.clientId,
          personId: grant.personId,
          tenantId: person.tenantId,
          claims: released,
          maxCacheSeconds: rp.maxCacheSeconds,
          use: 'scim',
        },
        context,
      );
    }
    people.push(
      scimUserOfClaims(
        { sub, ...Object.fromEntries(released.map((claim) => [claim, person.values[claim]])) },
        `${found.issuer}/scim/v2/Users/${encodeURIComponent(sub)}`,
      ),
    );
  }
  const start = Math.max(1, page.startIndex);
  const count = Math.min(Math.max(0, page.count), MAX_COUNT);
  const resources = people.slice(start - 1, start - 1 + count);
  return {
    status: 200,
    body: {
      schemas: [LIST_RESPONSE],
      totalResults: people.length,
      startIndex: start,
      itemsPerPage: resources.length,
      Resources: resources,
    },
    headers: { 'cache-control': `private, max-age=${rp.maxCacheSeconds}` },
  };
}

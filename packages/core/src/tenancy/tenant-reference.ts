import { MeridianError } from '../errors/meridian-error.js';
import type { AdminStore } from '../ports/admin.js';
import type { Principal, Tenant } from './model.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The store lookups a tenant reference needs. */
export type TenantLookup = Pick<AdminStore, 'findTenant' | 'findCommunity' | 'findTenantInCommunity' | 'findTenantsBySlug'>;

/**
 * Finds the tenant a caller names (ADR 0019). Slugs are unique per community,
 * so a name is read in the caller's community:
 *
 * - an id names one tenant anywhere;
 * - `<community>/<slug>` names the tenant of that community (slug or id of the community);
 * - a bare slug names a tenant of the caller's own community (a community
 *   token's, or a tenant token's tenant's); for a platform caller, the one
 *   tenant with that slug, and INVALID_INPUT when several communities have one.
 *
 * It decides nothing about access: the caller authorizes the tenant it gets,
 * and answers NOT_FOUND for one out of reach exactly as for one that does not
 * exist, so that nobody learns another community's names.
 */
export async function resolveTenantReference(store: TenantLookup, principal: Principal, reference: string): Promise<Tenant | undefined> {
  const ref = reference.trim();
  if (ref === '' || ref.length > 200) return undefined;
  if (UUID.test(ref)) return store.findTenant(ref);
  const slash = ref.indexOf('/');
  if (slash >= 0) {
    const community = await store.findCommunity(ref.slice(0, slash));
    return community ? store.findTenantInCommunity(community.id, ref.slice(slash + 1)) : undefined;
  }
  if (principal.kind === 'community') return store.findTenantInCommunity(principal.communityId, ref);
  if (principal.kind === 'tenant') {
    const own = await store.findTenant(principal.tenantId);
    return own ? store.findTenantInCommunity(own.communityId, ref) : undefined;
  }
  const found = await store.findTenantsBySlug(ref, 2);
  if (found.length > 1) {
    throw new MeridianError(
      'INVALID_INPUT',
      `Several communities have a tenant '${ref}': name it as <community>/${ref.toLowerCase()} or by its id.`,
      { field: 'tenant' },
    );
  }
  return found[0];
}

// Test support, imported only by unit tests: two communities with one office each, and the admin
// store's tenant look-ups over them in memory (services authorize through AdminService on these).
import type { AdminStore } from '../ports/admin.js';
import type { Community, Tenant } from './model.js';

export const at = new Date(0);
export const context = { actor: { type: 'system' as const, id: 'test' }, requestId: 'r' };
export const coi: Community = { id: 'c1000000-0000-7000-8000-000000000001', slug: 'coi', name: 'CoI', createdAt: at };
const other: Community = { id: 'c2000000-0000-7000-8000-000000000002', slug: 'other', name: 'Other', createdAt: at };
export const emea: Tenant = { id: 'a1000000-0000-7000-8000-000000000001', slug: 'emea', name: 'EMEA', communityId: coi.id, createdAt: at };
export const apac: Tenant = {
  id: 'a2000000-0000-7000-8000-000000000002',
  slug: 'apac',
  name: 'APAC',
  communityId: other.id,
  createdAt: at,
};

/** The admin store's tenant look-ups, in memory. */
export function tenantStore(): AdminStore {
  const communities = [coi, other];
  const tenants = [emea, apac];
  const lookups: Pick<AdminStore, 'findTenant' | 'findCommunity' | 'findTenantInCommunity' | 'findTenantsBySlug'> = {
    findTenant: async (ref) => tenants.find((t) => t.id === ref || t.slug === ref),
    findCommunity: async (ref) => communities.find((c) => c.id === ref || c.slug === ref),
    findTenantInCommunity: async (communityId, ref) =>
      tenants.find((t) => t.communityId === communityId && (t.id === ref || t.slug === ref)),
    findTenantsBySlug: async (slug, limit) => tenants.filter((t) => t.slug === slug).slice(0, limit),
  };
  return lookups as AdminStore;
}

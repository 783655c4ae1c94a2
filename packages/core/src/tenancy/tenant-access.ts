import { MeridianError } from '../errors/meridian-error.js';
import type { AdminService } from './admin-service.js';
import type { Principal, Tenant } from './model.js';
import { type Action, authorize, resourceOfTenant } from './permissions.js';

/**
 * The tenant an operation is about: a reference the caller gave (an id, a
 * slug of its community, `<community>/<slug>`; see `resolveTenantReference`),
 * or a tenant already loaded (a GraphQL `Tenant` whose fields are resolved).
 */
export type TenantRef = string | Pick<Tenant, 'id' | 'communityId'>;

/** Finds a tenant by reference and authorizes an action on it (the admin service does). */
export type TenantAuthorizer = Pick<AdminService, 'authorizeTenant'>;

/**
 * Authorizes `action` on the tenant `tenant` names and returns its id, with
 * the outcomes of {@link AdminService.authorizeTenant}: FORBIDDEN when the
 * principal may not take the action at all, NOT_FOUND when the tenant does
 * not exist or is out of its reach. A loaded tenant and a tenant principal's
 * own tenant cost no lookup. Without `tenants` (tools and tests), any other
 * reference is NOT_FOUND.
 */
export async function authorizeTenantRef(
  tenants: TenantAuthorizer | undefined,
  principal: Principal,
  action: Action,
  tenant: TenantRef,
): Promise<string> {
  if (typeof tenant !== 'string') {
    authorize(principal, action, resourceOfTenant(tenant));
    return tenant.id;
  }
  if (principal.kind === 'tenant' && tenant === principal.tenantId) {
    authorize(principal, action, { tenantId: tenant });
    return tenant;
  }
  if (tenants) return (await tenants.authorizeTenant(principal, action, tenant)).id;
  authorize(principal, action);
  throw new MeridianError('NOT_FOUND', `Tenant '${tenant}' not found.`, { field: 'tenant' });
}

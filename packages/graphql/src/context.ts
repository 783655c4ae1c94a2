import type { AdminService, AuditService, Principal, ResourceService, TenantSettingsService } from '@meridian/core';

/** Services the resolvers call; the hub builds them once. */
export interface GraphqlServices {
  admin: AdminService;
  resources: ResourceService;
  settings: TenantSettingsService;
  audit: AuditService;
}

/** Per-request context. */
export interface GraphqlContext {
  principal: Principal;
  services: GraphqlServices;
  requestId: string;
  sourceAddress: string;
}

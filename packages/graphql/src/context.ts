import type { AdminService, Principal, ResourceService } from '@meridian/core';

/** Services the resolvers call; the hub builds them once. */
export interface GraphqlServices {
  admin: AdminService;
  resources: ResourceService;
}

/** Per-request context. */
export interface GraphqlContext {
  principal: Principal;
  services: GraphqlServices;
  requestId: string;
  sourceAddress: string;
}

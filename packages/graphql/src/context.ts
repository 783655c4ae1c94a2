import type {
  AdminService,
  AuditService,
  GlobalDirectoryService,
  Principal,
  ResourceService,
  TenantSettingsService,
  TrustedIssuerService,
} from '@meridian/core';
import type { DirectoryExportAdmin } from './resolvers/directory-export-resolver.js';
import type { ReplicationAdmin } from './types/replication.js';

/** Services the resolvers call; the hub builds them once. */
export interface GraphqlServices {
  admin: AdminService;
  resources: ResourceService;
  settings: TenantSettingsService;
  /** The replication engine (issue 5); absent when the hub runs without it. */
  replication?: ReplicationAdmin;
  audit: AuditService;
  issuers: TrustedIssuerService;
  /** The communities' global directories (issue 6). */
  people: GlobalDirectoryService;
  /** Pushes of global directories to external directories; absent when the hub runs without them. */
  directoryExports?: DirectoryExportAdmin;
}

/** Per-request context. */
export interface GraphqlContext {
  principal: Principal;
  services: GraphqlServices;
  requestId: string;
  sourceAddress: string;
  /** This request's DataLoaders, by key (see `requestLoader`). */
  loaders: Map<string, unknown>;
}

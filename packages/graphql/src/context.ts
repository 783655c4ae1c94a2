import type {
  AdminService,
  AuditService,
  CommunityThemeService,
  ConsoleRoleService,
  EventStreamService,
  FirstSignInPull,
  GlobalDirectoryService,
  JitTargetService,
  OffboardingService,
  Principal,
  RelyingPartyService,
  ReplicationService,
  ResourceService,
  SourceService,
  TenantSettingsService,
  TrustedIssuerService,
} from '@meridian/core';
import type { DirectoryExportAdmin } from './resolvers/directory-export-resolver.js';

/** Services the resolvers call; the hub builds them once. */
export interface GraphqlServices {
  admin: AdminService;
  resources: ResourceService;
  settings: TenantSettingsService;
  /** Replication targets, status and dead letters (issue 5), authorized in core; absent when the hub runs without replication. */
  replication?: ReplicationService;
  audit: AuditService;
  issuers: TrustedIssuerService;
  /** The communities' global directories (issue 6). */
  people: GlobalDirectoryService;
  /** Pushes of global directories to external directories; absent when the hub runs without them. */
  directoryExports?: DirectoryExportAdmin;
  /** Relying parties and grants (issue 15); absent when the hub runs without single sign-on. */
  relyingParties?: RelyingPartyService;
  /** The communities' sign-in page themes (issue 15); absent when the hub runs without single sign-on. */
  communityThemes?: CommunityThemeService;
  /** Leavers with a successor (issue 19); absent when the hub runs without it. */
  offboarding?: OffboardingService;
  /** Relying parties' targets on first sign-in (issue 16); absent when the hub runs without it. */
  jitTargets?: JitTargetService;
  /** The communities' event streams (issue 17); absent when the hub runs without them. */
  eventStreams?: EventStreamService;
  /** Tenants' inbound sources (issues 16 and 18); absent when the hub runs without them. */
  sources?: SourceService;
  /** The admin console's role grants (issue 21, ADR 0034); absent when the hub runs without the console. */
  consoleRoles?: ConsoleRoleService;
  /** Pulls from an office's source at first sign-in (issue 16), for `testInboundSource`. */
  firstSignIn?: FirstSignInPull;
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

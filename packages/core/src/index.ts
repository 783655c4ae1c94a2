export {
  AUTHENTICATION_FAILURE_REASONS,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditQuery,
  type AuthenticationFailure,
  type AuthenticationFailureReason,
  type FailedCredential,
  PLATFORM_CHAIN,
} from './audit/audit-entry.js';
export type {
  AnchoredCheckpoints,
  AuditLog,
  AuditPublicKey,
  AuditVerifyOptions,
  CheckpointOutcome,
  CheckpointPolicy,
  PruneOutcome,
} from './audit/audit-log.js';
export { AuditService, canReadAuditLog, type PendingAuditEntries } from './audit/audit-service.js';
export {
  AUDIT_BREAK_KINDS,
  type AuditBreak,
  type AuditBreakKind,
  type ChainVerification,
  type CheckpointSummary,
  chainLabel,
  describeAuditBreak,
  describeSeqRange,
} from './audit/audit-verification.js';
export {
  AUTH_FAILURE_PREFIX_LENGTH,
  AuthenticationFailureAggregator,
  type AuthenticationFailureSummary,
  authFailureAddress,
  authFailurePrefix,
  DEFAULT_MAX_PENDING_SUMMARIES,
  OVERFLOW_DETAIL,
} from './audit/auth-failure-aggregator.js';
export {
  BULK_SCHEMA,
  type BulkFailure,
  type BulkMethod,
  type BulkOperation,
  type BulkOperationError,
  type BulkOutcome,
  type BulkRequest,
  type BulkRequestOptions,
  type BulkResources,
  type BulkSuccess,
  type BulkTarget,
  type BulkUnresolvedReference,
  executeBulk,
  parseBulkRequest,
} from './bulk/execute.js';
export { type BatchAccount, placeBatch } from './community/batch-placement.js';
export {
  type AccountFacts,
  type AccountValues,
  accountValuesOf,
  CORRELATION_ATTRIBUTES,
  type ConflictCandidate,
  type CorrelationAttribute,
  correlationKeys,
  DEFAULT_CORRELATION,
  type DirectoryRules,
  PERSON_ATTRIBUTES,
  type PersonAttribute,
  parseCorrelationRules,
  parsePersonAttribute,
  type ResolvedPerson,
  resolvePerson,
  ruleOfKey,
} from './community/global-directory.js';
export {
  type DirectoryRulesView,
  GlobalDirectoryService,
  MAX_PEOPLE_PAGE,
  type PeopleArguments,
} from './community/global-directory-service.js';
export {
  type PeopleResolution,
  type ResolutionAccount,
  type ResolvedPersonRecord,
  resolvePeople,
} from './community/people-resolution.js';
export {
  type CorrelationCandidate,
  type CurrentPlacement,
  correlationCandidates,
  correlationLookup,
  type KeyMatch,
  type ManualPlacement,
  managerUserIdOf,
  type Placement,
  type PlacementInput,
  placeAccount,
  placeByHand,
  removalResolves,
  withPin,
} from './community/placement.js';
export { assertImmutableUnchanged, assertOnlyEditable, sameJson } from './directory/attribute-rules.js';
export {
  type DirectoryAccess,
  type DirectoryApi,
  type DirectoryCaller,
  MAX_START_INDEX,
  type PatchOptions,
  ResourceService,
  type TenantSchemaSource,
  type WritePreconditions,
} from './directory/resource-service.js';
export { ERROR_CODES, type ErrorCode, isMeridianError, MeridianError, type MeridianErrorOptions } from './errors/meridian-error.js';
export { type DomainEvent, EVENT_TYPES, type EventResourceType, type EventType, resourceEventType } from './events/domain-event.js';
export {
  type AsyncMethod,
  type AsyncRequest,
  type AsyncRequestStore,
  AsyncResponder,
  type AsyncWriteResult,
} from './events-streams/async-responses.js';
export {
  EventStreamService,
  type StreamCaller,
  type StreamServiceHooks,
  type StreamSigner,
  type StreamSummary,
  subjectKeyOf,
} from './events-streams/event-stream-service.js';
export {
  changedPaths,
  type PlannedEvent,
  planStreamEvents,
  releasedDocument,
  type StreamChange,
  type StreamRules,
  type StreamView,
  streamRules,
} from './events-streams/plan-events.js';
export type { EventStreamStore, NewStreamSet, PollAnswer, PollRequest, StreamCounts } from './events-streams/ports.js';
export {
  DELIVERY_POLL,
  DELIVERY_PUSH,
  EVENTS_SUPPORTED,
  type EventStream,
  eventsDelivered,
  parseStreamInput,
  parseStreamStatus,
  STREAM_EVENT,
  type StreamInput,
  type StreamReceiver,
  type StreamStatus,
  type StreamValues,
} from './events-streams/stream-config.js';
export {
  type AudienceView,
  type ProducerBatch,
  type StreamAudience,
  type StreamInboxEntry,
  StreamProducer,
  type StreamProducerStore,
} from './events-streams/stream-producer.js';
export type { AttributePath, CompareOperator, CompareValue, Filter } from './filter/ast.js';
export { type FilterShape, matchesFilter, matchesResource } from './filter/evaluate.js';
export { type FilterLimits, formatPath, parseAttributePath, parseScimFilter } from './filter/parse.js';
export {
  accountBodyOf,
  type FirstSignInPreview,
  FirstSignInPull,
  type FirstSignInPullResult,
  firstSignInLookup,
  type SourceLookupBy,
  type SourceLookupReader,
  type UpstreamPerson,
} from './jit/first-sign-in-pull.js';
export {
  type JitAdmissionKey,
  type JitAdmissionStatus,
  type JitAdmitted,
  type JitDeliveryState,
  type JitOutcome,
  type JitStore,
  type JitTargetLink,
  JitTargetService,
} from './jit/jit-provisioning.js';
export {
  EXPORT_PAGE_SIZE,
  type ExportPage,
  TenantTransferService,
  type TenantTransferStore,
} from './migration/tenant-transfer-service.js';
export {
  checkRecordOrder,
  countMismatches,
  type ExtensionRecord,
  type ImportAction,
  type ImportedResource,
  importActionOf,
  importedResourceOf,
  type PolicyRecord,
  parseTransferRecord,
  type ResourceRecord,
  type StoredCounts,
  type TenantFileRecord,
  TRANSFER_FORMAT,
  TRANSFER_VERSION,
  type TransferCounts,
  type TransferHeader,
  type TransferSealing,
  type TransferTrailer,
} from './migration/transfer-format.js';
export {
  OFFBOARDING_LEASE_MS,
  type OffboardingOutcome,
  type OffboardingRequest,
  OffboardingService,
} from './offboarding/offboarding-service.js';
export {
  type AccountRef,
  DEFAULT_GRACE_DAYS,
  DEFAULT_OFFBOARDING_POLICY,
  type GroupHandover,
  MAX_GRACE_DAYS,
  type OffboardingPlan,
  type OffboardingPolicy,
  OWNERSHIP_TRANSFER_SCHEMA,
  planOffboarding,
  type SkippedTarget,
  type TransferCandidate,
  type TransferPlan,
  type ValueHandover,
} from './offboarding/plan.js';
export type {
  OffboardingRecord,
  OffboardingReport,
  OffboardingStatus,
  OffboardingStore,
  OwnershipTransferJob,
  OwnershipTransfers,
  SsoRevocation,
  TransferOutcome,
  TransferRecord,
  TransferStatus,
} from './offboarding/ports.js';
export {
  type AddressClass,
  type AddressClassification,
  type AllowEntry,
  allowListOpensAddress,
  allowListOpensHost,
  checkOutboundAddress,
  checkOutboundTarget,
  classifyAddress,
  findOutboundRefusal,
  formatIpAddress,
  type IpAddress,
  isLocalhostName,
  NO_ALLOWED_DESTINATIONS,
  normalizeHost,
  OUTBOUND_POLICY_NAME,
  type OutboundAllowList,
  OutboundRefusedError,
  type OutboundVerdict,
  parseIpAddress,
  parseOutboundAllowList,
} from './outbound/address-policy.js';
export { applyPatch, type MemberChange, type PatchResult } from './patch/apply.js';
export { type PatchOp, type PatchOperation, type PatchPath, parsePatchPath, parsePatchRequest } from './patch/parse.js';
export type {
  AdminStore,
  IssuedToken,
  Page,
  PageRequest,
  TokenAuthentication,
  TokenRequest,
} from './ports/admin.js';
export { type Clock, systemClock } from './ports/clock.js';
export type {
  DirectoryStore,
  DirectoryTransaction,
  MemberChangeResult,
  PasswordHasher,
  ResourceIncludes,
  ResourcePage,
  ResourceQuery,
  ResourceWrite,
} from './ports/directory.js';
export type {
  AccountLink,
  DirectoryAccount,
  DirectoryAccountGroup,
  DirectoryConflict,
  DirectoryExport,
  DirectoryExportCounts,
  DirectoryExportStore,
  ExportOutcome,
  ExportWork,
  GlobalDirectoryStore,
  PeopleQuery,
  PeopleRelated,
  PeopleSortField,
  PeopleWhere,
  Person,
  ProjectionStep,
} from './ports/global-directory.js';
export {
  type CircuitState,
  type CommitWakeups,
  checkWaitSeconds,
  type DeadLetter,
  type DeadLetterWrite,
  type DeleteMode,
  LINK_STATUSES,
  type LinkBatch,
  type LinkKey,
  type LinkStatus,
  type LinkUpdate,
  type LinkWrite,
  MAX_REPLICATION_WAIT_SECONDS,
  type PasswordForwarding,
  type PendingPassword,
  pendingPasswordContext,
  type RelayJob,
  type ReplicationLink,
  type ReplicationStore,
  type ReplicationTarget,
  type ReplicationTargetWrite,
  type RequestChange,
  type TargetRetirement,
  type TargetStatusCounts,
} from './ports/replication.js';
export type {
  DeadLetterQuery,
  DeliveryOutcome,
  DeliveryWaiting,
  DriftAction,
  DriftItem,
  DriftKind,
  MigrationItem,
  MigrationOptions,
  MigrationOutcome,
  MigrationReport,
  ReconcileReport,
  ReplicationAdmin,
  ReplicationOutcome,
  ReplicationTargets,
  ResourceReplicationStatus,
  TargetChanges,
  TargetInput,
  TargetTestResult,
} from './ports/replication-admin.js';
export type { SelfServicePolicy, TenantSettingsStore } from './ports/tenant-settings.js';
export type { TrustedIssuerStore } from './ports/trusted-issuers.js';
export {
  deliveryVersion,
  type InboxItem,
  isRelayed,
  isResourceChange,
  type OutboxEvent,
  planRelay,
  type RelayPlan,
  type RelayTarget,
  type RequestEventGroup,
  relayTenants,
  requestChangesOf,
} from './replication/relay-plan.js';
export { ReplicationService } from './replication/replication-service.js';
export {
  ATTRIBUTE_LIMITS,
  type AttributeLimit,
  assertText,
  DEFAULT_MAX_LENGTH,
  MAX_VALUES,
  maxLengthOf,
  maxValuesOf,
  textProblem,
} from './scim/input-limits.js';
export {
  type AttributeSelection,
  isAttributeReturned,
  parseAttributeSelection,
  projectResource,
} from './scim/projection.js';
export { etagOf, type GroupMember, type GroupMembership, type ScimResource } from './scim/resource.js';
export { type JsonObject, parseResourceInput, type ResourceInput } from './scim/resource-input.js';
export { coreSchemaOf, type ResourceKind, type ResourceShape, resourceShapes } from './scim/resource-types.js';
export { parseSchemaExtension, type SchemaExtension, shapeWithExtensions, toSchemaDefinition } from './scim/schema-extension.js';
export type {
  AttributeDefinition,
  AttributeType,
  Mutability,
  ResourceTypeDefinition,
  Returned,
  SchemaDefinition,
  Uniqueness,
} from './scim/schema-types.js';
export { enterpriseUserSchema, groupSchema, resourceTypes, SCHEMA, schemas, userSchema } from './scim/schemas.js';
export {
  canonicalJson,
  checkSourceInput,
  exceedsDeletionThreshold,
  type InboundSource,
  type InboundSourceChanges,
  type InboundSourceInput,
  type InboundSourceStore,
  planSourceSync,
  type SourceAction,
  type SourceAttributes,
  type SourceChangeOutcome,
  type SourceEntry,
  type SourceEventRecord,
  type SourceLink,
  type SourcePlan,
  type SourcePlanItem,
  type SourceRead,
  type SourceReader,
  type SourceSyncCounts,
  type SourceSyncRecord,
  type SourceSyncStatus,
} from './sources/inbound-source.js';
export { SourceService, type SourceSyncOptions, type SourceSyncResult } from './sources/source-service.js';
export {
  type ClaimRegistration,
  type ConsentItem,
  claimsByScope,
  claimsOfScopes,
  consentedClaims,
  consentItems,
  describeSsoClaim,
  parseSsoClaims,
  releasedClaims,
  SSO_CLAIMS,
  SSO_SCOPES,
  type SsoClaim,
  type SsoClaimDefinition,
} from './sso/claims.js';
export type { RelyingPartyStore, RelyingPartyWithSecret, SsoGrant, SsoGrantStore } from './sso/ports.js';
export {
  applyRelyingPartyChanges,
  type ClientType,
  type ConsentMode,
  DEFAULT_MAX_CACHE_SECONDS,
  parseRedirectUri,
  parseRelyingParty,
  type RelyingParty,
  type RelyingPartyChanges,
  type RelyingPartyInput,
  type RelyingPartyValues,
  type SubjectType,
} from './sso/relying-party.js';
export { RelyingPartyService } from './sso/relying-party-service.js';
export {
  type CommunityTheme,
  type CommunityThemeChanges,
  CommunityThemeService,
  type CommunityThemeStore,
  type StoredCommunityTheme,
} from './sso/theme.js';
export {
  officeOfEmail,
  parseEmailDomains,
  parseUpstream,
  type UpstreamInput,
  type UpstreamProvider,
  UpstreamProviderService,
  type UpstreamProviderStore,
  type UpstreamValues,
} from './sso/upstream.js';
export {
  AdminService,
  checkExpiresInDays,
  checkPage,
  type IssueTokenValues,
  MAX_TOKEN_DAYS,
  mayGrant,
  parseScopes,
  type TokenOwner,
} from './tenancy/admin-service.js';
export {
  allowedActions,
  CONSOLE_ACCOUNT_CLAIM,
  CONSOLE_CLIENT_ID,
  CONSOLE_ROLE_HEADER,
  CONSOLE_ROLES,
  CONSOLE_TENANT_CLAIM,
  type ConsoleAccount,
  type ConsoleRoleGrant,
  ConsoleRoleService,
  type ConsoleRoleStore,
  consoleActorOf,
  consolePrincipal,
  isConsoleRole,
  placeOfGrant,
  principalOfConsole,
} from './tenancy/console-roles.js';
export {
  type JwtClaims,
  type JwtClaimsMapping,
  type JwtClaimsRefusal,
  type JwtLookups,
  jwtClaim,
  principalOfJwtClaims,
  rolesOfJwtClaims,
} from './tenancy/jwt-claims.js';
export {
  type Actor,
  type ApiToken,
  type Community,
  type ConsoleIdentity,
  hasScope,
  isValidSlug,
  type Principal,
  type RequestContext,
  SCOPES,
  type Scope,
  type Tenant,
} from './tenancy/model.js';
export {
  ACTION_RULES,
  ACTIONS,
  type Action,
  type ActionRule,
  type AuthorizationDecision,
  authorize,
  type DenialReason,
  decideAuthorization,
  OPERATIONS,
  type Operation,
  type OperationTarget,
  permissionMatrix,
  principalOfRole,
  type ResourceContext,
  resourceOfTenant,
  roleMayTake,
  scimActionOf,
} from './tenancy/permissions.js';
export {
  isRole,
  type PrincipalLevel,
  parseRole,
  ROLE_DEFINITIONS,
  ROLES,
  type Role,
  type RoleDefinition,
  scopesOfRole,
} from './tenancy/roles.js';
export { authorizeTenantRef, type TenantAuthorizer, type TenantRef } from './tenancy/tenant-access.js';
export { TenantSettingsService } from './tenancy/tenant-settings-service.js';
export { type CachedTokenLookup, cacheTokenLookups, type TokenCacheOptions, type TokenLookup } from './tenancy/token-cache.js';
export {
  DEFAULT_JWT_ALGORITHMS,
  JWT_ALGORITHMS,
  type JwtAlgorithm,
  type NewTrustedIssuer,
  parseJwtAlgorithms,
  parseRoleMap,
  parseTrustedIssuer,
  type TrustedIssuer,
  type TrustedIssuerInput,
} from './tenancy/trusted-issuer.js';
export { type OutboundUrlCheck, TrustedIssuerService } from './tenancy/trusted-issuer-service.js';

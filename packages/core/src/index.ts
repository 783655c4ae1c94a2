export { ResourceService, type WritePreconditions } from './directory/resource-service.js';
export { ERROR_CODES, type ErrorCode, isMeridianError, MeridianError, type MeridianErrorOptions } from './errors/meridian-error.js';
export { type DomainEvent, EVENT_TYPES, type EventResourceType, type EventType, resourceEventType } from './events/domain-event.js';
export type { AttributePath, CompareOperator, CompareValue, Filter } from './filter/ast.js';
export { type FilterLimits, formatPath, parseAttributePath, parseScimFilter } from './filter/parse.js';
export type {
  AdminStore,
  IssuedToken,
  Page,
  PageRequest,
  TokenRequest,
} from './ports/admin.js';
export { type Clock, systemClock } from './ports/clock.js';
export type {
  DirectoryStore,
  DirectoryTransaction,
  PasswordHasher,
  ResourcePage,
  ResourceQuery,
  ResourceWrite,
} from './ports/directory.js';
export { etagOf, type GroupMember, type GroupMembership, type ScimResource } from './scim/resource.js';
export { type JsonObject, parseResourceInput, type ResourceInput } from './scim/resource-input.js';
export { coreSchemaOf, type ResourceKind, type ResourceShape, resourceShapes } from './scim/resource-types.js';
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
export { AdminService, checkPage, parseScopes } from './tenancy/admin-service.js';
export {
  type Actor,
  type ApiToken,
  type Community,
  hasScope,
  isValidSlug,
  type Principal,
  type RequestContext,
  SCOPES,
  type Scope,
  type Tenant,
} from './tenancy/model.js';

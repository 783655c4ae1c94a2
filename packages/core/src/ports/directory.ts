import type { DomainEvent } from '../events/domain-event.js';
import type { Filter } from '../filter/ast.js';
import type { GroupMember, ScimResource } from '../scim/resource.js';
import type { JsonObject } from '../scim/resource-input.js';
import type { ResourceKind } from '../scim/resource-types.js';
import type { RequestContext } from '../tenancy/model.js';
import type { Page, PageRequest } from './admin.js';

/** A query for a page of resources. */
export interface ResourceQuery {
  filter?: Filter;
  /** 1-based index of the first result (RFC 7644 §3.4.2.4). */
  startIndex: number;
  count: number;
}

/** A page of resources and the total number that match. */
export interface ResourcePage {
  totalResults: number;
  resources: ScimResource[];
}

/** Values of a resource to insert or overwrite. */
export interface ResourceWrite {
  externalId: string | undefined;
  attributes: JsonObject;
  extensionSchemas: string[];
  members: GroupMember[];
  /** An argon2id hash, never a clear password. */
  passwordHash?: string | undefined;
}

/** Reads and writes inside one database transaction scoped to one tenant. */
export interface DirectoryTransaction {
  find(kind: ResourceKind, id: string): Promise<ScimResource | undefined>;
  /** Ids among `ids` that exist in the tenant, with their kind and display name. */
  resolveMembers(ids: string[]): Promise<GroupMember[]>;
  insert(kind: ResourceKind, values: ResourceWrite): Promise<ScimResource>;
  update(kind: ResourceKind, id: string, expectedVersion: number, values: ResourceWrite): Promise<ScimResource>;
  remove(kind: ResourceKind, id: string): Promise<void>;
  /** Appends the event to the outbox and the audit log, in this transaction. */
  record(event: DomainEvent, context: RequestContext): Promise<void>;
}

/** The tenant-scoped store of SCIM resources. */
export interface DirectoryStore {
  /** Runs `work` in one transaction; nothing is written when it throws. */
  transaction<T>(tenantId: string, work: (tx: DirectoryTransaction) => Promise<T>): Promise<T>;
  get(tenantId: string, kind: ResourceKind, id: string): Promise<ScimResource | undefined>;
  list(tenantId: string, kind: ResourceKind, query: ResourceQuery): Promise<ResourcePage>;
  /** A keyset-paginated page in creation order, for cursor clients (GraphQL). */
  page(tenantId: string, kind: ResourceKind, page: PageRequest, filter?: Filter): Promise<Page<ScimResource>>;
}

/** Hashes passwords (argon2id in production). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
}

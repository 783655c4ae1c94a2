import type { DomainEvent } from '../events/domain-event.js';
import type { AttributePath, Filter } from '../filter/ast.js';
import type { MemberChange } from '../patch/apply.js';
import type { GroupMember, ScimResource } from '../scim/resource.js';
import type { JsonObject } from '../scim/resource-input.js';
import type { ResourceKind, ResourceShape } from '../scim/resource-types.js';
import type { RequestContext } from '../tenancy/model.js';
import type { Page, PageRequest } from './admin.js';

/** Which computed parts of a resource to load: members of a group, groups of a user. */
export interface ResourceIncludes {
  members: boolean;
  groups: boolean;
}

/** A query for a page of resources. */
export interface ResourceQuery {
  filter?: Filter;
  /** 1-based index of the first result (RFC 7644 §3.4.2.4); ignored in cursor mode. */
  startIndex: number;
  count: number;
  /** RFC 7644 §3.4.2.3; the order is then made total by the resource id. */
  sortBy?: AttributePath;
  sortOrder?: 'ascending' | 'descending';
  /** RFC 9865: cursor mode when set; '' asks for the first page. */
  cursor?: string;
  include?: ResourceIncludes;
  /** The tenant's shape of the resource kind (custom extensions); the built-in shape when absent. */
  shape?: ResourceShape;
}

/** A page of resources and the total number that match. */
export interface ResourcePage {
  totalResults: number;
  resources: ScimResource[];
  /** RFC 9865: the cursor of the next page, in cursor mode, when there is one. */
  nextCursor?: string;
  /** In cursor mode: the cursor after each resource, in the same order (Relay edges). */
  cursors?: string[];
}

/** What a member change did, for the audit diff. */
export interface MemberChangeResult {
  added: string[];
  removed: string[];
}

/** Values of a resource to insert or overwrite. */
export interface ResourceWrite {
  externalId: string | undefined;
  attributes: JsonObject;
  extensionSchemas: string[];
  /** A group's complete member list; undefined leaves members untouched. */
  members?: GroupMember[] | undefined;
  /** An argon2id hash, never a clear password. */
  passwordHash?: string | undefined;
}

/** Reads and writes inside one database transaction scoped to one tenant. */
export interface DirectoryTransaction {
  /** Locks and reads a resource; members and groups load unless `include` says otherwise. */
  find(kind: ResourceKind, id: string, include?: ResourceIncludes): Promise<ScimResource | undefined>;
  /** Ids among `ids` that exist in the tenant, with their kind and display name. */
  resolveMembers(ids: string[]): Promise<GroupMember[]>;
  insert(kind: ResourceKind, values: ResourceWrite): Promise<ScimResource>;
  /**
   * Overwrites a resource; `values.members` undefined leaves a group's members as they are. The result carries no
   * members; a User's carries its groups (which a write of the User cannot change), so no second read is needed.
   */
  update(kind: ResourceKind, id: string, expectedVersion: number, values: ResourceWrite): Promise<ScimResource>;
  /**
   * Applies member changes to a group row by row, so that the cost does not
   * depend on the group's size. Added ids must exist in the tenant; a group
   * may not contain itself, directly or through nested groups.
   */
  changeMembers(groupId: string, changes: MemberChange[]): Promise<MemberChangeResult>;
  remove(kind: ResourceKind, id: string): Promise<void>;
  /**
   * True when another resource of the tenant holds `value` at the JSON path
   * `keys` (RFC 7643 `uniqueness: server`). Serialised per value for the
   * rest of the transaction, so two writers cannot both take it.
   */
  valueTaken(kind: ResourceKind, keys: string[], value: string | number | boolean, caseExact: boolean, exceptId?: string): Promise<boolean>;
  /** Appends the event to the outbox and the audit log, in this transaction. */
  record(event: DomainEvent, context: RequestContext): Promise<void>;
}

/** The tenant-scoped store of SCIM resources. */
export interface DirectoryStore {
  /** Runs `work` in one transaction; nothing is written when it throws. */
  transaction<T>(tenantId: string, work: (tx: DirectoryTransaction) => Promise<T>): Promise<T>;
  get(tenantId: string, kind: ResourceKind, id: string, include?: ResourceIncludes): Promise<ScimResource | undefined>;
  /** The resources among `ids` that exist in the tenant, in one read (batch loads); order is not kept. */
  getMany(tenantId: string, kind: ResourceKind, ids: readonly string[], include?: ResourceIncludes): Promise<ScimResource[]>;
  list(tenantId: string, kind: ResourceKind, query: ResourceQuery): Promise<ResourcePage>;
  /** A keyset-paginated page in creation order, for cursor clients (GraphQL). */
  page(tenantId: string, kind: ResourceKind, page: PageRequest, filter?: Filter): Promise<Page<ScimResource>>;
  /**
   * A keyset page of one group's direct members, ordered by member id, in one read whose cost does not grow with the
   * group (large groups, GraphQL `Group.memberPage`); undefined when the tenant has no such group. Optional for test
   * doubles that never page members; the PostgreSQL store has it.
   */
  memberPage?(tenantId: string, groupId: string, page: PageRequest, search?: string): Promise<Page<GroupMember> | undefined>;
}

/** Hashes passwords (argon2id in production). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
}

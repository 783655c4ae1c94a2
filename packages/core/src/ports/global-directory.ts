import type { AccountValues, ConflictCandidate, DirectoryRules, PersonAttribute } from '../community/global-directory.js';
import type { Filter } from '../filter/ast.js';
import type { RequestContext } from '../tenancy/model.js';
import type { Page } from './admin.js';

/** A person of a community's global directory: their accounts' attributes, resolved. */
export interface Person {
  id: string;
  communityId: string;
  /** Resolved values; `manager` is absent here (see `managerPersonId`). */
  values: Omit<AccountValues, 'manager'>;
  /** The manager's person, when the manager's account is in the directory too. */
  managerPersonId: string | null;
  /** True when any linked account is active. */
  active: boolean;
  /** Per attribute, the account whose value won. */
  sources: Partial<Record<PersonAttribute, { tenantId: string; userId: string }>>;
  /** Attributes an admin pinned to one tenant's value. */
  pinned: Partial<Record<PersonAttribute, string>>;
  conflictCount: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** How an account came to its person. */
export type AccountLink = 'none' | 'manual' | `rule:${string}`;

/** An account (a tenant's User) as the global directory holds it. */
export interface DirectoryAccount {
  tenantId: string;
  userId: string;
  communityId: string;
  personId: string;
  link: AccountLink;
  /** Linked or unlinked by hand: the rules leave it where it is. */
  pinned: boolean;
  userName: string;
  externalId: string | null;
  displayName: string | null;
  active: boolean;
  values: AccountValues;
  userVersion: number;
  linkedAt: Date;
  updatedAt: Date;
}

/** A direct group membership of an account. */
export interface DirectoryAccountGroup {
  tenantId: string;
  userId: string;
  groupId: string;
  displayName: string;
}

/** Something the rules could not settle, listed for an admin. */
export interface DirectoryConflict {
  id: string;
  communityId: string;
  /** `attribute`: a person's accounts disagree; `correlation`: an account matches several people. */
  kind: 'attribute' | 'correlation';
  personId: string | null;
  attribute: PersonAttribute | null;
  /** For a correlation conflict: the account. */
  tenantId: string | null;
  userId: string | null;
  /** Attribute conflicts: the values proposed; correlation conflicts: `{ personId, rule }` per matching person. */
  candidates: ConflictCandidate[] | { personId: string; rule: string }[];
  createdAt: Date;
  updatedAt: Date;
}

/** Sort keys of the people list; each is made total by the person id. */
export type PeopleSortField = 'displayName' | 'familyName' | 'employeeNumber' | 'createdAt' | 'updatedAt';

/** Structured people filters; all given ones must hold. */
export interface PeopleWhere {
  /** Case-insensitive substring of the display name. */
  displayNameContains?: string;
  familyName?: string;
  department?: string;
  title?: string;
  employeeNumber?: string;
  email?: string;
  active?: boolean;
  /** People with at least one account in this tenant. */
  tenantId?: string;
  hasConflicts?: boolean;
}

/** A query for a page of people. */
export interface PeopleQuery {
  first: number;
  after?: string | undefined;
  where?: PeopleWhere;
  /** A SCIM filter over the person's attributes (docs/global-directory.md). */
  filter?: Filter;
  sortBy: PeopleSortField;
  descending: boolean;
  /** Counting every match costs a scan: only when the caller asks for it. */
  withTotalCount: boolean;
}

/** What the projector did with one inbox entry. */
export interface ProjectionStep {
  tenantId: string;
  kind: 'User' | 'Group';
  resourceId: string;
}

/** The global directory's storage: read side, admin writes, and the projection. */
export interface GlobalDirectoryStore {
  rules(communityId: string): Promise<DirectoryRules>;
  /** Stores the rules and queues every account of the community for projection again. */
  setRules(communityId: string, rules: DirectoryRules, context: RequestContext): Promise<DirectoryRules>;
  people(communityId: string, query: PeopleQuery): Promise<Page<Person>>;
  peopleByIds(communityId: string, ids: readonly string[]): Promise<Person[]>;
  /** Linked accounts of each person, by person id. */
  accountsOfPeople(communityId: string, personIds: readonly string[]): Promise<DirectoryAccount[]>;
  /** Accounts by tenant and user id. */
  accounts(communityId: string, refs: readonly { tenantId: string; userId: string }[]): Promise<DirectoryAccount[]>;
  groupsOfAccounts(communityId: string, refs: readonly { tenantId: string; userId: string }[]): Promise<DirectoryAccountGroup[]>;
  conflicts(
    communityId: string,
    page: { first: number; after?: string | undefined; personIds?: readonly string[] },
  ): Promise<Page<DirectoryConflict>>;
  /** Links an account to a person by hand (pinned); audited. Answers the person. */
  link(communityId: string, account: { tenantId: string; userId: string }, personId: string, context: RequestContext): Promise<string>;
  /** Takes an account out of its person into one of its own, by hand (pinned); audited. Answers the new person's id. */
  unlink(communityId: string, account: { tenantId: string; userId: string }, context: RequestContext): Promise<string>;
  /** Hands an account back to the correlation rules; audited. */
  release(communityId: string, account: { tenantId: string; userId: string }, context: RequestContext): Promise<void>;
  /** Pins (or, with null, unpins) the tenant whose value a person's attribute takes; audited. */
  pin(communityId: string, personId: string, attribute: PersonAttribute, tenantId: string | null, context: RequestContext): Promise<void>;
  /** Projects up to `limit` due inbox entries; answers what it projected. */
  projectDue(limit: number, now: Date): Promise<ProjectionStep[]>;
  /** Queues every User and Group of a community's tenants for projection (a rebuild); answers how many. */
  enqueueCommunity(communityId: string, now: Date): Promise<number>;
  /** Inbox entries waiting, per community, for status and tests. */
  pendingProjections(communityId?: string): Promise<number>;
}

import type { AccountValues, ConflictCandidate, DirectoryRules, PersonAttribute } from '../community/global-directory.js';
import type { Filter } from '../filter/ast.js';
import type { RequestContext, Tenant } from '../tenancy/model.js';
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
  /** What the page brings along, read in the same statement (a page and what it shows, one round trip). */
  include?: { accounts?: boolean; groups?: boolean; managers?: boolean };
}

/** What a page of people brought along (`PeopleQuery.include`): the accounts of its people, their groups, their managers. */
export interface PeopleRelated {
  accounts?: DirectoryAccount[];
  /** The offices (tenants) of those accounts. */
  tenants?: Tenant[];
  groups?: DirectoryAccountGroup[];
  managers?: Person[];
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
  people(communityId: string, query: PeopleQuery): Promise<Page<Person> & { related?: PeopleRelated }>;
  peopleByIds(communityId: string, ids: readonly string[]): Promise<Person[]>;
  /** Linked accounts of each person, by person id. */
  accountsOfPeople(communityId: string, personIds: readonly string[]): Promise<DirectoryAccount[]>;
  /** Accounts by tenant and user id. */
  accounts(communityId: string, refs: readonly { tenantId: string; userId: string }[]): Promise<DirectoryAccount[]>;
  /** An account by its tenant and userName (case-insensitive, as SCIM compares it). */
  accountByUserName(communityId: string, tenantId: string, userName: string): Promise<DirectoryAccount | undefined>;
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

/** A push of a community's global directory to an external directory, through a connector. Secrets are never part of it. */
export interface DirectoryExport {
  id: string;
  communityId: string;
  name: string;
  /** The connector kind (`scim`, `memory`, ...). */
  kind: string;
  config: Record<string, unknown>;
  /** Names of the secrets stored (sealed) for it; never their values. */
  secretNames: string[];
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Where the people of a community stand at one export. */
export interface DirectoryExportCounts {
  exportId: string;
  name: string;
  pending: number;
  synced: number;
  deleted: number;
  failed: number;
}

/** One person to bring to one export: its current state, or undefined when the person is gone. */
export interface ExportWork {
  exportId: string;
  communityId: string;
  personId: string;
  remoteId: string | null;
  pushedHash: string | null;
  attempts: number;
  person: Person | undefined;
}

/** What pushing one person did. */
export interface ExportOutcome {
  status: 'synced' | 'deleted' | 'failed' | 'retry';
  remoteId: string | null;
  pushedHash: string | null;
  /** The person version pushed; the link stays pending when the person changed since. */
  pushedVersion: number | null;
  lastError: string | null;
  /** For `retry`: when to try again. */
  notBefore?: Date;
}

/** Storage of directory exports and their per-person links. */
export interface DirectoryExportStore {
  /** Creates an export and queues every person of the community for it; audited. */
  createExport(
    communityId: string,
    values: { name: string; kind: string; config: Record<string, unknown>; secretNames: string[]; sealedSecrets: string | null },
    context: RequestContext,
  ): Promise<DirectoryExport>;
  listExports(communityId: string): Promise<DirectoryExport[]>;
  /** By id or name; undefined when the community has none such. */
  findExport(communityId: string, idOrName: string): Promise<DirectoryExport | undefined>;
  /** Removes an export and its links (remote objects stay); audited. */
  deleteExport(communityId: string, exportId: string, context: RequestContext): Promise<void>;
  exportCounts(communityId: string): Promise<DirectoryExportCounts[]>;
  /** The export and its sealed secrets, for the exporter (platform work). */
  exportForPush(exportId: string): Promise<{ export: DirectoryExport; sealedSecrets: string | null } | undefined>;
  /** Leases up to `limit` due pending links (other exporters skip them for `leaseMs`) with their persons' current state. */
  claimExportWork(limit: number, now: Date, leaseMs: number): Promise<ExportWork[]>;
  recordExport(exportId: string, personId: string, outcome: ExportOutcome, now: Date): Promise<void>;
}

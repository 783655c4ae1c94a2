import type { AccountFacts, AccountValues, DirectoryAccount, DirectoryExport, Person, PersonAttribute } from '@meridian/core';
import { pgArray } from '../orm/sql.js';

/** The global directory's rows as PostgreSQL returns them, their column lists, and their core types. */

/** An account named by its tenant and user id. */
export type AccountRef = { tenantId: string; userId: string };

export interface PersonRow {
  id: string;
  community_id: string;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  email: string | null;
  phone_number: string | null;
  title: string | null;
  department: string | null;
  organization: string | null;
  division: string | null;
  cost_center: string | null;
  employee_number: string | null;
  manager_person_id: string | null;
  active: boolean;
  sources: Person['sources'];
  pinned: Person['pinned'];
  conflict_count: number;
  version: number;
  created_at: Date;
  updated_at: Date;
  sort_key?: string | Date;
}

export interface AccountRow {
  tenant_id: string;
  user_id: string;
  community_id: string;
  person_id: string;
  link: string;
  pinned: boolean;
  user_name: string;
  external_id: string | null;
  display_name: string | null;
  active: boolean;
  account_values: AccountValues;
  user_version: number;
  linked_at: Date;
  updated_at: Date;
}

export interface ExportRow {
  id: string;
  community_id: string;
  name: string;
  kind: string;
  config: Record<string, unknown>;
  secret_names: string[] | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

/** Person attributes and their columns (the manager is stored as its person). */
export const PERSON_COLUMNS: [Exclude<PersonAttribute, 'manager'>, string][] = [
  ['displayName', 'display_name'],
  ['givenName', 'given_name'],
  ['familyName', 'family_name'],
  ['email', 'email'],
  ['phoneNumber', 'phone_number'],
  ['title', 'title'],
  ['department', 'department'],
  ['organization', 'organization'],
  ['division', 'division'],
  ['costCenter', 'cost_center'],
  ['employeeNumber', 'employee_number'],
];

export const PERSON_SELECT = `p.id, p.community_id, ${PERSON_COLUMNS.map(([, c]) => `p.${c}`).join(', ')}, p.manager_person_id, p.active,
  p.sources, p.pinned, p.conflict_count, p.version, p.created_at, p.updated_at`;

export const ACCOUNT_SELECT = `a.tenant_id, a.user_id, a.community_id, a.person_id, a.link, a.pinned, a.user_name, a.external_id,
  a.display_name, a.active, a.account_values, a.user_version, a.linked_at, a.updated_at`;

export const EXPORT_SELECT = 'id, community_id, name, kind, config, secret_names, enabled, created_at, updated_at';

export function toPerson(row: PersonRow): Person {
  const values: Person['values'] = {};
  for (const [attribute, column] of PERSON_COLUMNS) {
    const value = row[column as keyof PersonRow];
    if (typeof value === 'string') values[attribute] = value;
  }
  return {
    id: row.id,
    communityId: row.community_id,
    values,
    managerPersonId: row.manager_person_id,
    active: row.active,
    sources: row.sources ?? {},
    pinned: row.pinned ?? {},
    conflictCount: row.conflict_count,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toAccount(row: AccountRow): DirectoryAccount {
  return {
    tenantId: row.tenant_id,
    userId: row.user_id,
    communityId: row.community_id,
    personId: row.person_id,
    link: row.link as DirectoryAccount['link'],
    pinned: row.pinned,
    userName: row.user_name,
    externalId: row.external_id,
    displayName: row.display_name,
    active: row.active,
    values: row.account_values ?? {},
    userVersion: row.user_version,
    linkedAt: new Date(row.linked_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function toFacts(account: DirectoryAccount): AccountFacts {
  return {
    tenantId: account.tenantId,
    userId: account.userId,
    userName: account.userName,
    externalId: account.externalId,
    active: account.active,
    values: account.values,
    linkedAt: account.linkedAt,
  };
}

export function toExport(row: ExportRow): DirectoryExport {
  return {
    id: row.id,
    communityId: row.community_id,
    name: row.name,
    kind: row.kind,
    config: row.config ?? {},
    secretNames: row.secret_names ?? [],
    enabled: row.enabled,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Two uuid arrays, bound as single parameters, for `unnest(?::uuid[], ?::uuid[])`. */
export function refArrays(refs: readonly AccountRef[]): [string, string] {
  return [pgArray(refs.map((r) => r.tenantId)), pgArray(refs.map((r) => r.userId))];
}

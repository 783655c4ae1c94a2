import { type JsonObject, SCHEMA, type ScimResource } from '@meridian/core';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { EmailNode, MembershipNode } from './objects.js';

// An office's user account (SCIM User) as GraphQL shows it (issue 6). `tenant`, `manager`
// and `replicationStatus` are field resolvers (account-resolver.ts), batched per request.

@ObjectType('PhoneNumber', { description: 'A phone number of an account.' })
export class PhoneNumberNode {
  @Field(() => String)
  value!: string;

  @Field(() => String, { nullable: true })
  type!: string | null;

  @Field(() => Boolean)
  primary!: boolean;
}

@ObjectType('Account', { description: 'A user account of one tenant (a SCIM User).' })
export class AccountNode {
  @Field(() => ID)
  id!: string;

  /** The tenant the account belongs to; `Account.tenant` and `Account.manager` resolve through it. */
  tenantId!: string;

  /** The enterprise extension's `manager.value`: an account id of the same tenant. */
  managerId!: string | null;

  @Field(() => String)
  userName!: string;

  @Field(() => String, { nullable: true })
  displayName!: string | null;

  @Field(() => String, { nullable: true })
  givenName!: string | null;

  @Field(() => String, { nullable: true })
  familyName!: string | null;

  @Field(() => String, { nullable: true })
  externalId!: string | null;

  @Field(() => Boolean)
  active!: boolean;

  @Field(() => [EmailNode])
  emails!: EmailNode[];

  @Field(() => [PhoneNumberNode])
  phoneNumbers!: PhoneNumberNode[];

  @Field(() => String, { nullable: true })
  title!: string | null;

  @Field(() => String, { nullable: true, description: 'Enterprise extension employeeNumber.' })
  employeeNumber!: string | null;

  @Field(() => String, { nullable: true, description: 'Enterprise extension department.' })
  department!: string | null;

  @Field(() => String, { nullable: true, description: 'Enterprise extension costCenter.' })
  costCenter!: string | null;

  @Field(() => String, { nullable: true, description: 'Enterprise extension organization.' })
  organization!: string | null;

  @Field(() => String, { nullable: true, description: 'Enterprise extension division.' })
  division!: string | null;

  @Field(() => [MembershipNode], { description: 'Groups the account belongs to, directly or through nested groups.' })
  groups!: MembershipNode[];

  @Field(() => Int, { description: 'Bumped by every write; pass it as `ifVersion` to change only what you last read.' })
  version!: number;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const objects = (v: unknown): JsonObject[] =>
  Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as JsonObject[]) : [];

/**
 * The GraphQL Account of a SCIM User of `tenantId`. Every resolver that
 * returns an account builds it here, so `tenant` and `manager` resolve for
 * any of them.
 */
export function toAccountNode(resource: ScimResource, tenantId: string): AccountNode {
  const a = resource.attributes;
  const name = (a.name ?? {}) as JsonObject;
  const enterprise = (a[SCHEMA.enterpriseUser] ?? {}) as JsonObject;
  const manager = (enterprise.manager ?? {}) as JsonObject;
  return Object.assign(new AccountNode(), {
    id: resource.id,
    tenantId,
    managerId: text(manager.value),
    userName: String(a.userName),
    displayName: text(a.displayName),
    givenName: text(name.givenName),
    familyName: text(name.familyName),
    externalId: resource.externalId ?? null,
    active: a.active !== false,
    emails: objects(a.emails).map((e) => ({ value: String(e.value ?? ''), type: text(e.type), primary: e.primary === true })),
    phoneNumbers: objects(a.phoneNumbers).map((p) => ({ value: String(p.value ?? ''), type: text(p.type), primary: p.primary === true })),
    title: text(a.title),
    employeeNumber: text(enterprise.employeeNumber),
    department: text(enterprise.department),
    costCenter: text(enterprise.costCenter),
    organization: text(enterprise.organization),
    division: text(enterprise.division),
    groups: resource.groups.map((g) => ({ id: g.value, displayName: g.display, direct: g.type === 'direct' })),
    version: resource.version,
    createdAt: resource.created,
    updatedAt: resource.lastModified,
  });
}

export enum AccountSortField {
  CREATED = 'created',
  UPDATED = 'updated',
  USER_NAME = 'userName',
  DISPLAY_NAME = 'displayName',
  FAMILY_NAME = 'familyName',
  EMPLOYEE_NUMBER = 'employeeNumber',
  DEPARTMENT = 'department',
}
registerEnumType(AccountSortField, { name: 'AccountSortField', description: 'How accounts are ordered; ties are broken by id.' });

export enum SortOrder {
  ASCENDING = 'ascending',
  DESCENDING = 'descending',
}
registerEnumType(SortOrder, { name: 'SortOrder' });

@InputType({ description: 'Account conditions, all of which must hold (AND); combined with `scimFilter` when both are given.' })
export class AccountFilter {
  @Field(() => String, { nullable: true, description: 'Exactly this userName (case-insensitive).' })
  userName?: string | null;

  @Field(() => String, { nullable: true, description: 'displayName contains this text (case-insensitive).' })
  displayNameContains?: string | null;

  @Field(() => String, { nullable: true })
  familyName?: string | null;

  @Field(() => String, { nullable: true, description: 'Any of the email addresses.' })
  email?: string | null;

  @Field(() => String, { nullable: true })
  department?: string | null;

  @Field(() => String, { nullable: true })
  employeeNumber?: string | null;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;
}

@InputType({ description: 'A joiner: the account to create.' })
export class AccountInput {
  @Field(() => String)
  userName!: string;

  @Field(() => String, { nullable: true })
  displayName?: string | null;

  @Field(() => String, { nullable: true })
  givenName?: string | null;

  @Field(() => String, { nullable: true })
  familyName?: string | null;

  @Field(() => [String], { nullable: true, description: 'Work email addresses; the first is primary.' })
  emails?: string[] | null;

  @Field(() => String, { nullable: true, description: 'A work phone number.' })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  title?: string | null;

  @Field(() => String, { nullable: true })
  department?: string | null;

  @Field(() => String, { nullable: true })
  employeeNumber?: string | null;

  @Field(() => ID, { nullable: true, description: "The manager's account id, in the same tenant." })
  manager?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'True unless given.' })
  active?: boolean | null;

  @Field(() => String, { nullable: true })
  externalId?: string | null;
}

@InputType({ description: 'A mover: only the fields given change; a field given as null is removed.' })
export class AccountChangeInput {
  @Field(() => String, { nullable: true })
  userName?: string | null;

  @Field(() => String, { nullable: true })
  displayName?: string | null;

  @Field(() => String, { nullable: true })
  givenName?: string | null;

  @Field(() => String, { nullable: true })
  familyName?: string | null;

  @Field(() => [String], { nullable: true, description: 'Replaces the email addresses; the first is primary.' })
  emails?: string[] | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  title?: string | null;

  @Field(() => String, { nullable: true })
  department?: string | null;

  @Field(() => String, { nullable: true })
  employeeNumber?: string | null;

  @Field(() => ID, { nullable: true })
  manager?: string | null;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;

  @Field(() => String, { nullable: true })
  externalId?: string | null;
}

@InputType({ description: "An end user's change to their own account; only what the tenant's self-service policy lists may change." })
export class MeInput {
  @Field(() => String, { nullable: true })
  displayName?: string | null;

  @Field(() => String, { nullable: true })
  nickName?: string | null;

  @Field(() => String, { nullable: true })
  givenName?: string | null;

  @Field(() => String, { nullable: true })
  familyName?: string | null;

  @Field(() => String, { nullable: true })
  title?: string | null;

  @Field(() => String, { nullable: true, description: 'A work phone number.' })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  preferredLanguage?: string | null;

  @Field(() => String, { nullable: true })
  locale?: string | null;

  @Field(() => String, { nullable: true })
  timezone?: string | null;
}

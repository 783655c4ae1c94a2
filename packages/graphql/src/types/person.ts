import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo, type TenantNode } from './objects.js';

// The global directory's types (issue 6, docs/global-directory.md). Plain data built by the
// people resolver from core values; fields that need another load are field resolvers there.

/** Every member is a value of the GraphQL enum `PersonSortField`: clients name them, TypeScript rarely does. @public */
export enum PersonSortField {
  DISPLAY_NAME = 'displayName',
  FAMILY_NAME = 'familyName',
  EMPLOYEE_NUMBER = 'employeeNumber',
  CREATED = 'createdAt',
  UPDATED = 'updatedAt',
}
registerEnumType(PersonSortField, { name: 'PersonSortField', description: 'How people are ordered; ties are broken by id.' });

@InputType({ description: 'Structured filters of `people`; every one given must hold (and the SCIM `filter` too).' })
export class PersonFilter {
  @Field(() => String, { nullable: true, description: 'Case-insensitive substring of the display name.' })
  displayNameContains?: string;

  @Field(() => String, { nullable: true, description: 'Exact family name, case-insensitive.' })
  familyName?: string;

  @Field(() => String, { nullable: true })
  department?: string;

  @Field(() => String, { nullable: true })
  title?: string;

  @Field(() => String, { nullable: true })
  employeeNumber?: string;

  @Field(() => String, { nullable: true })
  email?: string;

  @Field(() => Boolean, { nullable: true, description: 'Active: at least one linked account is active.' })
  active?: boolean;

  @Field(() => String, { nullable: true, description: 'People with an account in this tenant (slug or id).' })
  tenant?: string;

  @Field(() => Boolean, { nullable: true, description: 'People with (true) or without (false) unresolved conflicts.' })
  hasConflicts?: boolean;
}

@ObjectType('AttributeSource', { description: "Where a person's attribute value comes from." })
export class AttributeSourceNode {
  @Field(() => String)
  attribute!: string;

  @Field(() => ID, { description: 'The account whose value won.' })
  accountId!: string;

  tenantId!: string;

  @Field(() => Boolean, { description: 'An admin pinned this attribute to the tenant.' })
  pinned!: boolean;
}

@ObjectType('Person', { description: "A person of a community's global directory: their accounts in every office, resolved." })
export class PersonNode {
  @Field(() => ID)
  id!: string;

  communityId!: string;

  managerPersonId!: string | null;

  /**
   * What the page that listed this person read with it (its accounts, their
   * groups, its manager): the field resolvers answer from it without a
   * loader or a promise. Undefined for a person reached any other way.
   */
  shown?: { accounts: LinkedAccountNode[]; groups: LinkedGroupNode[] | undefined; manager: PersonNode | null | undefined };

  @Field(() => String, { nullable: true, description: 'Empty while the accounts disagree (see conflicts).' })
  displayName!: string | null;

  @Field(() => String, { nullable: true })
  givenName!: string | null;

  @Field(() => String, { nullable: true })
  familyName!: string | null;

  @Field(() => String, { nullable: true, description: 'The primary (or work) email, lower-cased.' })
  email!: string | null;

  @Field(() => String, { nullable: true })
  phoneNumber!: string | null;

  @Field(() => String, { nullable: true })
  title!: string | null;

  @Field(() => String, { nullable: true })
  department!: string | null;

  @Field(() => String, { nullable: true })
  organization!: string | null;

  @Field(() => String, { nullable: true })
  division!: string | null;

  @Field(() => String, { nullable: true })
  costCenter!: string | null;

  @Field(() => String, { nullable: true })
  employeeNumber!: string | null;

  @Field(() => Boolean, { description: 'At least one linked account is active.' })
  active!: boolean;

  @Field(() => [AttributeSourceNode])
  sources!: AttributeSourceNode[];

  @Field(() => Int, { description: 'Unresolved conflicts of this person.' })
  conflictCount!: number;

  @Field(() => Int)
  version!: number;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType('LinkedGroup', { description: 'A group an account of a person belongs to directly.' })
export class LinkedGroupNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  displayName!: string;

  @Field(() => ID, { description: 'The account that is the member.' })
  accountId!: string;

  tenantId!: string;
}

@ObjectType('LinkedAccount', { description: "An office's account as the global directory holds it, and how it is linked to its person." })
export class LinkedAccountNode {
  @Field(() => ID, { description: "The account's User id in its tenant." })
  id!: string;

  tenantId!: string;

  communityId!: string;

  personId!: string;

  /** Its office, when the page that listed it read the office with it (the `tenant` field answers from it). */
  office?: TenantNode;

  @Field(() => String)
  userName!: string;

  @Field(() => String, { nullable: true })
  displayName!: string | null;

  @Field(() => String, { nullable: true })
  externalId!: string | null;

  @Field(() => Boolean)
  active!: boolean;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true })
  employeeNumber!: string | null;

  @Field(() => String, { nullable: true })
  department!: string | null;

  @Field(() => String, { nullable: true })
  title!: string | null;

  @Field(() => String, {
    description: 'How it is linked: rule:<attribute> (a correlation rule), manual (an admin), or none (it stands alone).',
  })
  link!: string;

  @Field(() => Boolean, { description: 'Linked or unlinked by hand: the rules leave it where it is.' })
  pinned!: boolean;

  @Field(() => Date)
  linkedAt!: Date;
}

@ObjectType('ConflictCandidate', { description: 'A value an account proposes, or a person an account matches.' })
export class ConflictCandidateNode {
  @Field(() => ID, { nullable: true, description: 'Attribute conflicts: the account proposing the value.' })
  accountId!: string | null;

  tenantId!: string | null;

  @Field(() => String, { nullable: true })
  value!: string | null;

  @Field(() => ID, { nullable: true, description: 'Correlation conflicts: a person the account matches.' })
  personId!: string | null;

  @Field(() => String, { nullable: true, description: 'Correlation conflicts: the rule that matched that person.' })
  rule!: string | null;
}

@ObjectType('DirectoryConflict', { description: 'Something the rules could not settle; an admin resolves it (pinAttribute, linkAccount).' })
export class ConflictNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'attribute (the accounts disagree) or correlation (an account matches several people).' })
  kind!: string;

  @Field(() => ID, { nullable: true })
  personId!: string | null;

  @Field(() => String, { nullable: true })
  attribute!: string | null;

  @Field(() => ID, { nullable: true, description: 'Correlation conflicts: the account.' })
  accountId!: string | null;

  tenantId!: string | null;

  @Field(() => [ConflictCandidateNode])
  candidates!: ConflictCandidateNode[];

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType('AuthorityRule', { description: 'The tenants whose value of an attribute wins, first with a value first.' })
export class AuthorityRuleNode {
  @Field(() => String)
  attribute!: string;

  @Field(() => [String], { description: 'Tenant slugs.' })
  tenants!: string[];
}

@InputType('AuthorityRuleInput')
export class AuthorityRuleInput {
  @Field(() => String, { description: 'A person attribute, e.g. department.' })
  attribute!: string;

  @Field(() => [String], { description: 'Tenant slugs or ids, in order of precedence.' })
  tenants!: string[];
}

@ObjectType('DirectoryRules', { description: "A community's correlation and source-of-authority rules." })
export class DirectoryRulesNode {
  @Field(() => [String], {
    description: 'Attributes that link accounts to one person, in order: employeeNumber, email, externalId, userName.',
  })
  correlation!: string[];

  @Field(() => [AuthorityRuleNode])
  authority!: AuthorityRuleNode[];
}

@ObjectType('PersonEdge')
export class PersonEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => PersonNode)
  node!: PersonNode;
}

@ObjectType('PersonConnection')
export class PersonConnection {
  /** Counted only when asked for. */
  @Field(() => Int, { description: 'Every person matching the filters (counted only when selected).' })
  totalCount!: number;

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => [PersonEdge])
  edges!: PersonEdge[];
}

@ObjectType('DirectoryConflictEdge')
export class ConflictEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => ConflictNode)
  node!: ConflictNode;
}

@ObjectType('DirectoryConflictConnection')
export class ConflictConnection {
  @Field(() => Int)
  totalCount!: number;

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => [ConflictEdge])
  edges!: ConflictEdge[];
}

import { Field, ID, Int, ObjectType } from 'type-graphql';

// GraphQL object types are their own classes (STYLE.md): plain data built by
// the resolvers from core values, never ORM entities.

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType('Community', { description: 'A community of interest: offices that share a global directory.' })
export class CommunityNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  slug!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType('Tenant', { description: 'A tenant: one office or organisation of a community.' })
export class TenantNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  slug!: string;

  @Field(() => String)
  name!: string;

  communityId!: string;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType('Email', { description: 'An email address of an account.' })
export class EmailNode {
  @Field(() => String)
  value!: string;

  @Field(() => String, { nullable: true })
  type!: string | null;

  @Field(() => Boolean)
  primary!: boolean;
}

@ObjectType('GroupMembership', { description: 'A group an account belongs to.' })
export class MembershipNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  displayName!: string;

  @Field(() => Boolean, { description: 'False when the membership comes through a nested group.' })
  direct!: boolean;
}

@ObjectType('GroupMember', { description: 'A member of a group.' })
export class MemberNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'User or Group.' })
  type!: string;

  @Field(() => String, { nullable: true })
  display!: string | null;
}

@ObjectType('Group', { description: 'A group of a tenant (SCIM Group).' })
export class GroupNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  displayName!: string;

  @Field(() => String, { nullable: true })
  externalId!: string | null;

  @Field(() => [MemberNode], {
    description: 'Every direct member at once, in the order they were added. For a large group use `memberPage`, which pages them.',
  })
  members!: MemberNode[];

  /** The tenant of the group (for `memberPage`); not a field. */
  tenantId!: string;

  @Field(() => Int)
  version!: number;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType('ApiToken', { description: 'An API token, without its secret.' })
export class TokenNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'The first characters of the secret, to recognise it.' })
  prefix!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => String, { nullable: true, description: 'The role the token was issued for (its scopes are that role’s), if any.' })
  role!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;
}

@ObjectType('IssuedToken', { description: 'A newly issued token: the secret is shown this once and never stored.' })
export class IssuedTokenNode {
  @Field(() => String)
  token!: string;

  @Field(() => TokenNode)
  record!: TokenNode;
}

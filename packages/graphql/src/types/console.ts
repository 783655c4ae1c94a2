import { Field, ID, InputType, ObjectType } from 'type-graphql';

// The admin console's contract (issue 21, ADR 0034): who the caller is and what it may do, and the roles granted to office accounts.

@ObjectType('ConsoleRoleGrant', {
  description: 'A role granted to an office account for the admin console; it acts at the role’s level (docs/console.md).',
})
export class ConsoleRoleGrantNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'The role: platform_admin, community_admin, office_admin, hr_reader, hr_provider or auditor.' })
  role!: string;

  @Field(() => String, {
    description: "Where the role acts: 'tenant' (the account's tenant), 'community' (its tenant's community) or 'platform'.",
  })
  level!: string;

  @Field(() => ID, { description: 'The id of the office account (User) the role is granted to.' })
  userId!: string;

  @Field(() => String, { description: 'The userName of the office account.' })
  userName!: string;

  tenantId!: string;

  communityId!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => String, { description: 'Who granted it (the audit actor).' })
  createdBy!: string;
}

@InputType({ description: 'A console role to grant to an office account.' })
export class GrantConsoleRoleInput {
  @Field(() => String, { description: 'The account’s tenant: slug (in the caller’s community), <community>/<slug>, or id.' })
  tenant!: string;

  @Field(() => String, { description: 'The account: its userName or id.' })
  user!: string;

  @Field(() => String, { description: 'platform_admin, community_admin, office_admin, hr_reader, hr_provider or auditor.' })
  role!: string;
}

@ObjectType('Viewer', { description: 'The caller: what it acts as, where, and what it may do (the console shows only that).' })
export class ViewerNode {
  @Field(() => String, {
    nullable: true,
    description:
      "The role the request acts as: a console token's Meridian-Role (end_user without one), an API token's role; null for a token of explicit scopes matching no role.",
  })
  actingRole!: string | null;

  @Field(() => String, { description: "Where the caller acts: 'platform', 'community' or 'tenant'." })
  level!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => [String], {
    description: 'The actions (docs/security.md) the caller may take somewhere in its reach, such as directory.read or token.manage.',
  })
  allowedActions!: string[];

  tenantId!: string | null;

  communityId!: string | null;

  /** The console sign-in's office account, when the token is a console token. */
  console!: { tenantId: string; userId: string } | null;
}

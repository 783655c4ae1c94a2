import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

// Single sign-on (issue 15): relying parties of a community and the grants people gave them.

@ObjectType('RelyingParty', { description: "An OpenID Connect client of a community's issuer (docs/sso.md)." })
export class RelyingPartyNode {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  communityId!: string;

  @Field(() => String, { description: 'The OAuth 2.0 client_id.' })
  clientId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: '`confidential` (has a client secret) or `public` (PKCE only).' })
  clientType!: string;

  @Field(() => [String])
  redirectUris!: string[];

  @Field(() => [String])
  postLogoutRedirectUris!: string[];

  @Field(() => [String], { description: 'The claims it may receive.' })
  claims!: string[];

  @Field(() => [String], { description: 'The part of `claims` a person may refuse on the consent page.' })
  optionalClaims!: string[];

  @Field(() => Int, { description: 'How long, in seconds, it may keep released attributes (use case 3.5).' })
  maxCacheSeconds!: number;

  @Field(() => String, { description: '`required` (the person is asked) or `implicit`.' })
  consent!: string;

  @Field(() => String, { description: '`public` or `pairwise` subject identifiers.' })
  subjectType!: string;

  @Field(() => Boolean)
  clientCredentials!: boolean;

  @Field(() => String, { nullable: true })
  backchannelLogoutUri!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType('RelyingPartyRegistration', { description: 'A registration with its client secret, shown this once.' })
export class RelyingPartyRegistrationNode {
  @Field(() => RelyingPartyNode)
  relyingParty!: RelyingPartyNode;

  @Field(() => String, { nullable: true, description: 'Null for a public client. Meridian keeps only its hash.' })
  clientSecret!: string | null;
}

@ObjectType('SsoGrant', { description: 'What a person agreed to release to a relying party.' })
export class SsoGrantNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  clientId!: string;

  @Field(() => String)
  relyingPartyName!: string;

  @Field(() => ID, { description: 'The person in the global directory.' })
  personId!: string;

  @Field(() => [String])
  scopes!: string[];

  @Field(() => [String], { description: 'The claims the person consented to.' })
  claims!: string[];

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;
}

@InputType('RelyingPartyInput', { description: 'A relying party to register in a community.' })
export class RelyingPartyInput {
  @Field(() => String, { description: 'Community slug or id.' })
  community!: string;

  @Field(() => String)
  name!: string;

  @Field(() => [String])
  redirectUris!: string[];

  @Field(() => [String], { nullable: true })
  postLogoutRedirectUris?: string[] | null;

  @Field(() => [String], { description: 'Claim names or SCIM attribute paths it may receive.' })
  claims!: string[];

  @Field(() => [String], { nullable: true, description: 'The claims a person may refuse (among `claims`).' })
  optionalClaims?: string[] | null;

  @Field(() => Int, { nullable: true, description: 'Maximum cache period in seconds (default 86400).' })
  maxCacheSeconds?: number | null;

  @Field(() => String, { nullable: true, description: '`required` (default) or `implicit`.' })
  consent?: string | null;

  @Field(() => String, { nullable: true, description: '`public` (default) or `pairwise`.' })
  subjectType?: string | null;

  @Field(() => String, { nullable: true, description: '`confidential` (default) or `public`.' })
  clientType?: string | null;

  @Field(() => Boolean, { nullable: true })
  clientCredentials?: boolean | null;

  @Field(() => String, { nullable: true })
  backchannelLogoutUri?: string | null;
}

@InputType('RelyingPartyChanges', { description: 'Changes to a registration; absent fields keep their value.' })
export class RelyingPartyChangesInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => [String], { nullable: true })
  redirectUris?: string[] | null;

  @Field(() => [String], { nullable: true })
  postLogoutRedirectUris?: string[] | null;

  @Field(() => [String], { nullable: true })
  claims?: string[] | null;

  @Field(() => [String], { nullable: true })
  optionalClaims?: string[] | null;

  @Field(() => Int, { nullable: true })
  maxCacheSeconds?: number | null;

  @Field(() => String, { nullable: true })
  consent?: string | null;

  @Field(() => String, { nullable: true })
  subjectType?: string | null;

  @Field(() => Boolean, { nullable: true })
  clientCredentials?: boolean | null;

  @Field(() => String, { nullable: true })
  backchannelLogoutUri?: string | null;
}

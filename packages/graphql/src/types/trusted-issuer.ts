import { Field, ID, InputType, ObjectType } from 'type-graphql';

@ObjectType('RoleMapping', { description: 'A value of the roles claim and the Meridian role it grants.' })
export class RoleMappingNode {
  @Field(() => String)
  claimValue!: string;

  @Field(() => String)
  role!: string;
}

@ObjectType('TrustedIssuer', { description: 'An OAuth 2.0 / OIDC issuer whose JWT bearer tokens act in one tenant or one community.' })
export class TrustedIssuerNode {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { nullable: true, description: 'The tenant its tokens act in (tenant issuers).' })
  tenantId!: string | null;

  @Field(() => ID, { nullable: true, description: 'The community its tokens act across (community issuers).' })
  communityId!: string | null;

  @Field(() => String, { description: 'The exact `iss` of its tokens.' })
  issuer!: string;

  @Field(() => String, { description: 'The `aud` its tokens must carry.' })
  audience!: string;

  @Field(() => String)
  jwksUri!: string;

  @Field(() => [String], { description: 'Allowed JWS algorithms; never none or HS*.' })
  algorithms!: string[];

  @Field(() => String)
  rolesClaim!: string;

  @Field(() => String, { nullable: true, description: 'Community issuers: the claim naming the tenant of tenant-level roles.' })
  tenantClaim!: string | null;

  @Field(() => String, { description: 'The claim holding the userName of an end user.' })
  subjectClaim!: string;

  @Field(() => [RoleMappingNode])
  roleMap!: RoleMappingNode[];

  @Field(() => Date)
  createdAt!: Date;
}

@InputType('RoleMappingInput', { description: 'A value of the roles claim and the Meridian role it grants.' })
export class RoleMappingInput {
  @Field(() => String)
  claimValue!: string;

  @Field(() => String, { description: 'A Meridian role, e.g. provisioner or hr_reader.' })
  role!: string;
}

@InputType('TrustedIssuerInput', { description: 'A JWT issuer to trust for one tenant or one community (give exactly one).' })
export class TrustedIssuerInput {
  @Field(() => String, { nullable: true, description: 'Tenant slug or id.' })
  tenant?: string | null;

  @Field(() => String, { nullable: true, description: 'Community slug or id.' })
  community?: string | null;

  @Field(() => String, { description: 'The exact `iss` of the tokens (an https URL).' })
  issuer!: string;

  @Field(() => String, { description: 'The `aud` the tokens must carry.' })
  audience!: string;

  @Field(() => String, { description: 'Where the issuer publishes its keys (an https URL).' })
  jwksUri!: string;

  @Field(() => [String], { nullable: true, description: 'Allowed algorithms; default RS256, ES256, EdDSA.' })
  algorithms?: string[] | null;

  @Field(() => String, { nullable: true, description: 'Default roles.' })
  rolesClaim?: string | null;

  @Field(() => String, { nullable: true, description: 'Community issuers only; default tenant.' })
  tenantClaim?: string | null;

  @Field(() => String, { nullable: true, description: 'Default sub.' })
  subjectClaim?: string | null;

  @Field(() => [RoleMappingInput], { nullable: true, description: 'Default: role names in the claim grant themselves.' })
  roleMap?: RoleMappingInput[] | null;
}
